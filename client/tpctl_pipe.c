/*
 * tpctl_pipe.c - `tpctl pipe`, the cookbook tool: reads file:/torrent:/
 * magnet: lines on stdin (grammar in pipe_parse.h), sends one request per
 * line without waiting for answers (each with its own tag), and prints
 * ID:NAME:-1 when a torrent is created, then ID:NAME:PERCENT whenever its
 * integer percent rises.  At end of input it stays until every torrent it
 * started is complete.  Single-threaded: one poll() over stdin and the
 * daemon's socket, since a parent program may feed stdin slowly.
 */
#include "tpctl.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipe_parse.h"
#include "proto.h"

/* Longest stdin line accepted; longer ones are reported and skipped. */
#define PIPE_LINE_MAX (1024 * 1024)
#define PIPE_READ_CHUNK 4096

/* A request sent and not answered yet. */
struct pipe_pending {
	int64_t tag;
	unsigned long line;  /* the stdin line it came from */
	int64_t id;          /* watch: the torrent watched; create: -1 */
};

/* A torrent this run started (or was told is already downloading). */
struct pipe_torrent {
	int64_t id;
	char *name;
	int pct;             /* last percent printed; -1 = just announced */
	bool announced;      /* ID:NAME:-1 printed */
	bool done;           /* complete, failed or closed: not waited for */
};

struct pipe_state {
	const struct tpctl_args *a;
	tpc *c;
	char *cwd;
	char *torrent_dir;
	struct pipe_pending *pend;
	size_t n_pend, cap_pend;
	struct pipe_torrent *tor;
	size_t n_tor, cap_tor;
	/* stdin line reader */
	char *in;
	size_t in_len, in_cap;
	bool in_eof, in_skip;
	unsigned long lineno;
};

__attribute__((format(printf, 2, 3)))
static void pipe_warn(unsigned long line, const char *fmt, ...)
{
	va_list ap;

	if (line)
		fprintf(stderr, "tpctl pipe: line %lu: ", line);
	else
		fprintf(stderr, "tpctl pipe: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int pipe_add_pending(struct pipe_state *ps, int64_t tag,
			    unsigned long line, int64_t id)
{
	if (ps->n_pend == ps->cap_pend) {
		size_t ncap = ps->cap_pend ? ps->cap_pend * 2 : 16;
		struct pipe_pending *np = realloc(ps->pend, ncap * sizeof *np);

		if (!np)
			return -1;
		ps->pend = np;
		ps->cap_pend = ncap;
	}
	ps->pend[ps->n_pend++] = (struct pipe_pending){ tag, line, id };
	return 0;
}

/* Removes and returns the pending request with this tag. */
static bool pipe_take_pending(struct pipe_state *ps, int64_t tag,
			      struct pipe_pending *out)
{
	size_t i;

	for (i = 0; i < ps->n_pend; i++) {
		if (ps->pend[i].tag != tag)
			continue;
		*out = ps->pend[i];
		ps->pend[i] = ps->pend[--ps->n_pend];
		return true;
	}
	return false;
}

static struct pipe_torrent *pipe_find(struct pipe_state *ps, int64_t id)
{
	size_t i;

	for (i = 0; i < ps->n_tor; i++)
		if (ps->tor[i].id == id)
			return &ps->tor[i];
	return NULL;
}

static struct pipe_torrent *pipe_track(struct pipe_state *ps, int64_t id)
{
	struct pipe_torrent *t = pipe_find(ps, id);

	if (t)
		return t;
	if (ps->n_tor == ps->cap_tor) {
		size_t ncap = ps->cap_tor ? ps->cap_tor * 2 : 16;
		struct pipe_torrent *nt = realloc(ps->tor, ncap * sizeof *nt);

		if (!nt)
			return NULL;
		ps->tor = nt;
		ps->cap_tor = ncap;
	}
	t = &ps->tor[ps->n_tor++];
	memset(t, 0, sizeof *t);
	t->id = id;
	t->pct = -1;
	return t;
}

static void pipe_set_name(struct pipe_torrent *t, const char *name)
{
	char *copy;

	if (!name || (t->name && strcmp(t->name, name) == 0))
		return;
	copy = strdup(name);
	if (copy) {
		free(t->name);
		t->name = copy;
	}
}

/* Prints ID:NAME:-1 (not with --json: then stdout has only events). */
static void pipe_announce(const struct pipe_state *ps, struct pipe_torrent *t)
{
	if (!ps->a->json)
		printf("%lld:%s:-1\n", (long long)t->id,
		       t->name ? t->name : "");
	fflush(stdout);
	t->announced = true;
	t->pct = -1;
}

/* Sends req with a fresh tag and remembers it; -1 if the daemon is gone. */
static int pipe_send(struct pipe_state *ps, json_object *req,
		     unsigned long line, int64_t id)
{
	int64_t tag = tpc_new_tag(ps->c);
	char *err = NULL;

	json_object_object_add(req, "tag", json_object_new_int64(tag));
	if (tpc_send(ps->c, req, &err) < 0) {
		pipe_warn(0, "%s", err ? err : "cannot send");
		free(err);
		return -1;
	}
	if (pipe_add_pending(ps, tag, line, id) < 0) {
		pipe_warn(line, "out of memory");
		return -1;
	}
	return 0;
}

/* Watching a torrent guarantees a StatusUpdate with its current state,
 * even for one that is already complete and would not change again. */
static int pipe_watch(struct pipe_state *ps, int64_t id, unsigned long line)
{
	json_object *req = tp_request_new(TP_OP_WATCH, -1);
	json_object *ids = json_object_new_array();
	int rc;

	json_object_array_add(ids, json_object_new_int64(id));
	json_object_object_add(req, "ids", ids);
	rc = pipe_send(ps, req, line, id);
	json_object_put(req);
	return rc;
}

/* dir/rel, or rel when it is already absolute.  Malloc'd. */
static char *pipe_join(const char *dir, const char *rel)
{
	char *out = NULL;

	if (rel[0] == '/')
		return strdup(rel);
	if (asprintf(&out, "%s/%s", dir, rel) < 0)
		return NULL;
	return out;
}

static json_object *pipe_seed_request(struct pipe_state *ps, const char *arg,
				      unsigned long line)
{
	char *joined = pipe_join(ps->cwd, arg), *path, *out = NULL;
	const char *base;
	json_object *req;
	size_t i;

	path = joined ? tpctl_abspath(joined) : NULL;
	free(joined);
	if (!path) {
		pipe_warn(line, "cannot seed %s", arg);
		return NULL;
	}
	base = strrchr(path, '/');
	base = base && base[1] ? base + 1 : "root";
	if (asprintf(&out, "%s/%s.torrent", ps->torrent_dir, base) < 0) {
		free(path);
		return NULL;
	}
	req = tp_request_new(TP_OP_SEED, -1);
	json_object_object_add(req, "path", json_object_new_string(path));
	json_object_object_add(req, "torrent_out", json_object_new_string(out));
	if (ps->a->n_trackers) {
		json_object *tr = json_object_new_array();

		for (i = 0; i < ps->a->n_trackers; i++)
			json_object_array_add(tr, json_object_new_string(
							  ps->a->trackers[i]));
		json_object_object_add(req, "trackers", tr);
	}
	free(path);
	free(out);
	return req;
}

/* Turns one stdin line into a request and sends it; -1 only when the
 * daemon is gone (a bad line is reported and skipped). */
static int pipe_handle_line(struct pipe_state *ps, const char *line)
{
	unsigned long n = ps->lineno;
	struct pipe_cmd cmd;
	json_object *req = NULL;
	char *arg, *err = NULL, *path;
	int rc;

	switch (pipe_parse_line(line, &cmd)) {
	case PIPE_EMPTY:
		return 0;
	case PIPE_BAD:
		pipe_warn(n, "not understood: %s (%s)", line, cmd.why);
		return 0;
	default:
		break;
	}
	arg = strndup(cmd.arg, cmd.arg_len);
	if (!arg) {
		pipe_warn(n, "out of memory");
		return 0;
	}
	if (cmd.kind == PIPE_FILE) {
		req = pipe_seed_request(ps, arg, n);
	} else if (cmd.kind == PIPE_TORRENT_PATH) {
		path = pipe_join(ps->torrent_dir, arg);
		req = path ? tpc_create_request(path, NULL, &err) : NULL;
		free(path);
	} else {
		req = tpc_create_request(arg, NULL, &err);
	}
	if (!req) {
		if (err)
			pipe_warn(n, "%s", err);
		free(err);
		free(arg);
		return 0;
	}
	free(arg);
	rc = pipe_send(ps, req, n, -1);
	json_object_put(req);
	return rc;
}

/* The answer to a create or seed. */
static int pipe_on_create(struct pipe_state *ps, json_object *ev,
			  const struct pipe_pending *p)
{
	const char *type = tpctl_ev_type(ev);
	const char *reason = tpctl_ev_str(ev, "reason");
	int64_t id = tpctl_ev_int(ev, "id");
	struct pipe_torrent *t;

	if (strcmp(type, "StartFail") == 0) {
		pipe_warn(p->line, "Torrent failed to start: %s",
			  reason ? reason : "(no reason given)");
		return 0;
	}
	if (strcmp(type, "NewTorrentCreated") != 0 &&
	    strcmp(type, "AlreadyDownloading") != 0) {
		pipe_warn(p->line, "%s", reason ? reason :
			  json_object_to_json_string(ev));
		return 0;
	}
	t = pipe_track(ps, id);
	if (!t) {
		pipe_warn(p->line, "out of memory");
		return 0;
	}
	t->done = false;
	pipe_set_name(t, tpctl_ev_str(ev, "name"));
	/* AlreadyDownloading carries no name: announce when the watch's
	 * first StatusUpdate brings it, unless this run knows it already. */
	if (t->name)
		pipe_announce(ps, t);
	else
		t->announced = false;
	return pipe_watch(ps, id, p->line);
}

static void pipe_on_status(struct pipe_state *ps, json_object *ev)
{
	struct pipe_torrent *t;
	struct tp_status st;
	int pct;

	if (tp_status_from_json(ev, &st) < 0)
		return;
	t = pipe_find(ps, st.id);
	if (!t || t->done) {
		tp_status_free(&st);
		return;
	}
	pipe_set_name(t, st.name);
	if (!t->announced)
		pipe_announce(ps, t);
	pct = tpctl_percent(st.progress);
	if (st.state && (strcmp(st.state, "seeding") == 0 ||
			 strcmp(st.state, "finished") == 0))
		pct = 100;
	if (pct > t->pct) {
		if (!ps->a->json)
			printf("%lld:%s:%d\n", (long long)t->id,
			       t->name ? t->name : "", pct);
		fflush(stdout);
		t->pct = pct;
	}
	if (pct == 100) {
		t->done = true;
	} else if (st.state && strcmp(st.state, "error") == 0) {
		pipe_warn(0, "torrent %lld (%s) failed: %s", (long long)t->id,
			  t->name ? t->name : "", st.error ? st.error : "error");
		t->done = true;
	}
	tp_status_free(&st);
}

static int pipe_on_event(struct pipe_state *ps, json_object *ev)
{
	const char *type = tpctl_ev_type(ev);
	int64_t tag = tpctl_ev_int(ev, "tag");
	struct pipe_pending p;

	if (tag >= 0 && pipe_take_pending(ps, tag, &p)) {
		if (p.id < 0)
			return pipe_on_create(ps, ev, &p);
		if (strcmp(type, "Watching") != 0) {
			struct pipe_torrent *t = pipe_find(ps, p.id);
			const char *reason = tpctl_ev_str(ev, "reason");

			pipe_warn(p.line, "cannot follow torrent %lld: %s",
				  (long long)p.id, reason ? reason : type);
			if (t)
				t->done = true;
		}
		return 0;
	}
	if (strcmp(type, "StatusUpdate") == 0) {
		pipe_on_status(ps, ev);
	} else if (strcmp(type, "Closed") == 0) {
		struct pipe_torrent *t = pipe_find(ps, tpctl_ev_int(ev, "id"));

		if (t && !t->done) {
			pipe_warn(0, "torrent %lld (%s) was closed",
				  (long long)t->id, t->name ? t->name : "");
			t->done = true;
		}
	}
	return 0;
}

/* Handles every complete line in the stdin buffer; at EOF also the last,
 * unterminated one.  -1 when the daemon is gone. */
static int pipe_drain_lines(struct pipe_state *ps)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(ps->in + start, '\n', ps->in_len - start))) {
		*nl = '\0';
		ps->lineno++;
		if (!ps->in_skip &&
		    pipe_handle_line(ps, ps->in + start) < 0)
			return -1;
		ps->in_skip = false;
		start = (size_t)(nl - ps->in) + 1;
	}
	memmove(ps->in, ps->in + start, ps->in_len - start);
	ps->in_len -= start;
	if (ps->in_len > PIPE_LINE_MAX) {
		if (!ps->in_skip)
			pipe_warn(ps->lineno + 1, "longer than %d bytes, "
				  "skipped", PIPE_LINE_MAX);
		ps->in_skip = true;
		ps->in_len = 0;
	}
	if (ps->in_eof && ps->in_len > 0) {
		ps->in[ps->in_len] = '\0';
		ps->lineno++;
		ps->in_len = 0;
		if (!ps->in_skip && pipe_handle_line(ps, ps->in) < 0)
			return -1;
	}
	return 0;
}

/* Reads what stdin has; -1 when the daemon is gone. */
static int pipe_read_stdin(struct pipe_state *ps)
{
	ssize_t n;

	if (ps->in_cap - ps->in_len < PIPE_READ_CHUNK + 1) {
		size_t ncap = ps->in_cap ? ps->in_cap * 2 : PIPE_READ_CHUNK * 4;
		char *nb = realloc(ps->in, ncap);

		if (!nb) {
			pipe_warn(0, "out of memory reading stdin");
			ps->in_eof = true;
			return 0;
		}
		ps->in = nb;
		ps->in_cap = ncap;
	}
	n = read(STDIN_FILENO, ps->in + ps->in_len, PIPE_READ_CHUNK);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		pipe_warn(0, "cannot read stdin: %s", strerror(errno));
		n = 0;
	}
	if (n == 0)
		ps->in_eof = true;
	ps->in_len += (size_t)n;
	return pipe_drain_lines(ps);
}

static bool pipe_finished(const struct pipe_state *ps)
{
	size_t i;

	if (!ps->in_eof || ps->n_pend > 0)
		return false;
	for (i = 0; i < ps->n_tor; i++)
		if (!ps->tor[i].done)
			return false;
	return true;
}

/* Takes every event already received; -1 when the daemon is gone. */
static int pipe_read_daemon(struct pipe_state *ps)
{
	json_object *ev;
	char *err = NULL;
	int rc;

	while ((rc = tpc_recv(ps->c, 0, &ev, &err)) > 0) {
		if (ps->a->json)
			tpctl_print_json(ev);
		tpctl_ev_clean(ev);
		rc = pipe_on_event(ps, ev);
		json_object_put(ev);
		if (rc < 0)
			return -1;
	}
	if (rc < 0) {
		pipe_warn(0, "%s", err ? err : "connection lost");
		free(err);
		return -1;
	}
	return 0;
}

static int pipe_loop(struct pipe_state *ps)
{
	while (!pipe_finished(ps)) {
		struct pollfd pfd[2] = {
			{ .fd = tpc_fd(ps->c), .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		int n = poll(pfd, ps->in_eof ? 1 : 2, tpctl_time_left_ms());

		if (n == 0 && tpctl_timed_out())
			return TPCTL_EXIT_UNREACHABLE;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pipe_warn(0, "poll: %s", strerror(errno));
			return TPCTL_EXIT_FAIL;
		}
		if (pfd[0].revents && pipe_read_daemon(ps) < 0)
			return TPCTL_EXIT_UNREACHABLE;
		if (!ps->in_eof && pfd[1].revents &&
		    pipe_read_stdin(ps) < 0)
			return TPCTL_EXIT_UNREACHABLE;
	}
	return TPCTL_EXIT_OK;
}

int tpctl_cmd_pipe(const struct tpctl_args *a)
{
	struct pipe_state ps;
	size_t i;
	int rc = TPCTL_EXIT_FAIL;

	memset(&ps, 0, sizeof ps);
	ps.a = a;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ps.cwd = getcwd(NULL, 0);
	if (!ps.cwd) {
		fprintf(stderr, "tpctl pipe: cannot get the current "
			"directory: %s\n", strerror(errno));
		return TPCTL_EXIT_FAIL;
	}
	ps.torrent_dir = tpctl_abspath(a->torrent_dir ? a->torrent_dir : ".");
	if (!ps.torrent_dir)
		goto out;
	ps.c = tpctl_connect(a);
	if (!ps.c) {
		rc = TPCTL_EXIT_UNREACHABLE;
		goto out;
	}
	rc = pipe_loop(&ps);
out:
	tpc_close(ps.c);
	for (i = 0; i < ps.n_tor; i++)
		free(ps.tor[i].name);
	free(ps.tor);
	free(ps.pend);
	free(ps.in);
	free(ps.cwd);
	free(ps.torrent_dir);
	return rc;
}
