/*
 * test_service.c - unit tests of daemon/service.c: the FIFO that routes
 * engine answers, torrent ownership and visibility, watchers and status
 * pushes, the per-connection pending limit and worker results.
 *
 * The service is driven through struct service_io with fakes: the fake
 * engine only records the commands submitted (the test answers them by
 * feeding engine events with the matching seq), the fake workers record
 * jobs, and every answer or push is recorded as (conn, line) and parsed
 * back with json-c.  No sockets, no threads, no libtorrent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "engine.h"
#include "log.h"
#include "proto.h"
#include "service.h"
#include "worker.h"

#define TS_HASH1 "0123456789abcdef0123456789abcdef01234567"
#define TS_HASH2 "89abcdef0123456789abcdef0123456789abcdef"
#define TS_HASH3 "fedcba9876543210fedcba9876543210fedcba98"
#define TS_DAEMON_UID 999

/* One line the service sent: a direct answer or a status push. */
struct ts_out {
	uint64_t conn;
	bool pushed;
	int64_t push_id;
	char *line;
	bool taken;
};

struct ts_fake {
	struct ts_out *out;
	size_t n_out, cap_out;
	struct engine_cmd **cmds;
	size_t n_cmds, cap_cmds, next_cmd;
	struct work_job **jobs;
	size_t n_jobs, cap_jobs;
	int access_calls;
	bool deny_access;
	int loaded_calls;
	struct service *s;
};

/* --- the fakes ---------------------------------------------------------- */

static void *ts_grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	p = realloc(p, *cap * size);
	assert_non_null(p);
	return p;
}

static void ts_record(struct ts_fake *f, uint64_t conn, bool pushed,
		      int64_t id, const char *line, size_t len)
{
	f->out = ts_grow(f->out, &f->cap_out, f->n_out, sizeof *f->out);
	/* A line is newline-terminated and holds no other newline. */
	assert_true(len > 0 && line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1));
	struct ts_out *o = &f->out[f->n_out++];
	o->conn = conn;
	o->pushed = pushed;
	o->push_id = id;
	o->line = strndup(line, len);
	o->taken = false;
	assert_non_null(o->line);
}

static void ts_answer(void *ctx, uint64_t conn, const char *line, size_t len)
{
	ts_record(ctx, conn, false, 0, line, len);
}

static void ts_push(void *ctx, uint64_t conn, int64_t id, const char *line,
		    size_t len)
{
	ts_record(ctx, conn, true, id, line, len);
}

static void ts_engine(void *ctx, struct engine_cmd *cmd)
{
	struct ts_fake *f = ctx;
	f->cmds = ts_grow(f->cmds, &f->cap_cmds, f->n_cmds, sizeof *f->cmds);
	f->cmds[f->n_cmds++] = cmd;
}

static void ts_work(void *ctx, struct work_job *job)
{
	struct ts_fake *f = ctx;
	f->jobs = ts_grow(f->jobs, &f->cap_jobs, f->n_jobs, sizeof *f->jobs);
	f->jobs[f->n_jobs++] = job;
}

static int ts_access(void *ctx, uint64_t conn, uid_t uid, gid_t gid,
		     const char *path, int mode, char **err)
{
	struct ts_fake *f = ctx;
	f->access_calls++;
	if (f->deny_access) {
		*err = strdup("Permission denied");
		return -1;
	}
	return 0;
}

static void ts_loaded(void *ctx)
{
	struct ts_fake *f = ctx;
	f->loaded_calls++;
}

/* --- fixture ------------------------------------------------------------ */

static struct ts_fake *ts_new(size_t max_pending)
{
	struct ts_fake *f = calloc(1, sizeof *f);
	assert_non_null(f);
	struct service_config cfg = {
		.daemon_uid = TS_DAEMON_UID,
		.download_dir = "/var/lib/tpd/downloads",
		.default_tracker = NULL,
		.listen_port = 6881,
		.max_pending = max_pending,
		.loading = true,
	};
	struct service_io io = {
		.ctx = f,
		.answer = ts_answer,
		.push = ts_push,
		.engine = ts_engine,
		.work = ts_work,
		.access = ts_access,
		.loaded = ts_loaded,
	};
	f->s = service_new(&cfg, &io);
	assert_non_null(f->s);
	return f;
}

/* Every line the service sent must have been checked by the test. */
static void ts_assert_drained(struct ts_fake *f)
{
	for (size_t i = 0; i < f->n_out; i++)
		if (!f->out[i].taken)
			fail_msg("unexpected line to conn %llu: %s",
				 (unsigned long long)f->out[i].conn,
				 f->out[i].line);
}

static void ts_free(struct ts_fake *f)
{
	ts_assert_drained(f);
	service_free(f->s);
	for (size_t i = 0; i < f->n_out; i++)
		free(f->out[i].line);
	free(f->out);
	for (size_t i = 0; i < f->n_cmds; i++)
		engine_cmd_free(f->cmds[i]);
	free(f->cmds);
	for (size_t i = 0; i < f->n_jobs; i++)
		work_job_free(f->jobs[i]);
	free(f->jobs);
	free(f);
}

/* --- driving ------------------------------------------------------------ */

/* Parses a request line the way the server does and hands it over. */
static void ts_req(struct ts_fake *f, uint64_t conn, const char *line)
{
	struct tp_request req;
	struct tp_error err;
	memset(&req, 0, sizeof req);
	memset(&err, 0, sizeof err);
	if (tp_request_parse(line, strlen(line), &req, &err) < 0)
		fail_msg("test request does not parse: %s: %s", line,
			 err.reason ? err.reason : "?");
	service_request(f->s, conn, &req);
	tp_request_free(&req);
}

static void ts_create_magnet(struct ts_fake *f, uint64_t conn,
			     const char *tag, const char *hash)
{
	char *line = NULL;
	assert_true(asprintf(&line,
			     "{\"op\":\"create\",\"tag\":\"%s\","
			     "\"magnet\":\"magnet:?xt=urn:btih:%s\"}",
			     tag, hash) > 0);
	ts_req(f, conn, line);
	free(line);
}

/* The oldest engine command not yet taken by the test. */
static struct engine_cmd *ts_cmd(struct ts_fake *f, enum engine_cmd_type type)
{
	if (f->next_cmd >= f->n_cmds)
		fail_msg("no engine command was submitted");
	struct engine_cmd *c = f->cmds[f->next_cmd++];
	assert_int_equal(c->type, type);
	return c;
}

static void ts_no_cmd(struct ts_fake *f)
{
	assert_int_equal(f->next_cmd, f->n_cmds);
}

static struct engine_event *ts_event(enum engine_event_type type,
				     uint64_t seq, int64_t id)
{
	struct engine_event *ev = calloc(1, sizeof *ev);
	assert_non_null(ev);
	ev->type = type;
	ev->seq = seq;
	ev->id = id;
	return ev;
}

/* The engine's answer to a create: a new torrent. */
static void ts_created(struct ts_fake *f, const struct engine_cmd *c,
		       int64_t id, const char *hash, const char *name)
{
	struct engine_event *ev = ts_event(EV_CREATED, c->seq, id);
	snprintf(ev->info_hash, sizeof ev->info_hash, "%s", hash);
	ev->name = strdup(name);
	ev->save_path = strdup(c->save_dir ? c->save_dir
					   : "/var/lib/tpd/downloads");
	service_engine_event(f->s, ev);
}

static void ts_start_fail(struct ts_fake *f, const struct engine_cmd *c,
			  const char *reason)
{
	struct engine_event *ev = ts_event(EV_START_FAIL, c->seq, 0);
	ev->reason = strdup(reason);
	service_engine_event(f->s, ev);
}

static void ts_duplicate(struct ts_fake *f, const struct engine_cmd *c,
			 int64_t id, const char *hash)
{
	struct engine_event *ev = ts_event(EV_DUPLICATE, c->seq, id);
	snprintf(ev->info_hash, sizeof ev->info_hash, "%s", hash);
	service_engine_event(f->s, ev);
}

static void ts_done(struct ts_fake *f, const struct engine_cmd *c)
{
	struct engine_event *ev = ts_event(EV_DONE, c->seq, c->id);
	ev->cmd = c->type;
	service_engine_event(f->s, ev);
}

/* A status push from the engine; owner deliberately wrong, since the
 * engine does not know owners and the service must keep its own. */
static void ts_status(struct ts_fake *f, int64_t id, double progress)
{
	struct engine_event *ev = ts_event(EV_STATUS, 0, id);
	ev->status.id = id;
	ev->status.name = strdup("name");
	snprintf(ev->status.info_hash, sizeof ev->status.info_hash, "%s",
		 TS_HASH1);
	ev->status.state = "downloading";
	ev->status.progress = progress;
	ev->status.total_bytes = 1000;
	ev->status.done_bytes = (int64_t)(progress * 1000);
	ev->status.save_path = strdup("/var/lib/tpd/downloads");
	ev->status.owner = 4242;
	service_engine_event(f->s, ev);
}

/* --- checking what was sent --------------------------------------------- */

static json_object *ts_parse_out(struct ts_out *o, const char *type,
				 const char *tag)
{
	o->taken = true;
	json_object *obj = json_tokener_parse(o->line);
	if (!obj)
		fail_msg("not JSON: %s", o->line);
	json_object *v;
	assert_true(json_object_object_get_ex(obj, "type", &v));
	if (strcmp(json_object_get_string(v), type) != 0)
		fail_msg("conn %llu: expected %s, got %s",
			 (unsigned long long)o->conn, type, o->line);
	bool has_tag = json_object_object_get_ex(obj, "tag", &v);
	if (tag) {
		if (!has_tag || strcmp(json_object_get_string(v), tag) != 0)
			fail_msg("expected tag %s in %s", tag, o->line);
	} else if (has_tag) {
		fail_msg("expected no tag in %s", o->line);
	}
	return obj;
}

/* The next line (to anyone) must be a direct answer to conn.  Returns the
 * parsed object, which the caller puts. */
static json_object *ts_next(struct ts_fake *f, uint64_t conn,
			    const char *type, const char *tag)
{
	for (size_t i = 0; i < f->n_out; i++) {
		struct ts_out *o = &f->out[i];
		if (o->taken)
			continue;
		if (o->conn != conn || o->pushed)
			fail_msg("expected %s for conn %llu, got for conn "
				 "%llu%s: %s", type, (unsigned long long)conn,
				 (unsigned long long)o->conn,
				 o->pushed ? " (push)" : "", o->line);
		return ts_parse_out(o, type, tag);
	}
	fail_msg("expected %s for conn %llu, nothing was sent", type,
		 (unsigned long long)conn);
	return NULL;
}

/* The oldest line not yet checked that went to conn, whatever went to
 * others meanwhile (the order across connections is free). */
static json_object *ts_for(struct ts_fake *f, uint64_t conn, bool pushed,
			   const char *type, const char *tag)
{
	for (size_t i = 0; i < f->n_out; i++) {
		struct ts_out *o = &f->out[i];
		if (o->taken || o->conn != conn)
			continue;
		if (o->pushed != pushed)
			fail_msg("conn %llu: expected a %s %s, got: %s",
				 (unsigned long long)conn,
				 pushed ? "push of" : "direct", type, o->line);
		json_object *obj = ts_parse_out(o, type, tag);
		if (pushed) {
			json_object *v;
			assert_true(json_object_object_get_ex(obj, "id", &v));
			assert_int_equal(json_object_get_int64(v), o->push_id);
		}
		return obj;
	}
	fail_msg("expected %s for conn %llu, nothing was sent", type,
		 (unsigned long long)conn);
	return NULL;
}

static void ts_nothing_for(struct ts_fake *f, uint64_t conn)
{
	for (size_t i = 0; i < f->n_out; i++)
		if (!f->out[i].taken && f->out[i].conn == conn)
			fail_msg("conn %llu should get nothing, got: %s",
				 (unsigned long long)conn, f->out[i].line);
}

static int64_t ts_int(json_object *obj, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(obj, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(obj));
	return json_object_get_int64(v);
}

static const char *ts_str(json_object *obj, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(obj, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(obj));
	return json_object_get_string(v);
}

static void ts_expect_created(struct ts_fake *f, uint64_t conn,
			      const char *tag, int64_t id, const char *hash)
{
	json_object *o = ts_next(f, conn, "NewTorrentCreated", tag);
	assert_int_equal(ts_int(o, "id"), id);
	assert_string_equal(ts_str(o, "info_hash"), hash);
	json_object_put(o);
}

static void ts_expect_error(struct ts_fake *f, uint64_t conn,
			    const char *tag, const char *code)
{
	json_object *o = ts_next(f, conn, "Error", tag);
	assert_string_equal(ts_str(o, "code"), code);
	assert_true(strlen(ts_str(o, "reason")) > 0);
	json_object_put(o);
}

/* The ids of a List answer (ordered by id), as a count and an array. */
static size_t ts_list(struct ts_fake *f, uint64_t conn, int64_t *ids,
		      uid_t *owners, size_t max)
{
	ts_req(f, conn, "{\"op\":\"list\",\"tag\":\"L\"}");
	json_object *o = ts_next(f, conn, "List", "L");
	json_object *arr;
	assert_true(json_object_object_get_ex(o, "torrents", &arr));
	size_t n = json_object_array_length(arr);
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(arr, i);
		ids[i] = ts_int(t, "id");
		if (owners)
			owners[i] = (uid_t)ts_int(t, "owner");
	}
	json_object_put(o);
	return n;
}

/* Creates torrent `id` owned by conn's user, answered at once. */
static void ts_make_torrent(struct ts_fake *f, uint64_t conn, int64_t id,
			    const char *hash)
{
	ts_create_magnet(f, conn, "mk", hash);
	ts_created(f, ts_cmd(f, ENG_CREATE), id, hash, "t");
	ts_expect_created(f, conn, "mk", id, hash);
}

/* --- tests -------------------------------------------------------------- */

/* (1) Creates from several connections are answered in FIFO order, each
 * to the connection that asked, with its tag. */
static void test_fifo_routing(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1000, 1000, 12);
	service_conn_open(f->s, 3, 1001, 1001, 13);

	ts_create_magnet(f, 1, "a", TS_HASH1);
	ts_create_magnet(f, 2, "b", TS_HASH2);
	ts_create_magnet(f, 3, "c", TS_HASH3);
	ts_create_magnet(f, 1, "d", "1111111111111111111111111111111111111111");
	ts_assert_drained(f);
	assert_int_equal(service_pending_count(f->s), 4);

	struct engine_cmd *c[4];
	for (int i = 0; i < 4; i++)
		c[i] = ts_cmd(f, ENG_CREATE);
	ts_no_cmd(f);
	assert_true(c[0]->seq < c[1]->seq && c[1]->seq < c[2]->seq &&
		    c[2]->seq < c[3]->seq);
	assert_int_equal(c[0]->owner, 1000);
	assert_int_equal(c[2]->owner, 1001);
	assert_non_null(c[1]->magnet);
	assert_non_null(strstr(c[1]->magnet, TS_HASH2));
	assert_null(c[1]->torrent);
	assert_null(c[1]->save_dir);

	ts_created(f, c[0], 1, TS_HASH1, "one");
	ts_created(f, c[1], 2, TS_HASH2, "two");
	ts_created(f, c[2], 3, TS_HASH3, "three");
	ts_created(f, c[3], 4, "1111111111111111111111111111111111111111",
		   "four");

	json_object *o = ts_next(f, 1, "NewTorrentCreated", "a");
	assert_int_equal(ts_int(o, "id"), 1);
	assert_string_equal(ts_str(o, "name"), "one");
	assert_string_equal(ts_str(o, "save_path"), "/var/lib/tpd/downloads");
	json_object_put(o);
	ts_expect_created(f, 2, "b", 2, TS_HASH2);
	ts_expect_created(f, 3, "c", 3, TS_HASH3);
	ts_expect_created(f, 1, "d", 4,
			  "1111111111111111111111111111111111111111");
	assert_int_equal(service_pending_count(f->s), 0);
	assert_int_equal(service_torrent_count(f->s), 4);
	ts_free(f);
}

/* (2) The asker disconnects before the answer: nobody gets it, the next
 * answer still reaches its own connection, and the torrent exists, owned
 * by the gone connection's user. */
static void test_gone_connection(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1001, 1001, 12);
	ts_create_magnet(f, 1, "a", TS_HASH1);
	ts_create_magnet(f, 2, "b", TS_HASH2);
	struct engine_cmd *c1 = ts_cmd(f, ENG_CREATE);
	struct engine_cmd *c2 = ts_cmd(f, ENG_CREATE);
	service_conn_close(f->s, 1);

	ts_created(f, c1, 1, TS_HASH1, "one");
	ts_nothing_for(f, 1);
	ts_assert_drained(f);
	ts_created(f, c2, 2, TS_HASH2, "two");
	ts_expect_created(f, 2, "b", 2, TS_HASH2);
	assert_int_equal(service_torrent_count(f->s), 2);

	/* The same user, from a new connection, sees it as theirs. */
	service_conn_open(f->s, 3, 1000, 1000, 13);
	int64_t ids[8];
	uid_t owners[8];
	assert_int_equal(ts_list(f, 3, ids, owners, 8), 1);
	assert_int_equal(ids[0], 1);
	assert_int_equal(owners[0], 1000);
	/* Another user does not. */
	assert_int_equal(ts_list(f, 2, ids, owners, 8), 1);
	assert_int_equal(ids[0], 2);
	assert_int_equal(owners[0], 1001);
	ts_req(f, 2, "{\"op\":\"status\",\"tag\":\"s\",\"id\":1}");
	ts_expect_error(f, 2, "s", "forbidden");
	/* A status push for it reaches nobody: its creator is gone. */
	ts_status(f, 1, 0.5);
	ts_assert_drained(f);
	/* The owner may close it from the new connection. */
	ts_req(f, 3, "{\"op\":\"close\",\"tag\":\"x\",\"id\":1}");
	struct engine_cmd *cc = ts_cmd(f, ENG_CLOSE);
	assert_int_equal(cc->id, 1);
	ts_done(f, cc);
	json_object *o = ts_next(f, 3, "Closed", "x");
	assert_int_equal(ts_int(o, "id"), 1);
	json_object_put(o);
	assert_int_equal(service_torrent_count(f->s), 1);
	ts_free(f);
}

/* (3) A StartFail between two creates: three answers, each to its asker. */
static void test_start_fail_between(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1000, 1000, 12);
	service_conn_open(f->s, 3, 1002, 1002, 13);
	ts_create_magnet(f, 1, "a", TS_HASH1);
	ts_create_magnet(f, 2, "b", TS_HASH2);
	ts_create_magnet(f, 3, "c", TS_HASH3);
	struct engine_cmd *c1 = ts_cmd(f, ENG_CREATE);
	struct engine_cmd *c2 = ts_cmd(f, ENG_CREATE);
	struct engine_cmd *c3 = ts_cmd(f, ENG_CREATE);
	ts_created(f, c1, 1, TS_HASH1, "one");
	ts_start_fail(f, c2, "not a valid torrent");
	ts_created(f, c3, 2, TS_HASH3, "three");

	ts_expect_created(f, 1, "a", 1, TS_HASH1);
	json_object *o = ts_next(f, 2, "StartFail", "b");
	assert_string_equal(ts_str(o, "reason"), "not a valid torrent");
	json_object_put(o);
	ts_expect_created(f, 3, "c", 2, TS_HASH3);
	assert_int_equal(service_torrent_count(f->s), 2);
	assert_int_equal(service_pending_count(f->s), 0);
	ts_free(f);
}

/* (4) A duplicate answers AlreadyDownloading with the existing id; its
 * asker becomes neither owner nor creator. */
static void test_duplicate(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1000, 1000, 12); /* same user */
	service_conn_open(f->s, 3, 1001, 1001, 13); /* another user */
	ts_make_torrent(f, 1, 1, TS_HASH1);

	ts_create_magnet(f, 2, "d2", TS_HASH1);
	ts_create_magnet(f, 3, "d3", TS_HASH1);
	struct engine_cmd *c2 = ts_cmd(f, ENG_CREATE);
	struct engine_cmd *c3 = ts_cmd(f, ENG_CREATE);
	assert_int_equal(c3->owner, 1001);
	ts_duplicate(f, c2, 1, TS_HASH1);
	ts_duplicate(f, c3, 1, TS_HASH1);
	json_object *o = ts_next(f, 2, "AlreadyDownloading", "d2");
	assert_int_equal(ts_int(o, "id"), 1);
	assert_string_equal(ts_str(o, "info_hash"), TS_HASH1);
	json_object_put(o);
	o = ts_next(f, 3, "AlreadyDownloading", "d3");
	assert_int_equal(ts_int(o, "id"), 1);
	json_object_put(o);
	assert_int_equal(service_torrent_count(f->s), 1);

	/* Pushes go to the creator only. */
	ts_status(f, 1, 0.25);
	o = ts_for(f, 1, true, "StatusUpdate", NULL);
	assert_int_equal(ts_int(o, "owner"), 1000);
	json_object_put(o);
	ts_nothing_for(f, 2);
	ts_nothing_for(f, 3);

	/* The other user did not become an owner: it cannot see or touch it. */
	int64_t ids[4];
	assert_int_equal(ts_list(f, 3, ids, NULL, 4), 0);
	ts_req(f, 3, "{\"op\":\"pause\",\"tag\":\"p\",\"id\":1}");
	ts_expect_error(f, 3, "p", "forbidden");
	ts_no_cmd(f);

	/* Watching makes the duplicate's connection (same user) receive. */
	ts_req(f, 2, "{\"op\":\"watch\",\"tag\":\"w\",\"ids\":[1]}");
	json_object_put(ts_next(f, 2, "Watching", "w"));
	json_object_put(ts_for(f, 2, true, "StatusUpdate", NULL));
	ts_status(f, 1, 0.5);
	json_object_put(ts_for(f, 1, true, "StatusUpdate", NULL));
	json_object_put(ts_for(f, 2, true, "StatusUpdate", NULL));
	ts_nothing_for(f, 3);
	ts_free(f);
}

/* (5) A create whose content is bad still keeps its FIFO place behind an
 * earlier create on the same connection. */
static void test_content_error_in_order(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	ts_create_magnet(f, 1, "a", TS_HASH1);
	ts_req(f, 1, "{\"op\":\"create\",\"tag\":\"b\",\"torrent\":\"!!!\"}");
	ts_assert_drained(f); /* not answered ahead of "a" */
	struct engine_cmd *c1 = ts_cmd(f, ENG_CREATE);
	struct engine_cmd *c2 = ts_cmd(f, ENG_FAIL);
	assert_true(c1->seq < c2->seq);
	assert_non_null(c2->reason);
	assert_non_null(strstr(c2->reason, "base64"));

	ts_created(f, c1, 1, TS_HASH1, "one");
	ts_start_fail(f, c2, c2->reason);
	ts_expect_created(f, 1, "a", 1, TS_HASH1);
	json_object *o = ts_next(f, 1, "StartFail", "b");
	assert_non_null(strstr(ts_str(o, "reason"), "base64"));
	json_object_put(o);

	/* A save_dir the patron may not write also fails in order. */
	f->deny_access = true;
	ts_create_magnet(f, 1, "c", TS_HASH2);
	ts_req(f, 1, "{\"op\":\"create\",\"tag\":\"d\",\"save_dir\":\"/root\","
		     "\"magnet\":\"magnet:?xt=urn:btih:" TS_HASH3 "\"}");
	assert_int_equal(f->access_calls, 1);
	struct engine_cmd *c3 = ts_cmd(f, ENG_CREATE);
	struct engine_cmd *c4 = ts_cmd(f, ENG_FAIL);
	assert_non_null(strstr(c4->reason, "/root"));
	ts_created(f, c3, 2, TS_HASH2, "two");
	ts_start_fail(f, c4, c4->reason);
	ts_expect_created(f, 1, "c", 2, TS_HASH2);
	o = ts_next(f, 1, "StartFail", "d");
	assert_non_null(strstr(ts_str(o, "reason"), "Permission denied"));
	json_object_put(o);
	ts_free(f);
}

/* (6) Close: another user gets forbidden, root may; the requester gets
 * Closed with its tag, the creator and watchers a pushed Closed. */
static void test_close_rules(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11); /* creator */
	service_conn_open(f->s, 2, 1001, 1001, 12); /* another user */
	service_conn_open(f->s, 3, 0, 0, 13);       /* root */
	service_conn_open(f->s, 4, 1000, 1000, 14); /* watcher */
	service_conn_open(f->s, 5, 1000, 1000, 15); /* same user, idle */
	ts_make_torrent(f, 1, 7, TS_HASH1);

	ts_req(f, 4, "{\"op\":\"watch\",\"tag\":\"w\",\"ids\":[7]}");
	json_object_put(ts_next(f, 4, "Watching", "w"));
	json_object_put(ts_for(f, 4, true, "StatusUpdate", NULL));

	ts_req(f, 2, "{\"op\":\"close\",\"tag\":\"no\",\"id\":7}");
	ts_expect_error(f, 2, "no", "forbidden");
	ts_no_cmd(f);
	ts_req(f, 2, "{\"op\":\"close\",\"tag\":\"no2\",\"id\":99}");
	ts_expect_error(f, 2, "no2", "not_found");
	ts_no_cmd(f);

	/* Deleting the data needs write access to it. */
	f->deny_access = true;
	ts_req(f, 1, "{\"op\":\"close\",\"tag\":\"del\",\"id\":7,"
		     "\"delete_files\":true}");
	ts_expect_error(f, 1, "del", "forbidden");
	ts_no_cmd(f);
	f->deny_access = false;

	ts_req(f, 3, "{\"op\":\"close\",\"tag\":\"x\",\"id\":7,"
		     "\"delete_files\":true}");
	struct engine_cmd *c = ts_cmd(f, ENG_CLOSE);
	assert_int_equal(c->id, 7);
	assert_true(c->delete_files);
	ts_assert_drained(f); /* answered when the engine is done */
	ts_done(f, c);

	json_object *o = ts_for(f, 3, false, "Closed", "x");
	assert_int_equal(ts_int(o, "id"), 7);
	json_object_put(o);
	o = ts_for(f, 1, false, "Closed", NULL);
	assert_int_equal(ts_int(o, "id"), 7);
	json_object_put(o);
	o = ts_for(f, 4, false, "Closed", NULL);
	assert_int_equal(ts_int(o, "id"), 7);
	json_object_put(o);
	ts_nothing_for(f, 2);
	ts_nothing_for(f, 5);
	assert_int_equal(service_torrent_count(f->s), 0);

	/* Gone for everyone; a late status for it is ignored. */
	ts_status(f, 7, 1.0);
	ts_req(f, 1, "{\"op\":\"status\",\"tag\":\"s\",\"id\":7}");
	ts_expect_error(f, 1, "s", "not_found");
	ts_free(f);
}

/* The creator closing its own torrent gets one Closed, with its tag; the
 * daemon's own user may close anybody's; pause/resume answer by name. */
static void test_control_answers(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, TS_DAEMON_UID, TS_DAEMON_UID, 12);
	ts_make_torrent(f, 1, 1, TS_HASH1);
	ts_make_torrent(f, 1, 2, TS_HASH2);

	ts_req(f, 2, "{\"op\":\"pause\",\"tag\":\"p\",\"id\":1}");
	struct engine_cmd *c = ts_cmd(f, ENG_PAUSE);
	ts_done(f, c);
	json_object *o = ts_next(f, 2, "Paused", "p");
	assert_int_equal(ts_int(o, "id"), 1);
	json_object_put(o);

	ts_req(f, 1, "{\"op\":\"resume\",\"tag\":\"r\",\"id\":1}");
	c = ts_cmd(f, ENG_RESUME);
	struct engine_event *ev = ts_event(EV_FAILED, c->seq, 1);
	ev->cmd = ENG_RESUME;
	ev->reason = strdup("libtorrent says no");
	service_engine_event(f->s, ev);
	o = ts_next(f, 1, "Error", "r");
	assert_string_equal(ts_str(o, "code"), "internal");
	assert_string_equal(ts_str(o, "reason"), "libtorrent says no");
	json_object_put(o);

	ts_req(f, 1, "{\"op\":\"close\",\"tag\":\"x\",\"id\":2}");
	ts_done(f, ts_cmd(f, ENG_CLOSE));
	o = ts_next(f, 1, "Closed", "x");
	json_object_put(o);
	ts_nothing_for(f, 1);
	assert_int_equal(service_torrent_count(f->s), 1);
	ts_free(f);
}

/* Requests that lose a race with a close sent before them: the engine
 * fails them (no such torrent), and the answer is not_found, not
 * internal.  service_conn_owed() counts every request until its one
 * answer, engine-answered ones included. */
static void test_race_with_close(void **state)
{
	static const enum engine_cmd_type types[] = {
		ENG_CLOSE, ENG_PAUSE, ENG_RESUME, ENG_REANNOUNCE };
	static const char *const ops[] = {
		"close", "pause", "resume", "reannounce" };
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	ts_make_torrent(f, 1, 1, TS_HASH1);
	assert_int_equal(service_conn_owed(f->s, 1), 0);

	char line[128];
	ts_req(f, 1, "{\"op\":\"close\",\"tag\":\"first\",\"id\":1}");
	struct engine_cmd *first = ts_cmd(f, ENG_CLOSE);
	struct engine_cmd *later[4];
	for (size_t i = 0; i < 4; i++) {
		snprintf(line, sizeof line,
			 "{\"op\":\"%s\",\"tag\":\"%s\",\"id\":1}", ops[i],
			 ops[i]);
		ts_req(f, 1, line);
		later[i] = ts_cmd(f, types[i]);
	}
	assert_int_equal(service_conn_owed(f->s, 1), 5);
	ts_done(f, first);
	json_object_put(ts_next(f, 1, "Closed", "first"));
	assert_int_equal(service_conn_owed(f->s, 1), 4);
	for (size_t i = 0; i < 4; i++) {
		struct engine_event *ev = ts_event(EV_FAILED, later[i]->seq, 1);
		ev->cmd = types[i];
		ev->reason = strdup("no such torrent");
		service_engine_event(f->s, ev);
		ts_expect_error(f, 1, ops[i], "not_found");
	}
	assert_int_equal(service_conn_owed(f->s, 1), 0);
	/* Answered at once: counted and paid at once. */
	ts_req(f, 1, "{\"op\":\"status\",\"tag\":\"s\",\"id\":1}");
	ts_expect_error(f, 1, "s", "not_found");
	assert_int_equal(service_conn_owed(f->s, 1), 0);
	ts_free(f);
}

/* (7) Status pushes reach the creator and watchers only; watching an
 * invisible torrent is forbidden; watch-all covers later torrents. */
static void test_status_and_watch(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1001, 1001, 12);
	service_conn_open(f->s, 3, 1000, 1000, 13);
	service_conn_open(f->s, 4, 0, 0, 14);

	/* Root watches everything, before anything exists. */
	ts_req(f, 4, "{\"op\":\"watch\",\"tag\":\"all\"}");
	json_object *o = ts_next(f, 4, "Watching", "all");
	json_object *v;
	assert_true(json_object_object_get_ex(o, "ids", &v));
	assert_int_equal(json_object_array_length(v), 0);
	assert_true(json_object_object_get_ex(o, "all", &v));
	assert_true(json_object_get_boolean(v));
	json_object_put(o);

	ts_make_torrent(f, 1, 1, TS_HASH1);
	ts_make_torrent(f, 2, 2, TS_HASH2);

	ts_status(f, 1, 0.5);
	o = ts_for(f, 1, true, "StatusUpdate", NULL);
	assert_int_equal(ts_int(o, "id"), 1);
	assert_int_equal(ts_int(o, "owner"), 1000);
	assert_int_equal(ts_int(o, "done_bytes"), 500);
	assert_string_equal(ts_str(o, "state"), "downloading");
	json_object_put(o);
	json_object_put(ts_for(f, 4, true, "StatusUpdate", NULL));
	ts_nothing_for(f, 2);
	ts_nothing_for(f, 3);

	ts_status(f, 2, 0.1);
	o = ts_for(f, 2, true, "StatusUpdate", NULL);
	assert_int_equal(ts_int(o, "owner"), 1001);
	json_object_put(o);
	json_object_put(ts_for(f, 4, true, "StatusUpdate", NULL));
	ts_nothing_for(f, 1);
	ts_nothing_for(f, 3);

	/* Another user's torrent cannot be watched, nor one among others. */
	ts_req(f, 3, "{\"op\":\"watch\",\"tag\":\"w\",\"ids\":[2]}");
	ts_expect_error(f, 3, "w", "forbidden");
	ts_req(f, 3, "{\"op\":\"watch\",\"tag\":\"w2\",\"ids\":[1,2]}");
	ts_expect_error(f, 3, "w2", "forbidden");
	ts_status(f, 1, 0.6); /* so conn 3 still watches nothing */
	json_object_put(ts_for(f, 1, true, "StatusUpdate", NULL));
	json_object_put(ts_for(f, 4, true, "StatusUpdate", NULL));
	ts_nothing_for(f, 3);

	/* Watch all: Watching with the visible ids, then their status. */
	ts_req(f, 3, "{\"op\":\"watch\",\"tag\":\"a\"}");
	o = ts_next(f, 3, "Watching", "a");
	assert_true(json_object_object_get_ex(o, "ids", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(v, 0)),
			 1);
	json_object_put(o);
	o = ts_for(f, 3, true, "StatusUpdate", NULL);
	assert_int_equal(ts_int(o, "id"), 1);
	assert_int_equal(ts_int(o, "done_bytes"), 600);
	json_object_put(o);
	ts_assert_drained(f);
	/* Watching all is all the caller may see: not another user's. */
	ts_status(f, 2, 0.2);
	json_object_put(ts_for(f, 2, true, "StatusUpdate", NULL));
	json_object_put(ts_for(f, 4, true, "StatusUpdate", NULL));
	ts_nothing_for(f, 3);

	/* Root's watch-all sees both, with a StatusUpdate each. */
	ts_req(f, 4, "{\"op\":\"watch\",\"tag\":\"again\"}");
	o = ts_next(f, 4, "Watching", "again");
	assert_true(json_object_object_get_ex(o, "ids", &v));
	assert_int_equal(json_object_array_length(v), 2);
	int64_t sum = 0;
	for (size_t i = 0; i < 2; i++)
		sum += json_object_get_int64(json_object_array_get_idx(v, i));
	assert_int_equal(sum, 3);
	json_object_put(o);
	json_object *u1 = ts_for(f, 4, true, "StatusUpdate", NULL);
	json_object *u2 = ts_for(f, 4, true, "StatusUpdate", NULL);
	assert_int_equal(ts_int(u1, "id") + ts_int(u2, "id"), 3);
	json_object_put(u1);
	json_object_put(u2);

	/* Unwatch everything: only the creator gets pushes again. */
	ts_req(f, 3, "{\"op\":\"unwatch\",\"tag\":\"u\"}");
	json_object_put(ts_next(f, 3, "Unwatched", "u"));
	ts_status(f, 1, 0.7);
	json_object_put(ts_for(f, 1, true, "StatusUpdate", NULL));
	json_object_put(ts_for(f, 4, true, "StatusUpdate", NULL));
	ts_nothing_for(f, 3);

	/* After the creator leaves, a status goes to watchers only. */
	service_conn_close(f->s, 1);
	ts_status(f, 1, 0.8);
	json_object_put(ts_for(f, 4, true, "StatusUpdate", NULL));
	ts_free(f);
}

/* Watch by id, then unwatch by id. */
static void test_watch_ids(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1000, 1000, 12);
	ts_make_torrent(f, 1, 1, TS_HASH1);
	ts_make_torrent(f, 1, 2, TS_HASH2);

	ts_req(f, 2, "{\"op\":\"watch\",\"tag\":1,\"ids\":[2]}");
	json_object *o = ts_next(f, 2, "Watching", "1");
	json_object *v;
	assert_true(json_object_object_get_ex(o, "ids", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_false(json_object_object_get_ex(o, "all", NULL));
	json_object_put(o);
	o = ts_for(f, 2, true, "StatusUpdate", NULL);
	assert_int_equal(ts_int(o, "id"), 2);
	json_object_put(o);

	ts_status(f, 1, 0.5);
	json_object_put(ts_for(f, 1, true, "StatusUpdate", NULL));
	ts_nothing_for(f, 2);
	ts_status(f, 2, 0.5);
	json_object_put(ts_for(f, 1, true, "StatusUpdate", NULL));
	json_object_put(ts_for(f, 2, true, "StatusUpdate", NULL));

	ts_req(f, 2, "{\"op\":\"unwatch\",\"tag\":2,\"ids\":[2]}");
	json_object_put(ts_next(f, 2, "Unwatched", "2"));
	ts_status(f, 2, 0.6);
	json_object_put(ts_for(f, 1, true, "StatusUpdate", NULL));
	ts_nothing_for(f, 2);
	ts_free(f);
}

/* (8) The (max_pending+1)th create on one connection is refused busy;
 * other connections are unaffected, and the slot frees on the answer. */
static void test_max_pending(void **state)
{
	struct ts_fake *f = ts_new(2);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1000, 1000, 12);
	ts_create_magnet(f, 1, "a", TS_HASH1);
	ts_req(f, 1, "{\"op\":\"create\",\"tag\":\"b\","
		     "\"path\":\"/tmp/x.torrent\"}");
	ts_create_magnet(f, 1, "c", TS_HASH3);
	ts_expect_error(f, 1, "c", "busy");
	assert_int_equal(f->n_cmds, 1);
	assert_int_equal(f->n_jobs, 1);
	/* A seed counts too, and other ops still work. */
	ts_req(f, 1, "{\"op\":\"seed\",\"tag\":\"s\",\"path\":\"/tmp/d\","
		     "\"trackers\":[\"http://127.0.0.1:1/announce\"],"
		     "\"torrent_out\":\"/tmp/d.torrent\"}");
	ts_expect_error(f, 1, "s", "busy");
	assert_int_equal(f->n_jobs, 1);
	ts_req(f, 1, "{\"op\":\"hello\",\"tag\":\"h\"}");
	json_object_put(ts_next(f, 1, "Hello", "h"));

	ts_create_magnet(f, 2, "other", TS_HASH3);
	struct engine_cmd *c1 = ts_cmd(f, ENG_CREATE);
	struct engine_cmd *c2 = ts_cmd(f, ENG_CREATE);

	ts_created(f, c1, 1, TS_HASH1, "one");
	ts_expect_created(f, 1, "a", 1, TS_HASH1);
	ts_create_magnet(f, 1, "d", TS_HASH2);
	ts_create_magnet(f, 1, "e", TS_HASH2);
	ts_expect_error(f, 1, "e", "busy");
	struct engine_cmd *c3 = ts_cmd(f, ENG_CREATE);
	ts_no_cmd(f);
	ts_created(f, c2, 3, TS_HASH3, "three");
	ts_expect_created(f, 2, "other", 3, TS_HASH3);
	ts_created(f, c3, 2, TS_HASH2, "two");
	ts_expect_created(f, 1, "d", 2, TS_HASH2);

	/* The path job finishing frees the last slot. */
	struct work_job *j = f->jobs[0];
	f->n_jobs = 0;
	j->error = strdup("cannot read /tmp/x.torrent");
	service_work_done(f->s, j);
	json_object_put(ts_next(f, 1, "StartFail", "b"));
	ts_create_magnet(f, 1, "f", "2222222222222222222222222222222222222222");
	ts_create_magnet(f, 1, "g", "3333333333333333333333333333333333333333");
	assert_int_equal(f->n_cmds - f->next_cmd, 2);
	f->next_cmd = f->n_cmds; /* left unanswered: freed with the service */
	ts_create_magnet(f, 1, "h", "4444444444444444444444444444444444444444");
	ts_expect_error(f, 1, "h", "busy");
	ts_free(f);
}

/* (9) Worker results: an error is a StartFail to the asker at once; data
 * becomes an ENG_CREATE taking its place in the FIFO then. */
static void test_work_done(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1001, 1002, 12);
	ts_req(f, 1, "{\"op\":\"create\",\"tag\":\"p\","
		     "\"path\":\"/home/u/a.torrent\",\"save_dir\":\"/home/u/dl\","
		     "\"peers\":[\"127.0.0.1:6881\"],\"paused\":true}");
	ts_req(f, 2, "{\"op\":\"create\",\"tag\":\"u\","
		     "\"url\":\"http://127.0.0.1:1/b.torrent\"}");
	ts_create_magnet(f, 1, "m", TS_HASH1);
	assert_int_equal(f->n_jobs, 2);
	struct work_job *jp = f->jobs[0], *ju = f->jobs[1];
	f->n_jobs = 0;
	assert_int_equal(jp->kind, WORK_READ_TORRENT);
	assert_string_equal(jp->path, "/home/u/a.torrent");
	assert_int_equal(jp->uid, 1000);
	assert_int_equal(jp->gid, 1000);
	assert_true(jp->max_bytes > 0);
	assert_int_equal(ju->kind, WORK_FETCH_URL);
	assert_string_equal(ju->url, "http://127.0.0.1:1/b.torrent");
	assert_int_equal(ju->uid, 1001);
	assert_int_equal(ju->gid, 1002);
	assert_true(ju->timeout_s > 0);
	struct engine_cmd *cm = ts_cmd(f, ENG_CREATE);
	ts_no_cmd(f);
	ts_assert_drained(f);

	ju->error = strdup("HTTP 404 from 127.0.0.1");
	service_work_done(f->s, ju);
	json_object *o = ts_next(f, 2, "StartFail", "u");
	assert_string_equal(ts_str(o, "reason"), "HTTP 404 from 127.0.0.1");
	json_object_put(o);

	jp->data = (unsigned char *)strdup("d8:announce0:e");
	jp->len = strlen("d8:announce0:e");
	service_work_done(f->s, jp);
	struct engine_cmd *cp = ts_cmd(f, ENG_CREATE);
	assert_true(cm->seq < cp->seq);
	assert_int_equal(cp->torrent_len, strlen("d8:announce0:e"));
	assert_memory_equal(cp->torrent, "d8:announce0:e", cp->torrent_len);
	assert_null(cp->magnet);
	assert_string_equal(cp->save_dir, "/home/u/dl");
	assert_int_equal(cp->n_peers, 1);
	assert_string_equal(cp->peers[0], "127.0.0.1:6881");
	assert_true(cp->paused);
	assert_false(cp->have_all);
	assert_int_equal(cp->owner, 1000);
	ts_assert_drained(f);

	ts_created(f, cm, 1, TS_HASH1, "m");
	ts_created(f, cp, 2, TS_HASH2, "p");
	ts_expect_created(f, 1, "m", 1, TS_HASH1);
	o = ts_next(f, 1, "NewTorrentCreated", "p");
	assert_string_equal(ts_str(o, "save_path"), "/home/u/dl");
	json_object_put(o);
	ts_free(f);
}

/* A path create whose connection closed while the worker read: the
 * torrent is still created for the user, and nobody gets the answer. */
static void test_work_done_gone(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1003, 1003, 11);
	service_conn_open(f->s, 2, 1000, 1000, 12);
	ts_req(f, 1, "{\"op\":\"create\",\"tag\":\"p\","
		     "\"path\":\"/home/v/a.torrent\"}");
	ts_req(f, 1, "{\"op\":\"create\",\"tag\":\"q\","
		     "\"path\":\"/home/v/b.torrent\"}");
	struct work_job *j1 = f->jobs[0], *j2 = f->jobs[1];
	f->n_jobs = 0;
	service_conn_close(f->s, 1);

	j2->error = strdup("no such file");
	service_work_done(f->s, j2);
	ts_assert_drained(f);

	j1->data = (unsigned char *)strdup("d4:infod4:name1:xee");
	j1->len = strlen("d4:infod4:name1:xee");
	service_work_done(f->s, j1);
	struct engine_cmd *c = ts_cmd(f, ENG_CREATE);
	assert_int_equal(c->owner, 1003);
	ts_create_magnet(f, 2, "m", TS_HASH2);
	struct engine_cmd *c2 = ts_cmd(f, ENG_CREATE);
	ts_created(f, c, 1, TS_HASH1, "x");
	ts_created(f, c2, 2, TS_HASH2, "y");
	ts_expect_created(f, 2, "m", 2, TS_HASH2);

	service_conn_open(f->s, 3, 1003, 1003, 13);
	int64_t ids[4];
	uid_t owners[4];
	assert_int_equal(ts_list(f, 3, ids, owners, 4), 1);
	assert_int_equal(ids[0], 1);
	assert_int_equal(owners[0], 1003);
	ts_free(f);
}

/* Seed: a tracker is needed; the made torrent is seeded from where the
 * data lies and the answer names torrent_out. */
static void test_seed(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	ts_req(f, 1, "{\"op\":\"seed\",\"tag\":\"n\",\"path\":\"/srv/x\","
		     "\"torrent_out\":\"/tmp/x.torrent\"}");
	struct engine_cmd *cf = ts_cmd(f, ENG_FAIL);
	assert_non_null(strstr(cf->reason, "tracker"));
	ts_start_fail(f, cf, cf->reason);
	json_object_put(ts_next(f, 1, "StartFail", "n"));

	ts_req(f, 1, "{\"op\":\"seed\",\"tag\":\"s\",\"path\":\"/srv/data/x\","
		     "\"trackers\":[\"http://127.0.0.1:6969/announce\"],"
		     "\"torrent_out\":\"/tmp/x.torrent\",\"version\":\"hybrid\","
		     "\"private\":true}");
	assert_int_equal(f->n_jobs, 1);
	struct work_job *j = f->jobs[0];
	f->n_jobs = 0;
	assert_int_equal(j->kind, WORK_MAKE_TORRENT);
	assert_string_equal(j->path, "/srv/data/x");
	assert_int_equal(j->n_trackers, 1);
	assert_string_equal(j->trackers[0], "http://127.0.0.1:6969/announce");
	assert_string_equal(j->out_path, "/tmp/x.torrent");
	assert_int_equal(j->version, 3);
	assert_true(j->private_flag);
	j->data = (unsigned char *)strdup("d4:infod4:name1:xee");
	j->len = strlen("d4:infod4:name1:xee");
	service_work_done(f->s, j);
	struct engine_cmd *c = ts_cmd(f, ENG_CREATE);
	assert_string_equal(c->save_dir, "/srv/data");
	assert_true(c->have_all);
	ts_created(f, c, 1, TS_HASH1, "x");
	json_object *o = ts_next(f, 1, "NewTorrentCreated", "s");
	assert_string_equal(ts_str(o, "torrent_out"), "/tmp/x.torrent");
	assert_string_equal(ts_str(o, "save_path"), "/srv/data");
	json_object_put(o);

	/* A file at the root is seeded from "/". */
	ts_req(f, 1, "{\"op\":\"seed\",\"tag\":\"r\",\"path\":\"/x\","
		     "\"trackers\":[\"http://127.0.0.1:6969/announce\"],"
		     "\"torrent_out\":\"/tmp/y.torrent\"}");
	j = f->jobs[0];
	f->n_jobs = 0;
	j->data = (unsigned char *)strdup("d4:infod4:name1:yee");
	j->len = strlen("d4:infod4:name1:yee");
	service_work_done(f->s, j);
	c = ts_cmd(f, ENG_CREATE);
	assert_string_equal(c->save_dir, "/");
	ts_duplicate(f, c, 1, TS_HASH1);
	o = ts_next(f, 1, "AlreadyDownloading", "r");
	assert_int_equal(ts_int(o, "id"), 1);
	json_object_put(o);
	ts_free(f);
}

/* Torrents restored from the state dir belong to their saved owner and
 * have no creator connection; EV_LOADED ends the loading phase. */
static void test_restored(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1001, 1001, 12);
	ts_req(f, 1, "{\"op\":\"info\",\"tag\":\"i\"}");
	json_object *o = ts_next(f, 1, "Info", "i");
	json_object *v;
	assert_true(json_object_object_get_ex(o, "loading", &v));
	assert_true(json_object_get_boolean(v));
	json_object_put(o);

	struct engine_event *ev = ts_event(EV_RESTORED, 0, 3);
	ev->owner = 1000;
	snprintf(ev->info_hash, sizeof ev->info_hash, "%s", TS_HASH1);
	ev->name = strdup("old");
	ev->save_path = strdup("/srv/old");
	service_engine_event(f->s, ev);
	ev = ts_event(EV_RESTORED, 0, 5);
	ev->owner = 1001;
	snprintf(ev->info_hash, sizeof ev->info_hash, "%s", TS_HASH2);
	ev->name = strdup("older");
	ev->save_path = strdup("/srv/older");
	/* The state it was saved in, until the restore's status pass: a
	 * torrent its ratio limit paused reads as paused. */
	ev->status.id = 5;
	ev->status.name = strdup("older");
	snprintf(ev->status.info_hash, sizeof ev->status.info_hash, "%s",
		 TS_HASH2);
	ev->status.state = "checking_resume_data";
	ev->status.paused = true;
	ev->status.stop_reason = "ratio";
	ev->status.save_path = strdup("/srv/older");
	service_engine_event(f->s, ev);
	ts_assert_drained(f);
	assert_int_equal(f->loaded_calls, 0);
	service_engine_event(f->s, ts_event(EV_LOADED, 0, 0));
	assert_int_equal(f->loaded_calls, 1);
	assert_int_equal(service_torrent_count(f->s), 2);

	int64_t ids[4];
	uid_t owners[4];
	assert_int_equal(ts_list(f, 1, ids, owners, 4), 1);
	assert_int_equal(ids[0], 3);
	assert_int_equal(owners[0], 1000);
	assert_int_equal(ts_list(f, 2, ids, owners, 4), 1);
	assert_int_equal(ids[0], 5);
	ts_req(f, 2, "{\"op\":\"status\",\"id\":5,\"tag\":\"s\"}");
	o = ts_next(f, 2, "Status", "s");
	assert_true(json_object_object_get_ex(o, "paused", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "stop_reason", &v));
	assert_string_equal(json_object_get_string(v), "ratio");
	assert_int_equal(ts_int(o, "owner"), 1001);
	json_object_put(o);
	/* No creator: a status reaches nobody until someone watches. */
	ts_status(f, 3, 0.5);
	ts_assert_drained(f);
	ts_req(f, 1, "{\"op\":\"info\",\"tag\":\"j\"}");
	o = ts_next(f, 1, "Info", "j");
	assert_true(json_object_object_get_ex(o, "loading", &v));
	assert_false(json_object_get_boolean(v));
	assert_int_equal(ts_int(o, "torrents"), 1);
	json_object_put(o);
	ts_free(f);
}

/* (10) An engine answer with an unknown seq is ignored; one out of order
 * is still routed by its seq. */
static void test_sequence_drift(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1001, 1001, 12);
	ts_create_magnet(f, 1, "a", TS_HASH1);
	ts_create_magnet(f, 2, "b", TS_HASH2);
	struct engine_cmd *c1 = ts_cmd(f, ENG_CREATE);
	struct engine_cmd *c2 = ts_cmd(f, ENG_CREATE);

	struct engine_event *ev = ts_event(EV_CREATED, 9999, 5);
	snprintf(ev->info_hash, sizeof ev->info_hash, "%s", TS_HASH3);
	ev->name = strdup("ghost");
	ev->save_path = strdup("/nowhere");
	service_engine_event(f->s, ev);
	service_engine_event(f->s, ts_event(EV_DONE, 0, 5));
	ev = ts_event(EV_START_FAIL, 12345, 0);
	ev->reason = strdup("ghost");
	service_engine_event(f->s, ev);
	ts_status(f, 77, 0.5); /* unknown torrent */
	ts_assert_drained(f);
	assert_int_equal(service_torrent_count(f->s), 0);
	assert_int_equal(service_pending_count(f->s), 2);

	/* Out of order: still each to its own asker. */
	ts_created(f, c2, 2, TS_HASH2, "two");
	ts_expect_created(f, 2, "b", 2, TS_HASH2);
	ts_created(f, c1, 1, TS_HASH1, "one");
	ts_expect_created(f, 1, "a", 1, TS_HASH1);
	/* Answered twice: the second is unknown now. */
	ts_created(f, c1, 1, TS_HASH1, "one");
	assert_int_equal(service_pending_count(f->s), 0);
	assert_int_equal(service_torrent_count(f->s), 2);
	ts_free(f);
}

/* Requests answered at once; a request from an unknown connection is
 * dropped without a crash. */
/* info shows what the engine last said it runs with: an unasked
 * EV_SESSION (start, new port) and the answer to a SIGHUP reload, which
 * goes through the FIFO like session_set and is answered to nobody. */
static void test_info_follows_the_engine(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 0, 0, 11);
	struct engine_event *ev = ts_event(EV_SESSION, 0, 0);
	ev->session.dht = true;
	ev->session.encryption = TP_ENC_FORCED;
	ev->net.listen = strdup("127.0.0.1:7000");
	ev->net.download_dir = strdup("/srv/a");
	ev->net.listen_port = 7000;
	ev->net.tcp = true;
	service_engine_event(f->s, ev);
	ts_req(f, 1, "{\"op\":\"info\",\"tag\":\"i\"}");
	json_object *o = ts_next(f, 1, "Info", "i");
	assert_int_equal(ts_int(o, "listen_port"), 7000);
	assert_string_equal(ts_str(o, "download_dir"), "/srv/a");
	assert_string_equal(ts_str(o, "listen"), "127.0.0.1:7000");
	assert_string_equal(ts_str(o, "encryption"), "require");
	json_object_put(o);

	struct tp_session ses = {.has = TP_SES_ALL, .pex = true};
	struct engine_net net = {.listen = strdup("127.0.0.1:7001"),
				 .download_dir = strdup("/srv/b")};
	service_reload_engine(f->s, &ses, &net);
	struct engine_cmd *c = ts_cmd(f, ENG_SESSION);
	assert_true(c->reload);
	assert_string_equal(c->net.listen, "127.0.0.1:7001");
	ev = ts_event(EV_SESSION, c->seq, 0);
	ev->session.pex = true;
	ev->net.listen = strdup("127.0.0.1:7001");
	ev->net.download_dir = strdup("/srv/b");
	ev->net.listen_port = 7001;
	service_engine_event(f->s, ev);
	ts_req(f, 1, "{\"op\":\"info\",\"tag\":\"j\"}");
	o = ts_next(f, 1, "Info", "j");
	assert_int_equal(ts_int(o, "listen_port"), 7001);
	assert_string_equal(ts_str(o, "download_dir"), "/srv/b");
	json_object *v;
	assert_true(json_object_object_get_ex(o, "pex", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "dht", &v));
	assert_false(json_object_get_boolean(v));
	json_object_put(o);
	ts_free(f);
}

static void test_immediate_ops(void **state)
{
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1001, 1001, 12);
	ts_make_torrent(f, 1, 1, TS_HASH1);

	ts_req(f, 1, "{\"op\":\"hello\",\"tag\":true,\"version\":1}");
	json_object *o = ts_next(f, 1, "Hello", "true");
	assert_int_equal(ts_int(o, "protocol"), TP_PROTOCOL_VERSION);
	json_object_put(o);

	ts_req(f, 2, "{\"op\":\"info\",\"tag\":\"i\"}");
	o = ts_next(f, 2, "Info", "i");
	assert_int_equal(ts_int(o, "torrents"), 0);
	assert_int_equal(ts_int(o, "uid"), 1001);
	assert_int_equal(ts_int(o, "connections"), 2);
	assert_int_equal(ts_int(o, "listen_port"), 6881);
	assert_string_equal(ts_str(o, "download_dir"), "/var/lib/tpd/downloads");
	json_object_put(o);
	ts_req(f, 1, "{\"op\":\"info\"}");
	o = ts_next(f, 1, "Info", NULL);
	assert_int_equal(ts_int(o, "torrents"), 1);
	json_object_put(o);

	ts_req(f, 1, "{\"op\":\"status\",\"tag\":\"s\",\"id\":1}");
	o = ts_next(f, 1, "Status", "s");
	assert_int_equal(ts_int(o, "id"), 1);
	assert_string_equal(ts_str(o, "info_hash"), TS_HASH1);
	assert_int_equal(ts_int(o, "owner"), 1000);
	json_object_put(o);
	ts_req(f, 2, "{\"op\":\"status\",\"tag\":\"s\",\"id\":1}");
	ts_expect_error(f, 2, "s", "forbidden");

	size_t before = f->n_out;
	ts_req(f, 42, "{\"op\":\"hello\"}");
	ts_create_magnet(f, 42, "z", TS_HASH2);
	ts_no_cmd(f);
	assert_int_equal(f->n_out, before);
	ts_free(f);
}

/* (steering) The op table's checks: session_set is daemon-wide (root and
 * the daemon's user only), set/files/move need a torrent the caller owns,
 * set reaches the engine with its fields and answers Set; Session and
 * Files come from the engine's events; a move is answered only when it
 * ends. */
static void test_steering_ops(void **state)
{
	(void)state;
	struct ts_fake *f = ts_new(0);
	service_conn_open(f->s, 1, 1000, 1000, 11);
	service_conn_open(f->s, 2, 1001, 1001, 12);
	service_conn_open(f->s, 3, TS_DAEMON_UID, TS_DAEMON_UID, 13);
	ts_create_magnet(f, 1, "a", TS_HASH1);
	ts_created(f, ts_cmd(f, ENG_CREATE), 1, TS_HASH1, "one");
	ts_expect_created(f, 1, "a", 1, TS_HASH1);

	ts_req(f, 1, "{\"op\":\"session_set\",\"tag\":\"ss\",\"alt_speed\":true}");
	ts_expect_error(f, 1, "ss", "forbidden");
	ts_req(f, 2, "{\"op\":\"set\",\"tag\":\"s2\",\"id\":1,\"labels\":[\"x\"]}");
	ts_expect_error(f, 2, "s2", "forbidden");
	ts_req(f, 2, "{\"op\":\"files\",\"tag\":\"f2\",\"id\":1}");
	ts_expect_error(f, 2, "f2", "forbidden");
	ts_req(f, 2, "{\"op\":\"move\",\"tag\":\"m2\",\"id\":1,\"save_dir\":\"/x\"}");
	ts_expect_error(f, 2, "m2", "forbidden");
	ts_req(f, 1, "{\"op\":\"set\",\"tag\":\"s9\",\"id\":9,\"labels\":[]}");
	ts_expect_error(f, 1, "s9", "not_found");
	ts_no_cmd(f);

	/* The owner's set goes to the engine whole. */
	ts_req(f, 1, "{\"op\":\"set\",\"tag\":\"s1\",\"id\":1,"
		     "\"labels\":[\"x\",\"y\"],\"download_limit\":5}");
	struct engine_cmd *c = ts_cmd(f, ENG_SET);
	assert_int_equal(c->id, 1);
	assert_int_equal(c->tset.has, TP_TSET_LABELS | TP_TSET_DOWNLOAD_LIMIT);
	assert_int_equal(c->tset.n_labels, 2);
	ts_done(f, c);
	json_object *o = ts_next(f, 1, "Set", "s1");
	json_object_put(o);

	/* The daemon's user may change the daemon. */
	ts_req(f, 3, "{\"op\":\"session_set\",\"tag\":\"s3\",\"alt_speed\":true}");
	c = ts_cmd(f, ENG_SESSION);
	assert_true(c->session.has & TP_SES_ALT_SPEED);
	struct engine_event *ev = ts_event(EV_SESSION, c->seq, 0);
	ev->session.alt_speed = true;
	ev->session.max_active_downloads = 5;
	service_engine_event(f->s, ev);
	o = ts_next(f, 3, "Session", "s3");
	json_object *v;
	assert_true(json_object_object_get_ex(o, "alt_speed", &v));
	assert_true(json_object_get_boolean(v));
	json_object_put(o);

	/* files: the engine's array, under "files". */
	ts_req(f, 1, "{\"op\":\"files\",\"tag\":\"fl\",\"id\":1}");
	c = ts_cmd(f, ENG_FILES);
	ev = ts_event(EV_DETAIL, c->seq, 1);
	ev->cmd = ENG_FILES;
	ev->detail = json_object_new_array();
	service_engine_event(f->s, ev);
	o = ts_next(f, 1, "Files", "fl");
	assert_true(json_object_object_get_ex(o, "files", &v));
	json_object_put(o);

	/* move: begun (no answer yet), other answers meanwhile, then Moved. */
	ts_req(f, 1, "{\"op\":\"move\",\"tag\":\"mv\",\"id\":1,\"save_dir\":\"/new\"}");
	c = ts_cmd(f, ENG_MOVE);
	assert_string_equal(c->save_dir, "/new");
	ts_done(f, c);
	ts_nothing_for(f, 1);
	ts_req(f, 1, "{\"op\":\"status\",\"tag\":\"st\",\"id\":1}");
	json_object_put(ts_next(f, 1, "Status", "st"));
	ev = ts_event(EV_MOVED, 0, 1);
	ev->save_path = strdup("/new");
	service_engine_event(f->s, ev);
	o = ts_next(f, 1, "Moved", "mv");
	assert_string_equal(ts_str(o, "save_path"), "/new");
	json_object_put(o);
	/* A torrent closed mid-move: the move is answered all the same. */
	ts_req(f, 1, "{\"op\":\"move\",\"tag\":\"mv2\",\"id\":1,\"save_dir\":\"/b\"}");
	ts_done(f, ts_cmd(f, ENG_MOVE));
	ts_req(f, 1, "{\"op\":\"close\",\"tag\":\"cl\",\"id\":1}");
	ts_done(f, ts_cmd(f, ENG_CLOSE));
	ts_expect_error(f, 1, "mv2", "not_found");
	json_object_put(ts_next(f, 1, "Closed", "cl"));
	ts_assert_drained(f);
	ts_free(f);
}

int main(void)
{
	/* The service logs the drift it recovers from; keep it quiet. */
	log_set_level(LOG_LVL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_routing),
		cmocka_unit_test(test_gone_connection),
		cmocka_unit_test(test_start_fail_between),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_content_error_in_order),
		cmocka_unit_test(test_close_rules),
		cmocka_unit_test(test_control_answers),
		cmocka_unit_test(test_status_and_watch),
		cmocka_unit_test(test_watch_ids),
		cmocka_unit_test(test_max_pending),
		cmocka_unit_test(test_work_done),
		cmocka_unit_test(test_work_done_gone),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_restored),
		cmocka_unit_test(test_sequence_drift),
		cmocka_unit_test(test_immediate_ops),
		cmocka_unit_test(test_info_follows_the_engine),
		cmocka_unit_test(test_race_with_close),
		cmocka_unit_test(test_steering_ops),
	};
	return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
