/*
 * test_idmap.c - unit tests of daemon/idmap.c: put/get/del, replacing,
 * the reserved key 0, growth, iteration, and backward-shift deletion in
 * probe runs that collide and wrap around the end of the table; then a
 * long deterministic random walk checked against a plain reference array.
 * Single-threaded cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "idmap.h"

#define TI_VAL(k) ((void *)(uintptr_t)(((uint64_t)(k) << 4) | 8))

/* The slot a key lands in when alone in a new table (16 slots): its
 * home.  Found through the public fields rather than by copying the hash,
 * so the test does not depend on the mixing function. */
static size_t ti_home(int64_t key)
{
	struct idmap m = {0};
	assert_int_equal(idmap_put(&m, key, TI_VAL(key)), 0);
	assert_int_equal(m.cap, 16);
	size_t home = m.cap;
	for (size_t i = 0; i < m.cap; i++)
		if (m.keys[i] == key)
			home = i;
	idmap_free(&m);
	assert_true(home < 16);
	return home;
}

/* Every key of a map must be found, with its value, and iteration must
 * visit exactly `count` distinct keys. */
static void ti_check_consistent(const struct idmap *m)
{
	size_t pos = 0, n = 0;
	int64_t k;
	void *v;
	while (idmap_next(m, &pos, &k, &v)) {
		assert_int_not_equal(k, 0);
		assert_ptr_equal(idmap_get(m, k), v);
		n++;
	}
	assert_int_equal(n, m->count);
	assert_true(m->cap == 0 || m->count * 2 <= m->cap);
}

static void test_empty(void **state)
{
	struct idmap m = {0};
	assert_null(idmap_get(&m, 1));
	assert_null(idmap_del(&m, 1));
	size_t pos = 0;
	int64_t k;
	void *v;
	assert_int_equal(idmap_next(&m, &pos, &k, &v), 0);
	/* Key 0 marks empty slots: refused, never found. */
	assert_int_equal(idmap_put(&m, 0, TI_VAL(1)), -1);
	assert_int_equal(m.count, 0);
	assert_int_equal(idmap_put(&m, 5, TI_VAL(5)), 0);
	assert_null(idmap_get(&m, 0));
	assert_null(idmap_del(&m, 0));
	assert_int_equal(m.count, 1);
	idmap_free(&m);
	assert_null(m.keys);
	assert_int_equal(m.cap, 0);
	assert_int_equal(m.count, 0);
	idmap_free(&m); /* twice is harmless */
}

static void test_put_get_del(void **state)
{
	struct idmap m = {0};
	assert_int_equal(idmap_put(&m, 1, TI_VAL(1)), 0);
	assert_int_equal(idmap_put(&m, -1, TI_VAL(2)), 0);
	assert_int_equal(idmap_put(&m, INT64_MAX, TI_VAL(3)), 0);
	assert_int_equal(idmap_put(&m, INT64_MIN, TI_VAL(4)), 0);
	assert_int_equal(m.count, 4);
	assert_ptr_equal(idmap_get(&m, 1), TI_VAL(1));
	assert_ptr_equal(idmap_get(&m, -1), TI_VAL(2));
	assert_ptr_equal(idmap_get(&m, INT64_MAX), TI_VAL(3));
	assert_ptr_equal(idmap_get(&m, INT64_MIN), TI_VAL(4));
	assert_null(idmap_get(&m, 2));

	/* Replacing keeps the count. */
	assert_int_equal(idmap_put(&m, 1, TI_VAL(9)), 0);
	assert_int_equal(m.count, 4);
	assert_ptr_equal(idmap_get(&m, 1), TI_VAL(9));

	assert_ptr_equal(idmap_del(&m, 1), TI_VAL(9));
	assert_null(idmap_get(&m, 1));
	assert_null(idmap_del(&m, 1));
	assert_int_equal(m.count, 3);
	ti_check_consistent(&m);

	/* A NULL value is stored (get cannot tell it from absent). */
	assert_int_equal(idmap_put(&m, 77, NULL), 0);
	assert_int_equal(m.count, 4);
	assert_null(idmap_del(&m, 77));
	assert_int_equal(m.count, 3);

	/* Usable again after free. */
	idmap_free(&m);
	assert_int_equal(idmap_put(&m, 3, TI_VAL(3)), 0);
	assert_ptr_equal(idmap_get(&m, 3), TI_VAL(3));
	idmap_free(&m);
}

static void test_growth(void **state)
{
	struct idmap m = {0};
	size_t last_cap = 0;
	for (int64_t k = 1; k <= 5000; k++) {
		assert_int_equal(idmap_put(&m, k, TI_VAL(k)), 0);
		assert_int_equal(m.count, (size_t)k);
		/* A power of two, at most half full. */
		assert_true(m.cap >= 16 && (m.cap & (m.cap - 1)) == 0);
		assert_true(m.count * 2 <= m.cap);
		assert_true(m.cap >= last_cap);
		last_cap = m.cap;
	}
	for (int64_t k = 1; k <= 5000; k++)
		assert_ptr_equal(idmap_get(&m, k), TI_VAL(k));
	assert_null(idmap_get(&m, 5001));
	ti_check_consistent(&m);

	/* Delete the odd ones, then the rest. */
	for (int64_t k = 1; k <= 5000; k += 2)
		assert_ptr_equal(idmap_del(&m, k), TI_VAL(k));
	assert_int_equal(m.count, 2500);
	for (int64_t k = 1; k <= 5000; k++)
		assert_ptr_equal(idmap_get(&m, k), k % 2 ? NULL : TI_VAL(k));
	ti_check_consistent(&m);
	for (int64_t k = 2; k <= 5000; k += 2)
		assert_ptr_equal(idmap_del(&m, k), TI_VAL(k));
	assert_int_equal(m.count, 0);
	for (size_t i = 0; i < m.cap; i++)
		assert_int_equal(m.keys[i], 0);
	idmap_free(&m);
}

static void test_iteration(void **state)
{
	struct idmap m = {0};
	static const int64_t keys[] = {3, -7, 1000000007, INT64_MIN, 42, 8};
	size_t n = sizeof keys / sizeof keys[0];
	for (size_t i = 0; i < n; i++)
		assert_int_equal(idmap_put(&m, keys[i], TI_VAL(i + 1)), 0);
	unsigned seen = 0;
	size_t pos = 0, visits = 0;
	int64_t k;
	void *v;
	while (idmap_next(&m, &pos, &k, &v)) {
		visits++;
		size_t i = 0;
		while (i < n && keys[i] != k)
			i++;
		assert_true(i < n);
		assert_ptr_equal(v, TI_VAL(i + 1));
		assert_false(seen & (1u << i));
		seen |= 1u << i;
	}
	assert_int_equal(visits, n);
	assert_int_equal(seen, (1u << n) - 1);
	/* Finished iteration stays finished. */
	assert_int_equal(idmap_next(&m, &pos, &k, &v), 0);
	idmap_free(&m);
}

/* Keys (searched from `from` upward) whose home in a 16-slot table is
 * `home`. */
static void ti_keys_at(size_t home, int64_t from, int64_t *out, size_t n)
{
	for (int64_t k = from; n > 0; k++) {
		if (ti_home(k) == home) {
			*out++ = k;
			n--;
		}
	}
}

/* Slot of key k in m, or cap if absent. */
static size_t ti_slot(const struct idmap *m, int64_t k)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] == k)
			return i;
	return m->cap;
}

/* Collisions that wrap around the end of the table: deleting any one
 * member must leave every other member findable, with no gap before it. */
static void test_backward_shift_wrap(void **state)
{
	int64_t at15[3], at0[2], at2[1];
	ti_keys_at(15, 1, at15, 3);
	ti_keys_at(0, 1, at0, 2);
	ti_keys_at(2, 1, at2, 1);
	int64_t all[6] = {at15[0], at15[1], at15[2], at0[0], at0[1], at2[0]};

	/* Delete each member in turn from a freshly built table. */
	for (size_t victim = 0; victim < 6; victim++) {
		struct idmap m = {0};
		for (size_t i = 0; i < 6; i++)
			assert_int_equal(idmap_put(&m, all[i], TI_VAL(all[i])),
					 0);
		assert_int_equal(m.cap, 16);
		/* Run: 15:a 0:b 1:c 2:d 3:e 4:f (the home-2 key is pushed). */
		assert_int_equal(ti_slot(&m, at15[0]), 15);
		assert_int_equal(ti_slot(&m, at15[2]), 1);
		assert_int_equal(ti_slot(&m, at2[0]), 4);

		assert_ptr_equal(idmap_del(&m, all[victim]), TI_VAL(all[victim]));
		assert_int_equal(m.count, 5);
		for (size_t i = 0; i < 6; i++)
			assert_ptr_equal(idmap_get(&m, all[i]),
					 i == victim ? NULL : TI_VAL(all[i]));
		/* Five keys from slot 15 on, without a hole: 15,0,1,2,3. */
		static const size_t run[] = {15, 0, 1, 2, 3};
		for (size_t i = 0; i < 5; i++)
			assert_int_not_equal(m.keys[run[i]], 0);
		assert_int_equal(m.keys[4], 0);
		/* The home-2 key sits at its home or later, never before it. */
		if (victim != 5) {
			size_t s = ti_slot(&m, at2[0]);
			assert_true(s >= 2 && s <= 3);
		}
		ti_check_consistent(&m);
		idmap_free(&m);
	}

	/* Delete them all, in an order that empties the run's start first. */
	struct idmap m = {0};
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(idmap_put(&m, all[i], TI_VAL(all[i])), 0);
	for (size_t i = 0; i < 6; i++) {
		assert_ptr_equal(idmap_del(&m, all[i]), TI_VAL(all[i]));
		for (size_t j = i + 1; j < 6; j++)
			assert_ptr_equal(idmap_get(&m, all[j]), TI_VAL(all[j]));
	}
	assert_int_equal(m.count, 0);
	idmap_free(&m);
}

/* A key whose home is inside the hole's run but after the hole stays. */
static void test_backward_shift_keeps_home(void **state)
{
	int64_t at5[2], at6[2];
	ti_keys_at(5, 1, at5, 2);
	ti_keys_at(6, 1, at6, 2);
	struct idmap m = {0};
	/* 5:a5 6:b5 7:a6 8:b6 */
	assert_int_equal(idmap_put(&m, at5[0], TI_VAL(1)), 0);
	assert_int_equal(idmap_put(&m, at5[1], TI_VAL(2)), 0);
	assert_int_equal(idmap_put(&m, at6[0], TI_VAL(3)), 0);
	assert_int_equal(idmap_put(&m, at6[1], TI_VAL(4)), 0);
	assert_int_equal(ti_slot(&m, at5[1]), 6);
	assert_int_equal(ti_slot(&m, at6[1]), 8);
	/* Removing b5 at 6 pulls a6 home to 6 and b6 to 7. */
	assert_ptr_equal(idmap_del(&m, at5[1]), TI_VAL(2));
	assert_int_equal(ti_slot(&m, at6[0]), 6);
	assert_int_equal(ti_slot(&m, at6[1]), 7);
	assert_int_equal(m.keys[8], 0);
	/* Removing a5 at 5 moves nothing: the others are at or past home. */
	assert_ptr_equal(idmap_del(&m, at5[0]), TI_VAL(1));
	assert_int_equal(m.keys[5], 0);
	assert_int_equal(ti_slot(&m, at6[0]), 6);
	assert_int_equal(ti_slot(&m, at6[1]), 7);
	assert_ptr_equal(idmap_get(&m, at6[1]), TI_VAL(4));
	/* A miss walks the run and stops at the gap. */
	assert_null(idmap_get(&m, at5[0]));
	assert_null(idmap_del(&m, at5[1]));
	idmap_free(&m);
}

/* Deterministic random walk against a reference table.  Keys come from a
 * small pool (including negatives and the extremes) so collisions,
 * replacements and deletions of absent keys are frequent. */
static uint64_t ti_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define TI_POOL 700

static void test_random_against_reference(void **state)
{
	int64_t pool[TI_POOL];
	void *ref[TI_POOL];
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < TI_POOL; i++) {
		int64_t k;
		if (i < 400)
			k = (int64_t)i + 1;
		else if (i < 500)
			k = -(int64_t)(i - 399);
		else if (i == 500)
			k = INT64_MAX;
		else if (i == 501)
			k = INT64_MIN;
		else
			k = (int64_t)(ti_rand(&seed) >> 1) | 1;
		pool[i] = k;
		ref[i] = NULL;
	}
	/* The random keys could repeat a small one: make them unique. */
	for (size_t i = 502; i < TI_POOL; i++)
		for (size_t j = 0; j < i; j++)
			if (pool[j] == pool[i])
				pool[i] = pool[i] ^ ((int64_t)1 << 40);

	struct idmap m = {0};
	size_t count = 0;
	for (int round = 0; round < 60000; round++) {
		size_t i = (size_t)(ti_rand(&seed) % TI_POOL);
		unsigned op = (unsigned)(ti_rand(&seed) % 10);
		/* Phases that mostly fill, then mostly drain, the table. */
		bool filling = (round / 5000) % 2 == 0;
		if (op < (filling ? 6u : 3u)) {
			void *v = (void *)(uintptr_t)(((uint64_t)round << 4) | 8);
			assert_int_equal(idmap_put(&m, pool[i], v), 0);
			if (!ref[i])
				count++;
			ref[i] = v;
		} else if (op < 8) {
			assert_ptr_equal(idmap_del(&m, pool[i]), ref[i]);
			if (ref[i])
				count--;
			ref[i] = NULL;
		} else {
			assert_ptr_equal(idmap_get(&m, pool[i]), ref[i]);
		}
		assert_int_equal(m.count, count);
		if (round % 1000 == 999) {
			for (size_t j = 0; j < TI_POOL; j++)
				assert_ptr_equal(idmap_get(&m, pool[j]), ref[j]);
			ti_check_consistent(&m);
		}
	}
	idmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_iteration),
		cmocka_unit_test(test_backward_shift_wrap),
		cmocka_unit_test(test_backward_shift_keeps_home),
		cmocka_unit_test(test_random_against_reference),
	};
	return cmocka_run_group_tests_name("idmap", tests, NULL, NULL);
}
