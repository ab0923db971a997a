/*
 * test_shim.c - drives the real libtorrent through daemon/lt_shim.h over
 * loopback: making v1 torrents (info-hash equal to mktorrent's), seeding
 * with have_all, downloading into another session, duplicate and bad adds,
 * renaming a seeded file through the disk backend.
 *
 * Single-threaded: the test is the "engine thread" of two sessions.  Waits
 * are poll() on the shim's alert descriptors with a deadline, never sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lt_shim.h"

#define TS_TRACKER "http://127.0.0.1:6969/announce"
#define TS_PIECE 262144
#define TS_DEADLINE_MS 30000
#define TS_TICK_MS 200

/* What the sink learnt about one torrent. */
struct ts_watch {
	int64_t id;
	char state[32];
	bool finished;
	int64_t done_bytes, total_bytes;
	char error[256];
};

static char *ts_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

static char *ts_mkdtemp(void)
{
	char *t = strdup("/tmp/tpd-test-shim-XXXXXX");
	assert_non_null(t);
	assert_non_null(mkdtemp(t));
	return t;
}

static int ts_rm_one(const char *p, const struct stat *sb, int flag,
		     struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void ts_rm_rf(char *dir)
{
	nftw(dir, ts_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* Deterministic, non-repeating content so misplaced pieces are noticed. */
static void ts_write_file(const char *path, size_t size, unsigned seed)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		fputc((int)(x & 0xff), f);
	}
	assert_int_equal(fclose(f), 0);
}

static unsigned char *ts_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	unsigned char *buf = malloc(cap);
	assert_non_null(buf);
	size_t r;
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

static void ts_assert_same_file(const char *a, const char *b)
{
	size_t la = 0, lb = 0;
	unsigned char *ba = ts_read_file(a, &la);
	unsigned char *bb = ts_read_file(b, &lb);
	if (ba == NULL || bb == NULL)
		fail_msg("missing file: %s or %s", a, b);
	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	free(ba);
	free(bb);
}

static unsigned char *ts_make(const char *path, int version, size_t *len)
{
	const char *trackers[] = { TS_TRACKER };
	struct lts_make m = {
		.path = path, .trackers = trackers, .n_trackers = 1,
		.piece_size = TS_PIECE, .version = version, .threads = 2,
	};
	unsigned char *buf = NULL;
	char *err = NULL;
	int rc = lts_make_torrent(&m, &buf, len, &err);
	if (rc != 0)
		fail_msg("lts_make_torrent(%s): %s", path, err ? err : "?");
	assert_non_null(buf);
	return buf;
}

/* mktorrent's .torrent of path (v1, 2^18 pieces, same tracker). */
static unsigned char *ts_mktorrent(const char *path, const char *tmp,
				   size_t *len)
{
	char *out = ts_fmt("%s/mk.torrent", tmp);
	char *cmd = ts_fmt("mktorrent -l 18 -a '%s' -o '%s' '%s' >/dev/null",
			   TS_TRACKER, out, path);
	unlink(out);
	if (system(cmd) != 0)
		fail_msg("failed: %s (is mktorrent installed? make deps)", cmd);
	unsigned char *buf = ts_read_file(out, len);
	assert_non_null(buf);
	unlink(out);
	free(cmd);
	free(out);
	return buf;
}

static lts_session *ts_session(void)
{
	struct lts_config cfg = {
		.listen = "127.0.0.1:0", .multi_conn_per_ip = true, .no_utp = true,
	};
	char *err = NULL;
	lts_session *s = lts_new(&cfg, &err);
	if (s == NULL)
		fail_msg("lts_new: %s", err ? err : "?");
	assert_true(lts_listen_port(s) > 0);
	return s;
}

/* Adds .torrent bytes; returns the lts_add result, info hash copied out. */
static enum lts_add_result ts_add(lts_session *s, int64_t id,
				  const unsigned char *t, size_t len,
				  const char *save, bool have_all,
				  const char *peer, char *hash_out,
				  int64_t *existing)
{
	const char *peers[] = { peer };
	struct lts_add a = {
		.id = id, .torrent = t, .torrent_len = len, .save_path = save,
		.have_all = have_all, .peers = peers, .n_peers = peer ? 1 : 0,
	};
	struct lts_added out;
	char *err = NULL;
	enum lts_add_result r = lts_add(s, &a, &out, &err);
	if (r == LTS_ADD_FAIL)
		fail_msg("lts_add: %s", err ? err : "?");
	if (hash_out)
		strcpy(hash_out, out.info_hash);
	if (existing)
		*existing = out.existing_id;
	assert_non_null(out.name);
	lts_added_free(&out);
	return r;
}

static void ts_on_status(void *ctx, const struct lts_status *st)
{
	struct ts_watch *w = ctx;
	if (st->id != w->id)
		return;
	snprintf(w->state, sizeof w->state, "%s", st->state);
	w->done_bytes = st->done_bytes;
	w->total_bytes = st->total_bytes;
	if (st->error)
		snprintf(w->error, sizeof w->error, "%s", st->error);
}

static void ts_on_finished(void *ctx, int64_t id)
{
	struct ts_watch *w = ctx;
	if (id == w->id)
		w->finished = true;
}

static int64_t ts_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Pumps both sessions' alerts until the leecher's torrent w->id is
 * complete, asking for status updates every tick; fails at the deadline. */
static void ts_wait_complete(lts_session *seeder, lts_session *leecher,
			     struct ts_watch *w)
{
	struct lts_sink quiet = { 0 };
	struct lts_sink sink = {
		.ctx = w, .status = ts_on_status, .finished = ts_on_finished,
	};
	int64_t deadline = ts_now_ms() + TS_DEADLINE_MS;
	int64_t next_post = 0;
	for (;;) {
		int64_t now = ts_now_ms();
		if (strcmp(w->state, "seeding") == 0
		    || strcmp(w->state, "finished") == 0)
			break;
		if (w->error[0])
			fail_msg("leecher error: %s", w->error);
		if (now > deadline)
			fail_msg("no complete download in %d ms (state %s, %lld/%lld)",
				 TS_DEADLINE_MS, w->state,
				 (long long)w->done_bytes,
				 (long long)w->total_bytes);
		if (now >= next_post) {
			lts_post_updates(leecher);
			next_post = now + TS_TICK_MS;
		}
		struct pollfd pf[2] = {
			{ .fd = lts_alert_fd(seeder), .events = POLLIN },
			{ .fd = lts_alert_fd(leecher), .events = POLLIN },
		};
		int wait = (int)(next_post - now);
		poll(pf, 2, wait > 0 ? wait : 0);
		lts_drain(seeder, &quiet);
		lts_drain(leecher, &sink);
	}
	assert_true(w->finished);
	assert_int_equal(w->done_bytes, w->total_bytes);
}

/* Seeds `what` (a file or directory in src_dir) from session A and
 * downloads it into a fresh directory through session B. */
static void ts_transfer(const char *src_dir, const char *what,
			const unsigned char *t, size_t tlen, char **dst_out)
{
	lts_session *a = ts_session();
	lts_session *b = ts_session();
	char hash_a[LTS_HASH_HEX_MAX + 1], hash_b[LTS_HASH_HEX_MAX + 1];
	assert_int_equal(ts_add(a, 1, t, tlen, src_dir, true, NULL, hash_a, NULL),
			 LTS_ADD_OK);
	char *dst = ts_mkdtemp();
	char *peer = ts_fmt("127.0.0.1:%d", lts_listen_port(a));
	assert_int_equal(ts_add(b, 7, t, tlen, dst, false, peer, hash_b, NULL),
			 LTS_ADD_OK);
	assert_string_equal(hash_a, hash_b);

	struct ts_watch w = { .id = 7 };
	ts_wait_complete(a, b, &w);

	struct lts_status st;
	char *err = NULL;
	assert_int_equal(lts_status_get(b, 7, &st, &err), 0);
	assert_string_equal(st.info_hash, hash_b);
	assert_string_equal(st.save_path, dst);
	assert_string_equal(st.name, what);
	assert_true(st.progress > 0.999);
	lts_status_free(&st);

	assert_int_equal(lts_remove(b, 7, false, &err), 0);
	assert_int_equal(lts_remove(b, 7, false, &err), -1);
	assert_string_equal(err, "no such torrent");
	free(err);
	lts_free(b);
	lts_free(a);
	free(peer);
	*dst_out = dst;
}

/* (1) + (2): a single 3 MiB file. */
static void test_single_file(void **state)
{
	(void)state;
	char *dir = ts_mkdtemp();
	char *file = ts_fmt("%s/data.bin", dir);
	ts_write_file(file, 3 * 1024 * 1024, 1);

	size_t len = 0, mklen = 0;
	unsigned char *t = ts_make(file, 1, &len);
	unsigned char *mk = ts_mktorrent(file, dir, &mklen);

	/* Same info-hash as mktorrent: load both into a scratch session. */
	lts_session *s = ts_session();
	char h1[LTS_HASH_HEX_MAX + 1], h2[LTS_HASH_HEX_MAX + 1];
	int64_t existing = 0;
	assert_int_equal(ts_add(s, 1, t, len, dir, false, NULL, h1, NULL),
			 LTS_ADD_OK);
	assert_int_equal(strlen(h1), 40);
	/* (3) the same hash again is a duplicate naming the first id */
	assert_int_equal(ts_add(s, 2, mk, mklen, dir, false, NULL, h2, &existing),
			 LTS_ADD_DUPLICATE);
	assert_string_equal(h1, h2);
	assert_int_equal(existing, 1);
	assert_int_equal(ts_add(s, 3, t, len, "/tmp", false, NULL, NULL, &existing),
			 LTS_ADD_DUPLICATE);
	assert_int_equal(existing, 1);
	lts_free(s);

	char *dst = NULL;
	ts_transfer(dir, "data.bin", t, len, &dst);
	char *got = ts_fmt("%s/data.bin", dst);
	ts_assert_same_file(file, got);

	free(got);
	ts_rm_rf(dst);
	free(t);
	free(mk);
	free(file);
	ts_rm_rf(dir);
}

/* (4) garbage and bad magnets fail with a reason. */
static void test_bad_adds(void **state)
{
	(void)state;
	lts_session *s = ts_session();
	static const unsigned char junk[] = "d8:announce3:abc4:infoi3e";
	struct lts_add a = {
		.id = 1, .torrent = junk, .torrent_len = sizeof junk - 1,
		.save_path = "/tmp",
	};
	struct lts_added out;
	char *err = NULL;
	assert_int_equal(lts_add(s, &a, &out, &err), LTS_ADD_FAIL);
	assert_non_null(err);
	assert_non_null(strstr(err, "invalid .torrent"));
	free(err);
	err = NULL;

	struct lts_add m = { .id = 2, .magnet = "magnet:?xt=urn:btih:nothex",
			     .save_path = "/tmp" };
	assert_int_equal(lts_add(s, &m, &out, &err), LTS_ADD_FAIL);
	assert_non_null(err);
	assert_non_null(strstr(err, "invalid magnet"));
	free(err);
	err = NULL;

	/* a valid magnet with a bad peer is refused before it is added */
	const char *peers[] = { "localhost:1" };
	struct lts_add p = {
		.id = 3,
		.magnet = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x",
		.save_path = "/tmp", .peers = peers, .n_peers = 1,
	};
	assert_int_equal(lts_add(s, &p, &out, &err), LTS_ADD_FAIL);
	assert_non_null(strstr(err, "bad peer address"));
	free(err);
	err = NULL;

	/* without peers it goes in, paused, named by its dn */
	p.n_peers = 0;
	p.paused = true;
	assert_int_equal(lts_add(s, &p, &out, &err), LTS_ADD_OK);
	assert_string_equal(out.info_hash,
			    "0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(out.name, "x");
	lts_added_free(&out);
	struct lts_status st;
	assert_int_equal(lts_status_get(s, 3, &st, &err), 0);
	assert_true(st.paused);
	assert_string_equal(st.state, "downloading_metadata");
	lts_status_free(&st);

	assert_int_equal(lts_pause(s, 99, &err), -1);
	assert_string_equal(err, "no such torrent");
	free(err);
	err = NULL;
	assert_int_equal(lts_connect_peer(s, 3, "1.2.3.4", &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(lts_resume(s, 3, &err), 0);
	assert_int_equal(lts_reannounce(s, 3, &err), 0);
	assert_int_equal(lts_connect_peer(s, 3, "[::1]:1", &err), 0);
	assert_int_equal(lts_remove(s, 3, true, &err), 0);
	lts_free(s);

	/* making a torrent of nothing says why */
	struct lts_make mk = { .path = "/nonexistent/x", .version = 1, .threads = 1 };
	unsigned char *buf = NULL;
	size_t len = 0;
	assert_int_equal(lts_make_torrent(&mk, &buf, &len, &err), -1);
	assert_non_null(strstr(err, "/nonexistent/x"));
	free(err);
}

/* (5) a directory with an empty file and a nested folder. */
static void test_directory(void **state)
{
	(void)state;
	char *dir = ts_mkdtemp();
	char *top = ts_fmt("%s/tree", dir);
	char *sub = ts_fmt("%s/tree/sub", dir);
	char *nested = ts_fmt("%s/tree/sub/nested", dir);
	assert_int_equal(mkdir(top, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(nested, 0700), 0);
	static const struct { const char *rel; size_t size; } files[] = {
		{ "a.bin", 300 * 1024 + 7 },
		{ "empty", 0 },
		{ "sub/nested/b.bin", 1024 * 1024 + 123 },
		{ "sub/c.txt", 1000 },
		{ "z.bin", 700 * 1024 },
		{ "B-upper", 5 },
	};
	size_t n = sizeof files / sizeof files[0];
	for (size_t i = 0; i < n; i++) {
		char *p = ts_fmt("%s/%s", top, files[i].rel);
		ts_write_file(p, files[i].size, (unsigned)i + 10);
		free(p);
	}

	size_t len = 0, mklen = 0;
	unsigned char *t = ts_make(top, 1, &len);
	unsigned char *mk = ts_mktorrent(top, dir, &mklen);
	lts_session *s = ts_session();
	char h1[LTS_HASH_HEX_MAX + 1], h2[LTS_HASH_HEX_MAX + 1];
	assert_int_equal(ts_add(s, 1, t, len, dir, false, NULL, h1, NULL),
			 LTS_ADD_OK);
	assert_int_equal(ts_add(s, 2, mk, mklen, dir, false, NULL, h2, NULL),
			 LTS_ADD_DUPLICATE);
	assert_string_equal(h1, h2);
	lts_free(s);

	char *dst = NULL;
	ts_transfer(dir, "tree", t, len, &dst);
	for (size_t i = 0; i < n; i++) {
		char *want = ts_fmt("%s/%s", top, files[i].rel);
		char *got = ts_fmt("%s/tree/%s", dst, files[i].rel);
		ts_assert_same_file(want, got);
		free(want);
		free(got);
	}
	ts_rm_rf(dst);
	free(t);
	free(mk);
	free(nested);
	free(sub);
	free(top);
	ts_rm_rf(dir);
}

/* What the sink heard of a rename. */
struct ts_rename {
	bool done;
	int index;
	char name[256];
	char error[256];
};

static void ts_on_renamed(void *ctx, int64_t id, int index,
			  const char *new_name, const char *error)
{
	(void)id;
	struct ts_rename *r = ctx;
	r->done = true;
	r->index = index;
	snprintf(r->name, sizeof r->name, "%s", new_name ? new_name : "");
	snprintf(r->error, sizeof r->error, "%s", error ? error : "");
}

static void ts_wait_renamed(lts_session *s, struct ts_rename *r)
{
	struct lts_sink sink = { .ctx = r, .renamed = ts_on_renamed };
	int64_t deadline = ts_now_ms() + TS_DEADLINE_MS;
	while (!r->done) {
		int64_t left = deadline - ts_now_ms();
		if (left <= 0)
			fail_msg("no answer to lts_rename_file in %d ms",
				 TS_DEADLINE_MS);
		struct pollfd pf = { .fd = lts_alert_fd(s), .events = POLLIN };
		poll(&pf, 1, (int)left);
		lts_drain(s, &sink);
	}
}

/* Renaming a file of a seeded torrent (lt_storage's rename): the file
 * moves on disk, below the save directory, and the torrent still verifies
 * and serves it whole; a name that leaves the save directory is refused. */
static void test_rename_file(void **state)
{
	(void)state;
	char *dir = ts_mkdtemp();
	char *top = ts_fmt("%s/pack", dir);
	assert_int_equal(mkdir(top, 0700), 0);
	char *one = ts_fmt("%s/one.bin", top);
	char *two = ts_fmt("%s/two.bin", top);
	ts_write_file(one, 1024 * 1024 + 5, 71);
	ts_write_file(two, 600 * 1024 + 3, 72);
	char *keep = ts_fmt("%s/two.orig", dir);
	ts_write_file(keep, 600 * 1024 + 3, 72);
	size_t len = 0;
	unsigned char *t = ts_make(top, 1, &len);

	lts_session *a = ts_session();
	assert_int_equal(ts_add(a, 1, t, len, dir, true, NULL, NULL, NULL),
			 LTS_ADD_OK);
	char *err = NULL;
	assert_int_equal(lts_rename_file(a, 1, 5, "x", &err), -1);
	assert_non_null(strstr(err, "no file 5"));
	free(err);
	err = NULL;

	/* Files in mktorrent's order: one.bin is 0, two.bin is 1. */
	struct ts_rename r = { 0 };
	assert_int_equal(lts_rename_file(a, 1, 1, "pack/moved/two-renamed.bin",
					 &err), 0);
	ts_wait_renamed(a, &r);
	if (r.error[0])
		fail_msg("rename failed: %s", r.error);
	assert_int_equal(r.index, 1);
	assert_string_equal(r.name, "pack/moved/two-renamed.bin");
	char *moved = ts_fmt("%s/moved/two-renamed.bin", top);
	struct stat sb;
	assert_int_equal(stat(two, &sb), -1);
	assert_int_equal(errno, ENOENT);
	ts_assert_same_file(keep, moved);

	/* Out of the save directory: refused, nothing written there. */
	struct ts_rename out = { 0 };
	char *escape = ts_fmt("%s/../escaped.bin", dir);
	assert_int_equal(lts_rename_file(a, 1, 0, "../escaped.bin", &err), 0);
	ts_wait_renamed(a, &out);
	assert_true(out.error[0] != '\0');
	assert_int_equal(stat(escape, &sb), -1);
	assert_int_equal(stat(one, &sb), 0); /* still where it was */

	/* Verifies: hashed again from the renamed file, then served whole
	 * to another session, which writes it under the original name. */
	assert_int_equal(lts_force_recheck(a, 1, &err), 0);
	lts_session *b = ts_session();
	char *dst = ts_mkdtemp();
	char *peer = ts_fmt("127.0.0.1:%d", lts_listen_port(a));
	assert_int_equal(ts_add(b, 7, t, len, dst, false, peer, NULL, NULL),
			 LTS_ADD_OK);
	struct ts_watch w = { .id = 7 };
	ts_wait_complete(a, b, &w);
	char *got = ts_fmt("%s/pack/two.bin", dst);
	ts_assert_same_file(keep, got);
	struct lts_status st;
	assert_int_equal(lts_status_get(a, 1, &st, &err), 0);
	assert_string_equal(st.state, "seeding");
	assert_int_equal(st.done_bytes, st.total_bytes);
	lts_status_free(&st);

	lts_free(b);
	lts_free(a);
	free(got);
	free(peer);
	ts_rm_rf(dst);
	free(escape);
	free(moved);
	free(t);
	free(keep);
	free(two);
	free(one);
	free(top);
	ts_rm_rf(dir);
}

/* v2 and hybrid torrents are made through libtorrent's own hasher. */
static void test_v2_hybrid(void **state)
{
	(void)state;
	char *dir = ts_mkdtemp();
	char *file = ts_fmt("%s/v2.bin", dir);
	ts_write_file(file, 1024 * 1024 + 1, 3);
	lts_session *s = ts_session();
	char h[LTS_HASH_HEX_MAX + 1];
	size_t len = 0;
	unsigned char *t = ts_make(file, 2, &len);
	assert_int_equal(ts_add(s, 1, t, len, dir, false, NULL, h, NULL),
			 LTS_ADD_OK);
	assert_int_equal(strlen(h), 64);
	/* a v2-only duplicate is found through its (truncated) v2 hash */
	int64_t existing = 0;
	assert_int_equal(ts_add(s, 2, t, len, dir, false, NULL, NULL, &existing),
			 LTS_ADD_DUPLICATE);
	assert_int_equal(existing, 1);
	free(t);
	/* a hybrid's info dict differs (v1 keys too): another torrent, and
	 * named by its v1 hash */
	t = ts_make(file, 3, &len);
	assert_int_equal(ts_add(s, 3, t, len, dir, false, NULL, h, NULL),
			 LTS_ADD_OK);
	assert_int_equal(strlen(h), 40);
	assert_int_equal(ts_add(s, 4, t, len, dir, false, NULL, NULL, &existing),
			 LTS_ADD_DUPLICATE);
	assert_int_equal(existing, 3);
	free(t);
	lts_free(s);
	free(file);
	ts_rm_rf(dir);
}

struct ts_resume {
	int64_t id;
	unsigned char *buf;
	size_t len;
	int answers;
	char reason[128];
};

static void ts_on_resume(void *ctx, int64_t id, const unsigned char *buf,
			 size_t len)
{
	struct ts_resume *r = ctx;
	assert_int_equal(id, r->id);
	r->buf = malloc(len);
	assert_non_null(r->buf);
	memcpy(r->buf, buf, len);
	r->len = len;
	r->answers++;
}

static void ts_on_resume_failed(void *ctx, int64_t id, const char *reason)
{
	struct ts_resume *r = ctx;
	assert_int_equal(id, r->id);
	snprintf(r->reason, sizeof r->reason, "%s", reason);
	r->answers++;
}

/* Drains s until the resume request was answered. */
static void ts_wait_resume(lts_session *s, struct ts_resume *r)
{
	struct lts_sink sink = {
		.ctx = r, .resume_data = ts_on_resume,
		.resume_failed = ts_on_resume_failed,
	};
	int64_t deadline = ts_now_ms() + TS_DEADLINE_MS;
	while (r->answers == 0) {
		int64_t left = deadline - ts_now_ms();
		if (left <= 0)
			fail_msg("no answer to a resume request");
		struct pollfd pf = { .fd = lts_alert_fd(s), .events = POLLIN };
		poll(&pf, 1, (int)left);
		lts_drain(s, &sink);
	}
	assert_int_equal(r->answers, 1);
}

/* Resume data round trip, and a removal racing a resume request. */
static void test_resume(void **state)
{
	(void)state;
	char *dir = ts_mkdtemp();
	char *file = ts_fmt("%s/r.bin", dir);
	ts_write_file(file, 512 * 1024 + 3, 5);
	size_t len = 0;
	unsigned char *t = ts_make(file, 1, &len);

	lts_session *s = ts_session();
	assert_int_equal(ts_add(s, 5, t, len, dir, true, NULL, NULL, NULL),
			 LTS_ADD_OK);
	struct ts_resume r = { .id = 5 };
	assert_int_equal(lts_save_resume(s, true), 1);
	ts_wait_resume(s, &r);
	assert_non_null(r.buf);
	lts_free(s);

	/* resume data alone (it holds the info dict and the save path) */
	s = ts_session();
	struct lts_add a = { .id = 6, .resume = r.buf, .resume_len = r.len };
	struct lts_added out;
	char *err = NULL;
	if (lts_add(s, &a, &out, &err) != LTS_ADD_OK)
		fail_msg("add from resume: %s", err ? err : "?");
	assert_string_equal(out.name, "r.bin");
	lts_added_free(&out);
	struct ts_watch w = { .id = 6 };
	struct lts_sink sink = { .ctx = &w, .status = ts_on_status };
	int64_t deadline = ts_now_ms() + TS_DEADLINE_MS;
	while (strcmp(w.state, "seeding") != 0) {
		if (ts_now_ms() > deadline)
			fail_msg("restored torrent is %s, not seeding", w.state);
		lts_post_updates(s);
		struct pollfd pf = { .fd = lts_alert_fd(s), .events = POLLIN };
		poll(&pf, 1, TS_TICK_MS);
		lts_drain(s, &sink);
	}
	assert_int_equal(w.done_bytes, 512 * 1024 + 3);

	/* asked, then removed before the answer: still exactly one answer */
	struct ts_resume r2 = { .id = 6 };
	assert_int_equal(lts_save_resume(s, true), 1);
	assert_int_equal(lts_remove(s, 6, false, &err), 0);
	ts_wait_resume(s, &r2);
	assert_null(r2.buf);
	assert_string_equal(r2.reason, "torrent was removed");
	lts_free(s);

	free(r.buf);
	free(t);
	free(file);
	ts_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_adds),
		cmocka_unit_test(test_single_file),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_v2_hybrid),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_rename_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
