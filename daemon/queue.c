/*
 * queue.c - the queue between threads (see queue.h).
 *
 * Runs on: whichever thread calls it; every field is under q->lock but
 * the eventfd, whose counter the kernel keeps.
 *
 * The eventfd is written only on the empty -> non-empty step (and by
 * queue_kick / queue_close), and read before the list is taken: a writer
 * that finds the list non-empty knows a reader is yet to take it.  A
 * wake-up may find the list empty (its items went with an earlier take);
 * a wake-up is never missing for an item.
 */
#include "queue.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void queue_signal(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof one);
	(void)n; /* EAGAIN: the counter is already non-zero, nothing lost */
}

static void queue_clear(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof v);
	(void)n; /* EAGAIN: nothing was signalled */
}

int queue_init(struct queue *q, unsigned flags, char **err)
{
	memset(q, 0, sizeof *q);
	q->fd = -1;
	if (flags & QUEUE_FD) {
		q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->fd < 0) {
			if (err && asprintf(err, "cannot make a thread queue's "
				     "eventfd: %s", strerror(errno)) < 0)
				*err = NULL;
			return -1;
		}
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	return 0;
}

void queue_destroy(struct queue *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

bool queue_push(struct queue *q, struct queue_link *l)
{
	l->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	bool was_empty = q->head == NULL;
	if (q->tail)
		q->tail->next = l;
	else
		q->head = l;
	q->tail = l;
	q->len++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (was_empty && q->fd >= 0)
		queue_signal(q->fd);
	return true;
}

struct queue_link *queue_take_all(struct queue *q, bool *closed)
{
	if (q->fd >= 0)
		queue_clear(q->fd);
	pthread_mutex_lock(&q->lock);
	struct queue_link *list = q->head;
	q->head = q->tail = NULL;
	q->len = 0;
	if (closed)
		*closed = q->closed;
	pthread_mutex_unlock(&q->lock);
	return list;
}

struct queue_link *queue_take_some(struct queue *q, size_t max)
{
	if (q->fd >= 0)
		queue_clear(q->fd);
	pthread_mutex_lock(&q->lock);
	struct queue_link *list = q->head, *last = NULL, *l = q->head;
	size_t n = 0;
	for (; l && n < max; n++) {
		last = l;
		l = l->next;
	}
	if (last)
		last->next = NULL;
	q->head = l;
	if (!l)
		q->tail = NULL;
	q->len -= n;
	pthread_mutex_unlock(&q->lock);
	if (l && q->fd >= 0)
		queue_signal(q->fd);
	return list;
}

struct queue_link *queue_take_one(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (!q->head && !q->closed)
		pthread_cond_wait(&q->cond, &q->lock);
	struct queue_link *l = NULL;
	if (!q->closed) {
		l = q->head;
		q->head = l->next;
		if (!q->head)
			q->tail = NULL;
		q->len--;
		l->next = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	return l;
}

void queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (q->fd >= 0)
		queue_signal(q->fd);
}

void queue_kick(struct queue *q)
{
	if (q->fd >= 0)
		queue_signal(q->fd);
}

int queue_fd(const struct queue *q)
{
	return q->fd;
}

size_t queue_len(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	size_t n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}
