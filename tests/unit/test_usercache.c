/*
 * test_usercache.c - unit tests of daemon/usercache.c with a fake user
 * database and a fake clock: an answer is reused until it expires, the
 * base group is part of the question, the cache never holds more than
 * USERCACHE_USERS users (the one closest to expiry goes first), and the
 * caller's copy is its own.  Single-threaded cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "usercache.h"

static int tu_lookups;
static time_t tu_clock;

/* User u is in groups u+1000 and u+2000 besides the base; primary u+100. */
static int tu_lookup(uid_t uid, gid_t gid, gid_t *primary, gid_t **groups,
		     int *n)
{
	tu_lookups++;
	*primary = (gid_t)uid + 100;
	gid_t *g = malloc(3 * sizeof *g);
	if (!g)
		return -1;
	g[0] = gid == USERCACHE_PRIMARY ? *primary : gid;
	g[1] = (gid_t)uid + 1000;
	g[2] = (gid_t)uid + 2000;
	*groups = g;
	*n = 3;
	return 0;
}

static time_t tu_now(void)
{
	return tu_clock;
}

static int tu_setup(void **state)
{
	(void)state;
	tu_lookups = 0;
	tu_clock = 1000;
	usercache_flush();
	usercache_set_source(tu_lookup, tu_now);
	return 0;
}

static int tu_teardown(void **state)
{
	(void)state;
	usercache_flush();
	usercache_set_source(NULL, NULL);
	return 0;
}

static void tu_get(uid_t uid, gid_t gid, gid_t want_base)
{
	gid_t primary = 0, *g = NULL;
	int n = 0;
	assert_int_equal(usercache_get(uid, gid, &primary, &g, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(primary, uid + 100);
	assert_int_equal(g[0], want_base);
	assert_int_equal(g[1], uid + 1000);
	free(g);
}

static void tu_reused_until_expiry(void **state)
{
	(void)state;
	tu_get(5, 50, 50);
	tu_get(5, 50, 50);
	assert_int_equal(tu_lookups, 1);
	tu_clock += USERCACHE_TTL_S - 1;
	tu_get(5, 50, 50);
	assert_int_equal(tu_lookups, 1);
	tu_clock += 1;
	tu_get(5, 50, 50);
	assert_int_equal(tu_lookups, 2);
	/* The fresh answer counts from now. */
	tu_clock += USERCACHE_TTL_S - 1;
	tu_get(5, 50, 50);
	assert_int_equal(tu_lookups, 2);
}

static void tu_base_is_part_of_the_key(void **state)
{
	(void)state;
	tu_get(7, 70, 70);
	tu_get(7, 71, 71);
	tu_get(7, USERCACHE_PRIMARY, 107);
	assert_int_equal(tu_lookups, 3);
	tu_get(7, 71, 71);
	tu_get(7, USERCACHE_PRIMARY, 107);
	assert_int_equal(tu_lookups, 3);
}

static void tu_bounded(void **state)
{
	(void)state;
	for (uid_t u = 0; u < USERCACHE_USERS; u++) {
		tu_get(u, 1, 1);
		if (u == 0)
			tu_clock++; /* user 0's answer expires first */
	}
	assert_int_equal(tu_lookups, USERCACHE_USERS);
	tu_get(9999, 1, 1);                 /* evicts user 0 */
	assert_int_equal(tu_lookups, USERCACHE_USERS + 1);
	tu_get(1, 1, 1);
	tu_get(USERCACHE_USERS - 1, 1, 1);
	tu_get(9999, 1, 1);
	assert_int_equal(tu_lookups, USERCACHE_USERS + 1);
	tu_get(0, 1, 1);                    /* asked again */
	assert_int_equal(tu_lookups, USERCACHE_USERS + 2);
}

static void tu_copies_are_the_callers(void **state)
{
	(void)state;
	gid_t primary, *g = NULL;
	int n = 0;
	assert_int_equal(usercache_get(3, 30, &primary, &g, &n), 0);
	g[1] = 0; /* scribbling on our copy changes nothing kept */
	free(g);
	tu_get(3, 30, 30);
	assert_int_equal(tu_lookups, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tu_reused_until_expiry, tu_setup,
						tu_teardown),
		cmocka_unit_test_setup_teardown(tu_base_is_part_of_the_key,
						tu_setup, tu_teardown),
		cmocka_unit_test_setup_teardown(tu_bounded, tu_setup,
						tu_teardown),
		cmocka_unit_test_setup_teardown(tu_copies_are_the_callers,
						tu_setup, tu_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
