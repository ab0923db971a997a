/*
 * watchdir.c - the watch directory (see watchdir.h).  Main thread only.
 *
 * A file is taken once: its path is remembered while its create is in
 * flight, and the rename to .added or .invalid takes it out of the next
 * scan.  Only regular files named *.torrent are looked at (lstat: a link
 * is never followed, so nobody can make the daemon read a file of
 * someone else's by linking it here); the torrent belongs to the file's
 * owner and is read with that user's rights by a worker.
 */
#include "watchdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "service.h"

/* A file changed this recently may still be being written by something
 * that does not close it at once; the next event or scan takes it. */
#define WATCHDIR_SETTLE_S 2
/* At most this many files in flight; more wait for the next scan. */
#define WATCHDIR_MAX_INFLIGHT 1024

struct watchdir_item {
	char *path;
	struct watchdir_item *next;
};

struct watchdir {
	char *dir;
	struct service *svc;
	int ifd;                  /* inotify */
	int tfd;                  /* rescan timer */
	struct watchdir_item *inflight;
	size_t n_inflight;
};

struct watchdir *watchdir_open(const char *dir, struct service *svc,
			       char **err)
{
	struct watchdir *w = calloc(1, sizeof *w);
	if (!w || !(w->dir = strdup(dir))) {
		free(w);
		*err = strdup("out of memory");
		return NULL;
	}
	w->svc = svc;
	w->tfd = -1;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0 ||
	    inotify_add_watch(w->ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		if (asprintf(err, "cannot watch %s: %s", dir, strerror(errno)) < 0)
			*err = NULL;
		watchdir_free(w);
		return NULL;
	}
	w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = {.it_interval = {WATCHDIR_RESCAN_S, 0},
				 .it_value = {WATCHDIR_RESCAN_S, 0}};
	if (w->tfd < 0 || timerfd_settime(w->tfd, 0, &its, NULL) < 0) {
		if (asprintf(err, "watch directory timer: %s", strerror(errno)) < 0)
			*err = NULL;
		watchdir_free(w);
		return NULL;
	}
	return w;
}

void watchdir_free(struct watchdir *w)
{
	if (!w)
		return;
	if (w->ifd >= 0)
		close(w->ifd);
	if (w->tfd >= 0)
		close(w->tfd);
	while (w->inflight) {
		struct watchdir_item *next = w->inflight->next;
		free(w->inflight->path);
		free(w->inflight);
		w->inflight = next;
	}
	free(w->dir);
	free(w);
}

int watchdir_inotify_fd(struct watchdir *w)
{
	return w->ifd;
}

int watchdir_timer_fd(struct watchdir *w)
{
	return w->tfd;
}

static bool watchdir_is_torrent(const char *name)
{
	size_t n = strlen(name);
	return n > 8 && strcmp(name + n - 8, ".torrent") == 0 && name[0] != '.';
}

static bool watchdir_busy(struct watchdir *w, const char *path)
{
	for (struct watchdir_item *i = w->inflight; i; i = i->next)
		if (strcmp(i->path, path) == 0)
			return true;
	return false;
}

/* One file: handed to the service if it is ours to take now. */
static void watchdir_take(struct watchdir *w, const char *name, bool settled)
{
	if (!watchdir_is_torrent(name) ||
	    w->n_inflight >= WATCHDIR_MAX_INFLIGHT)
		return;
	char *path = NULL;
	if (asprintf(&path, "%s/%s", w->dir, name) < 0)
		return;
	struct stat st;
	if (watchdir_busy(w, path) || lstat(path, &st) < 0 ||
	    !S_ISREG(st.st_mode) ||
	    (!settled && time(NULL) - st.st_mtime < WATCHDIR_SETTLE_S)) {
		free(path);
		return;
	}
	struct watchdir_item *it = calloc(1, sizeof *it);
	if (!it) {
		free(path);
		return;
	}
	it->path = path;
	it->next = w->inflight;
	w->inflight = it;
	w->n_inflight++;
	log_info("watch directory: adding %s for uid %u", path,
		 (unsigned)st.st_uid);
	service_watch_create(w->svc, path, st.st_uid, st.st_gid);
}

static void watchdir_scan_all(struct watchdir *w, bool settled)
{
	DIR *d = opendir(w->dir);
	if (!d) {
		log_warn("cannot read the watch directory %s: %s", w->dir,
			 strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		watchdir_take(w, de->d_name, settled);
	closedir(d);
}

/* At start nothing of ours is writing there: every file is settled. */
void watchdir_scan(struct watchdir *w)
{
	watchdir_scan_all(w, true);
}

void watchdir_on_inotify(void *arg)
{
	struct watchdir *w = arg;
	/* Aligned for struct inotify_event; NAME_MAX + 1 fits one whole. */
	char buf[64 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(w->ifd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			/* Closed after writing or moved in whole: settled. */
			if (ev->len > 0 && !(ev->mask & IN_Q_OVERFLOW))
				watchdir_take(w, ev->name, true);
			if (ev->mask & IN_Q_OVERFLOW)
				watchdir_scan_all(w, false);
			p += sizeof *ev + ev->len;
		}
	}
}

void watchdir_on_timer(void *arg)
{
	struct watchdir *w = arg;
	uint64_t n;
	ssize_t r = read(w->tfd, &n, sizeof n);
	(void)r;
	watchdir_scan_all(w, false);
}

void watchdir_done(struct watchdir *w, const char *path, bool added)
{
	struct watchdir_item **pp = &w->inflight;
	while (*pp && strcmp((*pp)->path, path) != 0)
		pp = &(*pp)->next;
	if (*pp) {
		struct watchdir_item *it = *pp;
		*pp = it->next;
		free(it->path);
		free(it);
		w->n_inflight--;
	}
	char *to = NULL;
	if (asprintf(&to, "%s.%s", path, added ? "added" : "invalid") < 0)
		return;
	/* The rename takes it out of the next scan; if it fails the file
	 * would be added again and found a duplicate, so say so. */
	if (rename(path, to) < 0)
		log_warn("watch directory: cannot rename %s to %s: %s", path, to,
			 strerror(errno));
	else if (!added)
		log_warn("watch directory: %s is not a usable torrent; renamed "
			 "to %s", path, to);
	free(to);
}
