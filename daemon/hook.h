/*
 * hook.h - the --on-complete program: run once when a torrent completes,
 * without a shell, as the torrent's owner when tpd is root, with the
 * torrent described in TPD_TORRENT_ID, _NAME, _HASH, _DIR, _LABELS and
 * _OWNER; its output goes to tpd's log and it is killed (with everything
 * it started in its process group) after --hook-timeout seconds.
 *
 * hook_run() is called on the main thread and returns at once: each run
 * has a thread of its own that waits for the program, so a slow hook
 * never holds up patrons or the engine.
 */
#ifndef TPD_HOOK_H
#define TPD_HOOK_H

#include <stdint.h>
#include <sys/types.h>

struct hook_torrent {
	int64_t id;
	const char *name;
	const char *info_hash;
	const char *dir;
	const char *labels;   /* comma-separated */
	uid_t owner;
};

/* Starts prog for t; problems are logged, never fatal. */
void hook_run(const char *prog, long timeout_s, const struct hook_torrent *t);

#endif
