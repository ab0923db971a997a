/*
 * worker.h - the pool of worker threads for slow work: reading a .torrent
 * file as the requesting user, fetching a .torrent over http(s), hashing
 * local data into a new .torrent.
 *
 * The main thread submits jobs and collects finished ones when
 * workers_fd() is readable; jobs finish in any order.  A job carries an
 * opaque context for its submitter (the service), untouched by workers.
 */
#ifndef TPD_WORKER_H
#define TPD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue.h"

enum work_kind {
	WORK_READ_TORRENT,  /* path -> data */
	WORK_FETCH_URL,     /* url -> data */
	WORK_MAKE_TORRENT,  /* path, trackers... -> data, written to out_path */
	WORK_DELETE,        /* files under path, removed with uid's rights;
	                       error names what could not be removed */
};

struct work_job {
	enum work_kind kind;
	uid_t uid;           /* whose rights the job uses for files */
	gid_t gid;
	char *path;
	char *url;
	size_t max_bytes;    /* READ/FETCH: refuse anything larger */
	long timeout_s;      /* FETCH: total time allowed */

	/* MAKE */
	char **trackers;
	size_t n_trackers;
	int piece_size;
	int version;         /* 1 v1, 2 v2, 3 hybrid */
	bool private_flag;
	char *comment;
	char *creator;
	char *out_path;      /* where the .torrent is written (atomically) */

	/* DELETE: relative to path; never followed out through a link */
	char **files;
	size_t n_files;
	/* DELETE: waits (at most timeout_ms) until nothing writes the files
	 * any more, so that no write in flight recreates a deleted file;
	 * NULL deletes at once.  0 when settled, -1 on timeout. */
	int (*settle)(int64_t id, int timeout_ms);
	int64_t settle_id;

	/* result: data on success, else error (a sentence for the user) */
	unsigned char *data;
	size_t len;
	char *error;

	void *ctx;           /* the submitter's; freed by ctx_free */
	void (*ctx_free)(void *ctx);
	struct queue_link link;    /* in the job or the done queue */
};

struct workers;

struct workers *workers_start(int threads, char **err);
int workers_fd(struct workers *w);
/* Takes ownership of the job. */
void workers_submit(struct workers *w, struct work_job *job);
/* Finished jobs linked through their `link`
 * (QUEUE_ITEM(l, struct work_job, link)); NULL when none. */
struct queue_link *workers_take_done(struct workers *w);
/* Stops the threads (running jobs finish first) and frees queued jobs. */
void workers_stop(struct workers *w);

struct work_job *work_job_new(enum work_kind kind);
void work_job_free(struct work_job *job);

#endif
