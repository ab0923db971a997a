/*
 * test_blocklist.c - unit tests of daemon/blocklist.c: every line form
 * (CIDR, range, P2P name:range, one address; IPv6 CIDR, range and one
 * address, mixed with IPv4 in one file), comments and blank lines,
 * leading zeros, CRLF, a missing final newline, and bad lines refused with
 * FILE:LINE reasons (all of them in one pass, bounded).  Also
 * daemon/peernet.c: listen lists, loopback detection, HOST:PORT lists and
 * the socket-buffer advice.  Single-threaded cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "blocklist.h"
#include "peernet.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
			(uint32_t)(c) << 8 | (uint32_t)(d))

static struct blocklist tb_ok(const char *text)
{
	struct blocklist bl = {0};
	char *err = NULL;
	if (blocklist_parse("f", text, strlen(text), &bl, &err) != 0)
		fail_msg("refused: %s", err ? err : "?");
	assert_null(err);
	return bl;
}

static char *tb_bad(const char *text)
{
	struct blocklist bl = {0};
	char *err = NULL;
	if (blocklist_parse("f", text, strlen(text), &bl, &err) != -1)
		fail_msg("accepted: %s", text);
	assert_non_null(err);
	assert_int_equal(bl.n, 0);
	assert_null(bl.ranges);
	assert_int_equal(bl.n6, 0);
	assert_null(bl.ranges6);
	return err;
}

static void test_forms(void **state)
{
	struct blocklist bl = tb_ok(
		"# a comment\n"
		"\n"
		"10.77.0.3/32\n"
		"192.168.0.0/16   # trailing comment\n"
		"1.2.3.4-1.2.3.9\n"
		"Some Org: with colons:005.006.007.000-005.006.007.255\r\n"
		"  8.8.8.8  \n"
		"0.0.0.0/0\n"
		"9.9.9.9 - 9.9.9.10");
	assert_int_equal(bl.n, 7);
	assert_int_equal(bl.ranges[0].first, IP(10, 77, 0, 3));
	assert_int_equal(bl.ranges[0].last, IP(10, 77, 0, 3));
	assert_int_equal(bl.ranges[1].first, IP(192, 168, 0, 0));
	assert_int_equal(bl.ranges[1].last, IP(192, 168, 255, 255));
	assert_int_equal(bl.ranges[2].first, IP(1, 2, 3, 4));
	assert_int_equal(bl.ranges[2].last, IP(1, 2, 3, 9));
	assert_int_equal(bl.ranges[3].first, IP(5, 6, 7, 0));
	assert_int_equal(bl.ranges[3].last, IP(5, 6, 7, 255));
	assert_int_equal(bl.ranges[4].first, IP(8, 8, 8, 8));
	assert_int_equal(bl.ranges[4].last, IP(8, 8, 8, 8));
	assert_int_equal(bl.ranges[5].first, 0);
	assert_int_equal(bl.ranges[5].last, 0xffffffffu);
	assert_int_equal(bl.ranges[6].last, IP(9, 9, 9, 10));
	assert_true(blocklist_contains(&bl, IP(1, 2, 3, 5)));
	blocklist_free(&bl);
	assert_null(bl.ranges);
}

static void tb_v6(const char *text, uint8_t out[16])
{
	if (inet_pton(AF_INET6, text, out) != 1)
		fail_msg("bad test address %s", text);
}

static void test_ipv6(void **state)
{
	struct blocklist bl = tb_ok(
		"# both families in one file\n"
		"2001:db8::/32\n"
		"10.0.0.0/8\n"
		"fe80::1 - fe80::ff   # a range\n"
		"::1\n"
		"2001:db8:1:2:3:4:5:6/60\n"
		"::ffff:1.2.3.4/128\n"
		"::/0\n");
	assert_int_equal(bl.n, 1);
	assert_int_equal(bl.n6, 6);
	uint8_t a[16], b[16];
	tb_v6("2001:db8::", a);
	tb_v6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", b);
	assert_memory_equal(bl.ranges6[0].first, a, 16);
	assert_memory_equal(bl.ranges6[0].last, b, 16);
	tb_v6("fe80::1", a);
	tb_v6("fe80::ff", b);
	assert_memory_equal(bl.ranges6[1].first, a, 16);
	assert_memory_equal(bl.ranges6[1].last, b, 16);
	tb_v6("::1", a);
	assert_memory_equal(bl.ranges6[2].first, a, 16);
	assert_memory_equal(bl.ranges6[2].last, a, 16);
	/* A prefix that is not a multiple of 8 bits, host bits set. */
	tb_v6("2001:db8:1::", a);
	tb_v6("2001:db8:1:f:ffff:ffff:ffff:ffff", b);
	assert_memory_equal(bl.ranges6[3].first, a, 16);
	assert_memory_equal(bl.ranges6[3].last, b, 16);
	tb_v6("::ffff:1.2.3.4", a);
	assert_memory_equal(bl.ranges6[4].first, a, 16);
	memset(a, 0, 16);
	memset(b, 0xff, 16);
	assert_memory_equal(bl.ranges6[5].first, a, 16);
	assert_memory_equal(bl.ranges6[5].last, b, 16);
	blocklist_free(&bl);
	assert_null(bl.ranges6);
	assert_int_equal(bl.n6, 0);

	bl = tb_ok("2001:db8::/32\n");
	tb_v6("2001:db8:ffff::1", a);
	assert_true(blocklist_contains6(&bl, a));
	tb_v6("2001:db9::", a);
	assert_false(blocklist_contains6(&bl, a));
	tb_v6("2001:db7:ffff::", a);
	assert_false(blocklist_contains6(&bl, a));
	/* An IPv6 list blocks no IPv4 address, and the other way round. */
	assert_false(blocklist_contains(&bl, IP(32, 1, 13, 184)));
	blocklist_free(&bl);
}

/* A CIDR block with host bits set still means the whole block. */
static void test_cidr_host_bits(void **state)
{
	struct blocklist bl = tb_ok("10.1.2.3/24\n");
	assert_int_equal(bl.ranges[0].first, IP(10, 1, 2, 0));
	assert_int_equal(bl.ranges[0].last, IP(10, 1, 2, 255));
	assert_false(blocklist_contains(&bl, IP(10, 1, 3, 0)));
	blocklist_free(&bl);
}

static void test_empty(void **state)
{
	struct blocklist bl = tb_ok("");
	assert_int_equal(bl.n, 0);
	blocklist_free(&bl);
	bl = tb_ok("# nothing\n\n   \n");
	assert_int_equal(bl.n, 0);
	blocklist_free(&bl);
}

static void test_bad_lines(void **state)
{
	static const char *const bad[] = {
		"1.2.3\n", "1.2.3.256\n", "1.2.3.4/33\n", "1.2.3.4/\n",
		"1.2.3.9-1.2.3.4\n", "1.2.3.4-\n", "1.2.3.4 junk\n",
		"name:\n", "1.2.3.4/8/8\n",
		"0001.2.3.4\n", "1..2.3\n", "-1.2.3.4\n",
		"fe80::/129\n", "fe80::/\n", "2001:db8::9-2001:db8::1\n",
		"2001:db8::1-\n", "2001:db8::1-1.2.3.4\n", "2001:db8::1 x\n",
		"1:2:3:4:5:6:7:8:9\n", "2001:db8:::1\n", "fe80::/0128\n",
		"name:2001:db8::1-2001:db8::2\n",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:0000:1111\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *err = tb_bad(bad[i]);
		if (strncmp(err, "f:1: ", 5) != 0)
			fail_msg("%s: reason \"%s\" lacks f:1:", bad[i], err);
		free(err);
	}
}

/* Every bad line is named at once, with its number; a long run of them is
 * cut short with a count, so garbage cannot grow the message. */
static void test_all_errors_bounded(void **state)
{
	char *err = tb_bad("1.1.1.1\nbad\n2.2.2.2\nworse\n");
	assert_non_null(strstr(err, "f:2: "));
	assert_non_null(strstr(err, "f:4: "));
	assert_null(strstr(err, "f:1: "));
	free(err);
	size_t n = 5000;
	char *text = malloc(n * 4 + 1);
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * 4, "xyz\n", 4);
	text[n * 4] = 0;
	err = tb_bad(text);
	assert_true(strlen(err) < 2000);
	assert_non_null(strstr(err, "4990 more bad lines"));
	free(err);
	free(text);
}

/* The text need not end in NUL: only len bytes are read. */
static void test_length_bound(void **state)
{
	const char text[] = "1.2.3.4/32\n5.6.7.8/32";
	struct blocklist bl = {0};
	char *err = NULL;
	assert_int_equal(blocklist_parse("f", text, 11, &bl, &err), 0);
	assert_int_equal(bl.n, 1);
	blocklist_free(&bl);
	assert_int_equal(blocklist_parse("f", text, 15, &bl, &err), -1);
	assert_non_null(strstr(err, "f:2: "));
	free(err);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/test_blocklist.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof path, "%s/bl.p2p", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 100000; i++)
		fprintf(f, "range %d:10.%d.%d.0-10.%d.%d.255\n", i, i >> 8 & 255,
			i & 255, i >> 8 & 255, i & 255);
	fclose(f);
	struct blocklist bl = {0};
	char *err = NULL;
	assert_int_equal(blocklist_load(path, &bl, &err), 0);
	assert_int_equal(bl.n, 100000);
	assert_true(blocklist_contains(&bl, IP(10, 1, 2, 3)));
	blocklist_free(&bl);
	unlink(path);
	assert_int_equal(blocklist_load(path, &bl, &err), -1);
	assert_non_null(strstr(err, "cannot read the blocklist"));
	free(err);
	rmdir(dir);
}

/* --- peernet ------------------------------------------------------------ */

static void test_listen_lists(void **state)
{
	char *err = NULL;
	assert_int_equal(peernet_check_listen("0.0.0.0:6881,[::]:6881", &err), 0);
	assert_int_equal(peernet_check_listen("eth0:6881", &err), 0);
	assert_int_equal(peernet_check_listen("127.0.0.1:0", &err), 0);
	assert_int_equal(peernet_check_listen("1.2.3.4", &err), -1);
	assert_non_null(strstr(err, "\"1.2.3.4\""));
	free(err);
	err = NULL;
	assert_int_equal(peernet_check_listen("[::1:6881", &err), -1);
	free(err);
}

static void test_loopback(void **state)
{
	assert_true(peernet_listen_is_loopback("127.0.0.1:0"));
	assert_true(peernet_listen_is_loopback("127.1.2.3:6881,[::1]:6881"));
	assert_true(peernet_listen_is_loopback("localhost:1, lo:2"));
	assert_false(peernet_listen_is_loopback("0.0.0.0:6881"));
	assert_false(peernet_listen_is_loopback("127.0.0.1:0,10.0.0.1:0"));
	assert_false(peernet_listen_is_loopback("[::]:6881"));
	assert_false(peernet_listen_is_loopback("eth0:6881"));
	assert_false(peernet_listen_is_loopback(""));
	assert_false(peernet_listen_is_loopback(NULL));
}

static void test_hostports(void **state)
{
	char *err = NULL;
	assert_int_equal(peernet_check_hostports("10.77.0.1:6881", &err), 0);
	assert_int_equal(peernet_check_hostports("router.example.org:6881, "
						 "[fd00::1]:1", &err), 0);
	assert_int_equal(peernet_check_hostports("x:0", &err), -1);
	assert_non_null(strstr(err, "dht-bootstrap"));
	free(err);
	err = NULL;
	assert_int_equal(peernet_check_hostports("", &err), -1);
	free(err);
}

static void tb_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_buffer_advice(void **state)
{
	char dir[] = "/tmp/test_peernet.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char r[256], w[256];
	snprintf(r, sizeof r, "%s/rmem_max", dir);
	snprintf(w, sizeof w, "%s/wmem_max", dir);
	char *advice = NULL;
	/* Nothing to read: nothing said. */
	assert_int_equal(peernet_buffer_advice(dir, 4 << 20, &advice), 0);
	assert_null(advice);
	tb_write(r, "4194304\n");
	tb_write(w, "8388608\n");
	assert_int_equal(peernet_buffer_advice(dir, 4 << 20, &advice), 0);
	assert_null(advice);
	tb_write(r, "212992\n");
	assert_int_equal(peernet_buffer_advice(dir, 4 << 20, &advice), 1);
	assert_non_null(strstr(advice, "sysctl -w net.core.rmem_max=4194304 "
				       "net.core.wmem_max=4194304"));
	assert_non_null(strstr(advice, "212992"));
	free(advice);
	unlink(r);
	unlink(w);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_cidr_host_bits),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_all_errors_bounded),
		cmocka_unit_test(test_length_bound),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_listen_lists),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_hostports),
		cmocka_unit_test(test_buffer_advice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
