/*
 * test_queue.c - unit tests of daemon/queue.c: FIFO order, the eventfd
 * readable exactly while items may wait (and after a kick or a close),
 * queue_take_some leaving the rest readable and in order, pushes refused
 * once closed, queue_take_one waking on push and on close,
 * and many producers against one poll()ing consumer losing nothing.
 * Threads are joined, and every wait is a poll() with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <poll.h>
#include <pthread.h>

#include "queue.h"

/* Long enough for a loaded machine; only reached when a wake-up is lost. */
#define TQ_DEADLINE_MS 10000
#define TQ_PRODUCERS 4
#define TQ_PER_PRODUCER 20000

struct tq_item {
	int producer;
	int n;
	struct queue_link link;
};

static bool tq_readable(const struct queue *q, int timeout_ms)
{
	struct pollfd p = {.fd = queue_fd(q), .events = POLLIN};
	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void tq_order_and_fd(void **state)
{
	(void)state;
	struct queue q;
	assert_int_equal(queue_init(&q, QUEUE_FD, NULL), 0);
	assert_true(queue_fd(&q) >= 0);
	assert_false(tq_readable(&q, 0));
	assert_null(queue_take_all(&q, NULL));

	struct tq_item it[3];
	for (int i = 0; i < 3; i++) {
		it[i].n = i;
		assert_true(queue_push(&q, &it[i].link));
	}
	assert_int_equal(queue_len(&q), 3);
	assert_true(tq_readable(&q, 0));

	bool closed = true;
	struct queue_link *l = queue_take_all(&q, &closed);
	assert_false(closed);
	for (int i = 0; i < 3; i++) {
		assert_non_null(l);
		assert_int_equal(QUEUE_ITEM(l, struct tq_item, link)->n, i);
		l = l->next;
	}
	assert_null(l);
	/* Taking cleared the wake-up. */
	assert_false(tq_readable(&q, 0));
	assert_int_equal(queue_len(&q), 0);
	queue_destroy(&q);
}

/* A consumer that takes a few at a time (the main thread's engine events)
 * finds the eventfd readable until the last is taken, and every item once,
 * in order, also when pushes come between its takes. */
static void tq_take_some(void **state)
{
	(void)state;
	struct queue q;
	assert_int_equal(queue_init(&q, QUEUE_FD, NULL), 0);
	assert_null(queue_take_some(&q, 2));
	assert_false(tq_readable(&q, 0));

	struct tq_item it[6];
	for (int i = 0; i < 6; i++)
		it[i].n = i;
	for (int i = 0; i < 5; i++)
		assert_true(queue_push(&q, &it[i].link));
	int next = 0;
	for (int take = 0; take < 3; take++) {
		if (take == 1)
			assert_true(queue_push(&q, &it[5].link));
		struct queue_link *l = queue_take_some(&q, 2);
		for (int k = 0; k < 2; k++) {
			assert_non_null(l);
			assert_int_equal(QUEUE_ITEM(l, struct tq_item, link)->n, next++);
			l = l->next;
		}
		assert_null(l);
		assert_int_equal(queue_len(&q), (size_t)((take ? 6 : 5) - next));
		/* Readable exactly while items are left. */
		assert_int_equal(tq_readable(&q, 0), next < 6);
	}
	assert_null(queue_take_some(&q, 2));
	/* Emptied: the tail went too, so a push starts a new list. */
	assert_true(queue_push(&q, &it[0].link));
	assert_true(tq_readable(&q, 0));
	assert_ptr_equal(queue_take_some(&q, 8), &it[0].link);
	assert_null(it[0].link.next);
	queue_destroy(&q);
}

static void tq_kick_and_close(void **state)
{
	(void)state;
	struct queue q;
	assert_int_equal(queue_init(&q, QUEUE_FD, NULL), 0);
	queue_kick(&q);
	assert_true(tq_readable(&q, 0));
	assert_null(queue_take_all(&q, NULL));
	assert_false(tq_readable(&q, 0));

	struct tq_item a = {.n = 1}, b = {.n = 2};
	assert_true(queue_push(&q, &a.link));
	queue_close(&q);
	assert_true(tq_readable(&q, 0));
	assert_false(queue_push(&q, &b.link));
	/* What was queued before the close is still handed over. */
	bool closed = false;
	struct queue_link *l = queue_take_all(&q, &closed);
	assert_true(closed);
	assert_ptr_equal(l, &a.link);
	assert_null(l->next);
	queue_destroy(&q);
}

static void tq_without_fd(void **state)
{
	(void)state;
	struct queue q;
	assert_int_equal(queue_init(&q, 0, NULL), 0);
	assert_int_equal(queue_fd(&q), -1);
	struct tq_item a = {.n = 7};
	assert_true(queue_push(&q, &a.link));
	queue_kick(&q); /* nothing to kick: harmless */
	struct queue_link *l = queue_take_one(&q);
	assert_ptr_equal(l, &a.link);
	assert_int_equal(queue_len(&q), 0);
	queue_destroy(&q);
}

struct tq_sleeper {
	struct queue *q;
	struct queue *done;        /* reports what take_one returned */
	struct tq_item report;
	struct queue_link *got;
};

static void *tq_sleep_main(void *arg)
{
	struct tq_sleeper *s = arg;
	s->got = queue_take_one(s->q);
	queue_push(s->done, &s->report.link);
	return NULL;
}

/* A sleeper in take_one wakes for a push, and another for the close. */
static void tq_take_one_wakes(void **state)
{
	(void)state;
	struct queue q, done;
	assert_int_equal(queue_init(&q, 0, NULL), 0);
	assert_int_equal(queue_init(&done, QUEUE_FD, NULL), 0);
	struct tq_sleeper s = {.q = &q, .done = &done};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, tq_sleep_main, &s), 0);
	struct tq_item a = {.n = 5};
	assert_true(queue_push(&q, &a.link));
	assert_true(tq_readable(&done, TQ_DEADLINE_MS));
	pthread_join(t, NULL);
	assert_ptr_equal(s.got, &a.link);
	assert_non_null(queue_take_all(&done, NULL));

	s.got = &a.link;
	assert_int_equal(pthread_create(&t, NULL, tq_sleep_main, &s), 0);
	queue_close(&q);
	assert_true(tq_readable(&done, TQ_DEADLINE_MS));
	pthread_join(t, NULL);
	assert_null(s.got);
	queue_destroy(&q);
	queue_destroy(&done);
}

struct tq_producer {
	struct queue *q;
	int id;
	struct tq_item *items;
};

static void *tq_produce(void *arg)
{
	struct tq_producer *p = arg;
	for (int i = 0; i < TQ_PER_PRODUCER; i++) {
		p->items[i].producer = p->id;
		p->items[i].n = i;
		queue_push(p->q, &p->items[i].link);
	}
	return NULL;
}

/* Every item arrives once, each producer's in its order, and the consumer
 * never sleeps through one (each wait is bounded by the deadline). */
static void tq_producers_consumer(void **state)
{
	(void)state;
	struct queue q;
	assert_int_equal(queue_init(&q, QUEUE_FD, NULL), 0);
	struct tq_producer p[TQ_PRODUCERS];
	pthread_t t[TQ_PRODUCERS];
	for (int i = 0; i < TQ_PRODUCERS; i++) {
		p[i].q = &q;
		p[i].id = i;
		p[i].items = calloc(TQ_PER_PRODUCER, sizeof *p[i].items);
		assert_non_null(p[i].items);
		assert_int_equal(pthread_create(&t[i], NULL, tq_produce, &p[i]),
				 0);
	}
	int next[TQ_PRODUCERS] = {0};
	long total = 0;
	while (total < (long)TQ_PRODUCERS * TQ_PER_PRODUCER) {
		assert_true(tq_readable(&q, TQ_DEADLINE_MS));
		for (struct queue_link *l = queue_take_all(&q, NULL); l;
		     l = l->next) {
			struct tq_item *it = QUEUE_ITEM(l, struct tq_item, link);
			assert_int_equal(it->n, next[it->producer]);
			next[it->producer]++;
			total++;
		}
	}
	for (int i = 0; i < TQ_PRODUCERS; i++) {
		pthread_join(t[i], NULL);
		free(p[i].items);
	}
	assert_null(queue_take_all(&q, NULL));
	queue_destroy(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tq_order_and_fd),
		cmocka_unit_test(tq_take_some),
		cmocka_unit_test(tq_kick_and_close),
		cmocka_unit_test(tq_without_fd),
		cmocka_unit_test(tq_take_one_wakes),
		cmocka_unit_test(tq_producers_consumer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
