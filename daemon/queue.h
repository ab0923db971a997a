/*
 * queue.h - the one queue between the daemon's threads: a mutex, a FIFO of
 * items linked through a member of their own, and an optional eventfd that
 * a poll() loop can wait on.
 *
 * Used by the engine's command queue (main -> engine), the engine's event
 * queue (engine -> main), the workers' job queue (main -> workers, who
 * block in queue_take_one) and done queue (workers -> main), and the
 * libtorrent alert wake-up (an item-less queue: queue_kick from
 * libtorrent's threads, queue_take_all from the engine).
 *
 * Any thread may call any function; queue_init and queue_destroy excepted,
 * which run when no other thread uses the queue.
 */
#ifndef TPD_QUEUE_H
#define TPD_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Embedded in each item; the queue never allocates. */
struct queue_link {
	struct queue_link *next;
};

/* The item holding link l, e.g. QUEUE_ITEM(l, struct work_job, link). */
#define QUEUE_ITEM(l, type, member) \
	((type *)(void *)((char *)(l) - offsetof(type, member)))

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* queue_take_one's sleepers */
	struct queue_link *head, *tail;
	size_t len;
	bool closed;
	int fd;                    /* eventfd, or -1 without QUEUE_FD */
};

enum queue_flag {
	QUEUE_FD = 1u << 0,        /* with an eventfd readable while items wait */
};

/* 0, or -1 with a reason in *err (the eventfd could not be made). */
int queue_init(struct queue *q, unsigned flags, char **err);
/* Frees the queue's own resources; items still queued are the caller's
 * (take them with queue_take_all first). */
void queue_destroy(struct queue *q);

/* Appends l; false (and l untouched) once the queue is closed. */
bool queue_push(struct queue *q, struct queue_link *l);
/* Everything queued, oldest first, linked through ->next (NULL if none);
 * never blocks.  With `closed`, whether the queue was closed when taken.
 * Clears the eventfd first: an item pushed afterwards signals it again, so
 * none is left behind unsignalled. */
struct queue_link *queue_take_all(struct queue *q, bool *closed);
/* At most max items (max > 0), oldest first, linked through ->next (NULL
 * if none); never blocks.  Items left behind keep the eventfd readable,
 * so a poll() loop serves its other descriptors and comes back for them. */
struct queue_link *queue_take_some(struct queue *q, size_t max);
/* The oldest item, waiting for one; NULL once the queue is closed (items
 * still queued then stay for queue_take_all). */
struct queue_link *queue_take_one(struct queue *q);
/* Refuses further pushes and wakes every sleeper and the eventfd. */
void queue_close(struct queue *q);
/* Makes the eventfd readable without an item (a wake-up alone).  Safe
 * from any thread, including libtorrent's. */
void queue_kick(struct queue *q);
int queue_fd(const struct queue *q);
size_t queue_len(struct queue *q);

#ifdef __cplusplus
}
#endif

#endif
