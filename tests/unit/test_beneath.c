/*
 * test_beneath.c - unit tests of daemon/beneath.c: opening below a
 * directory descriptor refuses a link in any component (ELOOP), an
 * absolute path or ".." (EXDEV), makes missing directories without
 * following a planted link, and finds the parent of a path for unlink and
 * rename.  Works in a fresh directory under /tmp.  Single-threaded cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"

struct tb_dirs {
	char root[64];    /* the save directory */
	char outside[80]; /* a directory a link points to */
	int fd;
};

static int tb_setup(void **state)
{
	struct tb_dirs *d = calloc(1, sizeof *d);
	assert_non_null(d);
	snprintf(d->root, sizeof d->root, "/tmp/tpd-beneath.XXXXXX");
	assert_non_null(mkdtemp(d->root));
	/* A sibling, named without "..", so the teardown can remove it. */
	snprintf(d->outside, sizeof d->outside, "%s-out", d->root);
	assert_int_equal(mkdir(d->outside, 0700), 0);
	d->fd = open(d->root, O_RDONLY | O_DIRECTORY);
	assert_true(d->fd >= 0);
	*state = d;
	return 0;
}

static int tb_teardown(void **state)
{
	struct tb_dirs *d = *state;
	char cmd[256];
	close(d->fd);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", d->root, d->outside);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

static void tb_path(char *buf, size_t n, const struct tb_dirs *d, const char *rel)
{
	snprintf(buf, n, "%s/%s", d->root, rel);
}

static void test_plain_create_and_open(void **state)
{
	struct tb_dirs *d = *state;
	assert_int_equal(beneath_mkdirs(d->fd, "a/b/c", 0755), 0);
	int fd = beneath_open(d->fd, "a/b/c/f", O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	fd = beneath_open(d->fd, "a/b/c/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	/* The directory itself, and mkdirs of what exists already. */
	fd = beneath_open(d->fd, "", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(beneath_mkdirs(d->fd, "a/b", 0755), 0);
}

static void test_links_refused(void **state)
{
	struct tb_dirs *d = *state;
	char p[PATH_MAX], target[PATH_MAX];
	snprintf(target, sizeof target, "%s/secret", d->outside);
	int fd = open(target, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	/* A file swapped for a link, a directory swapped for a link. */
	tb_path(p, sizeof p, d, "file");
	assert_int_equal(symlink(target, p), 0);
	tb_path(p, sizeof p, d, "dir");
	assert_int_equal(symlink(d->outside, p), 0);

	errno = 0;
	assert_int_equal(beneath_open(d->fd, "file", O_RDONLY, 0), -1);
	assert_int_equal(errno, ELOOP);
	errno = 0;
	assert_int_equal(beneath_open(d->fd, "file", O_RDWR | O_CREAT, 0644), -1);
	assert_int_equal(errno, ELOOP);
	errno = 0;
	assert_int_equal(beneath_open(d->fd, "dir/secret", O_RDONLY, 0), -1);
	assert_int_equal(errno, ELOOP);
	errno = 0;
	assert_int_equal(beneath_open(d->fd, "dir/new", O_RDWR | O_CREAT, 0644), -1);
	assert_int_equal(errno, ELOOP);
	errno = 0;
	assert_int_equal(beneath_mkdirs(d->fd, "dir/sub", 0755), -1);
	assert_int_equal(errno, ELOOP);
	const char *leaf;
	errno = 0;
	assert_int_equal(beneath_parent(d->fd, "dir/secret", 1, 0755, &leaf), -1);
	assert_int_equal(errno, ELOOP);
	/* Nothing was made through the link. */
	snprintf(p, sizeof p, "%s/new", d->outside);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof p, "%s/sub", d->outside);
	assert_int_equal(access(p, F_OK), -1);
}

static void test_escapes_refused(void **state)
{
	struct tb_dirs *d = *state;
	errno = 0;
	assert_int_equal(beneath_open(d->fd, "/etc/passwd", O_RDONLY, 0), -1);
	assert_int_equal(errno, EXDEV);
	errno = 0;
	assert_int_equal(beneath_open(d->fd, "../x", O_RDONLY, 0), -1);
	assert_int_equal(errno, EXDEV);
	assert_int_equal(beneath_mkdirs(d->fd, "a/../../x", 0755), -1);
	const char *leaf;
	errno = 0;
	assert_int_equal(beneath_parent(d->fd, "a/..", 0, 0, &leaf), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_parent(void **state)
{
	struct tb_dirs *d = *state;
	const char *leaf;
	int pfd = beneath_parent(d->fd, "x/y/z.bin", 1, 0755, &leaf);
	assert_true(pfd >= 0);
	assert_string_equal(leaf, "z.bin");
	int fd = openat(pfd, leaf, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(unlinkat(pfd, leaf, 0), 0);
	close(pfd);
	pfd = beneath_parent(d->fd, "top.bin", 0, 0, &leaf);
	assert_true(pfd >= 0);
	assert_string_equal(leaf, "top.bin");
	close(pfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_create_and_open, tb_setup, tb_teardown),
		cmocka_unit_test_setup_teardown(test_links_refused, tb_setup, tb_teardown),
		cmocka_unit_test_setup_teardown(test_escapes_refused, tb_setup, tb_teardown),
		cmocka_unit_test_setup_teardown(test_parent, tb_setup, tb_teardown),
	};
	return cmocka_run_group_tests_name("beneath", tests, NULL, NULL);
}
