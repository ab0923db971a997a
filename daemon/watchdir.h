/*
 * watchdir.h - the watch directory (--watch-dir): a .torrent dropped there
 * is added for the user who owns the file, then renamed NAME.added, or
 * NAME.invalid when it cannot be added.  inotify sees files as they are
 * closed or moved in; a rescan every WATCHDIR_RESCAN_S seconds (and one at
 * start, for files dropped while tpd was down) catches what inotify
 * missed.  Main thread.
 */
#ifndef TPD_WATCHDIR_H
#define TPD_WATCHDIR_H

#include <stdbool.h>

struct service;
struct watchdir;

#define WATCHDIR_RESCAN_S 30

/* Opens dir for watching; NULL with *err.  Nothing is read until
 * watchdir_scan(). */
struct watchdir *watchdir_open(const char *dir, struct service *svc,
			       char **err);
void watchdir_free(struct watchdir *w);
int watchdir_inotify_fd(struct watchdir *w);
int watchdir_timer_fd(struct watchdir *w);
/* inotify readable: take the new files. */
void watchdir_on_inotify(void *w);
/* The timer: rescan the whole directory. */
void watchdir_on_timer(void *w);
/* Looks at every file now (at start). */
void watchdir_scan(struct watchdir *w);
/* The service's io.watched: renames the file by the outcome. */
void watchdir_done(struct watchdir *w, const char *path, bool added);

#endif
