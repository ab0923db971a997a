/*
 * access.h - acting with a patron's file-system rights.
 *
 * The kernel decides, not us: when the daemon runs as root, the calling
 * thread switches its file-system uid/gid and supplementary groups to the
 * patron's (per-thread raw syscalls, so other threads keep root's rights),
 * performs the check or the open, and switches back.  A daemon that is not
 * root can only act for its own uid; other users are refused.
 *
 * Any thread; each call restores the thread's credentials before returning.
 */
#ifndef TPD_ACCESS_H
#define TPD_ACCESS_H

#include <sys/types.h>

/* Saved credentials of the calling thread, for access_enter/leave. */
struct access_saved {
	gid_t *groups;
	int n;
	int switched;
};

/* Makes the calling thread (and threads it starts meanwhile, which inherit
 * its credentials) use uid/gid's file-system rights until access_leave().
 * -1 with *err if the daemon cannot act for that user. */
int access_enter(uid_t uid, gid_t gid, struct access_saved *sv, char **err);
void access_leave(struct access_saved *sv);

/* 0 if uid/gid may access path with mode (R_OK, W_OK|X_OK ...), else -1
 * with a malloc'd reason in *err ("cannot write /x: Permission denied"). */
int access_check(uid_t uid, gid_t gid, const char *path, int mode,
		 char **err);
/* open(2) as uid/gid; -1 with *err on failure. */
int access_open(uid_t uid, gid_t gid, const char *path, int flags,
		mode_t mode, char **err);



/* A patron's identity looked up once, for a thread that acts for the same
 * patron again and again (the disk threads): switching then needs no
 * user-database look-up. */
struct access_ids {
	uid_t uid;
	gid_t gid;      /* the user's primary group; 65534 if unknown */
	gid_t *groups;
	int n;
};

/* Fills ids for uid (the daemon's own uid gets the daemon's own groups).
 * 0, or -1 when memory is short. */
int access_ids_load(uid_t uid, struct access_ids *ids);
void access_ids_free(struct access_ids *ids);
/* access_check with ids's groups as they are (a connection's, from the
 * kernel): no user-database look-up. */
int access_check_ids(const struct access_ids *ids, const char *path, int mode,
		     char **err);
/* Makes the calling thread use ids's file-system rights from now on (no
 * restore: for threads that only ever act for patrons).  A daemon that is
 * not root cannot switch and keeps its own rights.  0 or -1 with errno. */
int access_become(const struct access_ids *ids);

/* Writes data to path atomically as uid/gid: a temporary file beside it,
 * fsync, rename, fsync of the directory.  0 or -1 with *err. */
int access_write_file(uid_t uid, gid_t gid, const char *path,
		      const void *data, size_t len, char **err);
#endif
