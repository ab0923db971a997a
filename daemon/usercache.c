/*
 * usercache.c - the user database's answers, kept (see usercache.h).
 *
 * Runs on: any thread (workers reading and writing as a patron, the disk
 * threads starting a torrent's storage, the main thread's checks of a
 * connection without the kernel's group list); all state is under one
 * mutex, which is never held during a look-up.
 *
 * Why a cache, and why bounded and expiring: getpwuid_r and getgrouplist
 * go through NSS, which may be a network directory that answers in
 * seconds or not at all.  Asked for every torrent and every request, one
 * slow answer would hold up whichever thread asked.  Kept answers cut
 * that to one look-up per user per USERCACHE_TTL_S; the expiry bounds how
 * long a removed group membership still opens a patron's files (a minute,
 * like nscd's default for groups), and the bound keeps a daemon serving
 * many users at a fixed size.  The main thread does not rely on this: it
 * checks a connection with the groups the kernel gave at accept
 * (SO_PEERGROUPS, server.c), so a slow directory never stalls its loop.
 */
#include "usercache.h"

#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct usercache_entry {
	uid_t uid;
	gid_t base;              /* the gid asked with (or USERCACHE_PRIMARY) */
	gid_t primary;
	gid_t *groups;
	int n;
	time_t expires;
};

static pthread_mutex_t usercache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct usercache_entry usercache_entries[USERCACHE_USERS];
static size_t usercache_used;
static usercache_lookup_fn *usercache_lookup;
static time_t (*usercache_now)(void);

/* The NSS look-up, on the caller's thread. */
static int usercache_nss(uid_t uid, gid_t gid, gid_t *primary,
			 gid_t **groups, int *n)
{
	struct passwd pw, *res = NULL;
	long bufsz = sysconf(_SC_GETPW_R_SIZE_MAX);
	if (bufsz < 1024)
		bufsz = 16384;
	char *buf = malloc((size_t)bufsz);
	gid_t *g = NULL;
	*n = 0;
	if (buf && getpwuid_r(uid, &pw, buf, (size_t)bufsz, &res) == 0 && res) {
		*primary = pw.pw_gid;
		if (gid == USERCACHE_PRIMARY)
			gid = pw.pw_gid;
		int count = 64;
		for (int tries = 0; tries < 4; tries++) {
			gid_t *more = realloc(g, (size_t)count * sizeof *more);
			if (!more)
				break;
			g = more;
			int want = count;
			if (getgrouplist(pw.pw_name, gid, g, &want) >= 0) {
				*n = want;
				break;
			}
			count = want > count ? want : count * 2;
		}
	}
	free(buf);
	if (*n == 0) {
		/* Unknown user: only the group we were given. */
		if (!res)
			*primary = USERCACHE_NOGROUP;
		free(g);
		g = malloc(sizeof *g);
		if (!g)
			return -1;
		g[0] = gid == USERCACHE_PRIMARY ? *primary : gid;
		*n = 1;
	}
	*groups = g;
	return 0;
}

static time_t usercache_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void usercache_set_source(usercache_lookup_fn *lookup, time_t (*now)(void))
{
	pthread_mutex_lock(&usercache_lock);
	usercache_lookup = lookup;
	usercache_now = now;
	pthread_mutex_unlock(&usercache_lock);
}

void usercache_flush(void)
{
	pthread_mutex_lock(&usercache_lock);
	for (size_t i = 0; i < usercache_used; i++) {
		free(usercache_entries[i].groups);
		usercache_entries[i].groups = NULL;
	}
	usercache_used = 0;
	pthread_mutex_unlock(&usercache_lock);
}

static gid_t *usercache_copy(const gid_t *g, int n)
{
	gid_t *c = malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
	if (c && n > 0)
		memcpy(c, g, (size_t)n * sizeof *c);
	return c;
}

/* Under the lock: the slot for (uid, base), a free one, or the one
 * closest to expiry when all are taken. */
static struct usercache_entry *usercache_slot(uid_t uid, gid_t base)
{
	struct usercache_entry *oldest = NULL;
	for (size_t i = 0; i < usercache_used; i++) {
		struct usercache_entry *e = &usercache_entries[i];
		if (e->uid == uid && e->base == base)
			return e;
		if (!oldest || e->expires < oldest->expires)
			oldest = e;
	}
	if (usercache_used < USERCACHE_USERS)
		return &usercache_entries[usercache_used++];
	return oldest;
}

int usercache_get(uid_t uid, gid_t gid, gid_t *primary, gid_t **groups,
		  int *n)
{
	pthread_mutex_lock(&usercache_lock);
	usercache_lookup_fn *lookup = usercache_lookup ? usercache_lookup
						       : usercache_nss;
	time_t now = usercache_now ? usercache_now() : usercache_monotonic();
	for (size_t i = 0; i < usercache_used; i++) {
		struct usercache_entry *e = &usercache_entries[i];
		if (e->uid != uid || e->base != gid || e->expires <= now)
			continue;
		*groups = usercache_copy(e->groups, e->n);
		*n = e->n;
		*primary = e->primary;
		pthread_mutex_unlock(&usercache_lock);
		return *groups ? 0 : -1;
	}
	pthread_mutex_unlock(&usercache_lock);

	/* Asked without the lock: a slow answer for one user holds up
	 * only the thread that needs it. */
	gid_t prim = USERCACHE_NOGROUP, *g = NULL;
	int count = 0;
	if (lookup(uid, gid, &prim, &g, &count) < 0)
		return -1;
	gid_t *kept = usercache_copy(g, count);
	pthread_mutex_lock(&usercache_lock);
	if (kept) {
		/* Replaces an older answer for the same user, or evicts. */
		struct usercache_entry *e = usercache_slot(uid, gid);
		free(e->groups);
		e->uid = uid;
		e->base = gid;
		e->primary = prim;
		e->groups = kept;
		e->n = count;
		e->expires = now + USERCACHE_TTL_S;
	}
	pthread_mutex_unlock(&usercache_lock);
	*groups = g;
	*n = count;
	*primary = prim;
	return 0;
}
