/*
 * service.c - FIFO, ownership and routing (see service.h).  Main thread.
 *
 * Every command sent to the engine is remembered in one FIFO, because the
 * engine answers its commands exactly once each and in order.  Unlike the
 * seed's TorrentService, an entry stays in the FIFO when its connection
 * goes away (the answer is then simply not delivered), and every entry
 * carries a sequence number that the answer must match: a drift is an
 * invariant violation we log and recover from rather than a silent
 * misrouting.
 *
 * Slow creates (path, url, seed) first go to a worker; only when the work
 * is done do they enter the FIFO, so a slow download never holds up other
 * patrons' answers.
 */
#include "service.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idmap.h"
#include "log.h"
#include "lt_storage.h"
#include "options.h"

struct svc_conn {
	uint64_t id;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool watch_all;
	struct idmap watched;    /* id -> (void *)1 */
	size_t pending;          /* creates not yet answered */
	size_t owed;             /* requests of any op not yet answered */
};

struct svc_torrent {
	int64_t id;
	uid_t owner;
	uint64_t creator;        /* connection id; may have closed */
	struct tp_status st;
	/* st as JSON object text (tp_status_text), made when first needed
	 * after st changed: a `list` of many torrents copies these rather
	 * than encoding every status again.  NULL: not made yet. */
	char *text;
	size_t text_len;
};

/* One command waiting for the engine's answer. */
struct svc_pending {
	uint64_t seq;
	uint64_t conn;
	uid_t uid;
	gid_t gid;
	bool delete_files;       /* close: delete the data as this user */
	enum tp_op op;
	json_object *tag;
	char *torrent_out;       /* seed: reported in NewTorrentCreated */
	char *watch_path;        /* a watch-directory file: told io.watched */
	struct svc_pending *next;
};

/* The service's context riding on a worker job. */
struct svc_job {
	uint64_t conn;
	int64_t id;              /* WORK_DELETE: the closed torrent */
	json_object *tag;
	enum tp_op op;
	char *save_dir;
	char **peers;
	size_t n_peers;
	bool paused;
	struct tp_tset tset;     /* labels, limits, sequential at add */
	char *watch_path;        /* from the watch directory */
};

/* A move the engine has begun: answered Moved (or Error) when it ends. */
struct svc_move {
	uint64_t conn;
	int64_t id;
	json_object *tag;
	struct svc_move *next;
};

struct service {
	struct svc_move *moves;  /* oldest first */
	struct service_config cfg;
	struct service_io io;
	struct idmap conns;
	struct idmap torrents;
	struct svc_pending *fifo_head, *fifo_tail;
	size_t fifo_len;
	uint64_t next_seq;
	bool loading;
	/* What the engine last said it runs with (EV_SESSION): info's. */
	bool live_known;
	struct tp_session live;
	struct engine_net live_net;
};

/* What service_request checks once, before an op's handler runs. */
enum svc_op_flag {
	SVC_TORRENT = 1u << 0, /* req->id: a torrent the caller may steer */
	SVC_DAEMON = 1u << 1,  /* daemon-wide: root and the daemon's user */
	SVC_ENGINE = 1u << 2,  /* answered by the engine, through the FIFO */
	SVC_CREATE = 1u << 3,  /* adds a torrent: limited by max_pending */
};

/* t is the checked torrent of an SVC_TORRENT op, else NULL. */
typedef void svc_handler(struct service *s, struct svc_conn *c,
			 struct tp_request *req, struct svc_torrent *t);

struct svc_op {
	const char *name;         /* for messages; the wire name is proto's */
	unsigned flags;           /* enum svc_op_flag */
	enum engine_cmd_type eng; /* the command svc_op_engine sends */
	svc_handler *run;
};

/* Defined after the handlers, at service_request. */
static const struct svc_op svc_ops[TP_OP_COUNT];

static bool svc_counts_pending(enum tp_op op)
{
	return (unsigned)op < TP_OP_COUNT && (svc_ops[op].flags & SVC_CREATE);
}

/* Root and the daemon's own user may change what concerns everyone. */
static bool svc_daemon_wide(const struct service *s, uid_t uid)
{
	return uid == 0 || uid == s->cfg.daemon_uid;
}

static char *svc_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct service *service_new(const struct service_config *cfg,
			    const struct service_io *io)
{
	struct service *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->cfg.download_dir = svc_strdup(cfg->download_dir);
	s->cfg.default_tracker = svc_strdup(cfg->default_tracker);
	if (s->cfg.max_pending == 0)
		s->cfg.max_pending = 4096;
	if (s->cfg.max_torrent_bytes == 0)
		s->cfg.max_torrent_bytes = 16u << 20;
	if (s->cfg.url_timeout_s == 0)
		s->cfg.url_timeout_s = 30;
	s->io = *io;
	s->next_seq = 1;
	s->loading = cfg->loading;
	return s;
}

void service_reconfigure(struct service *s, const struct service_config *cfg)
{
	free((char *)s->cfg.default_tracker);
	s->cfg.default_tracker = svc_strdup(cfg->default_tracker);
	if (cfg->max_pending)
		s->cfg.max_pending = cfg->max_pending;
	if (cfg->max_torrent_bytes)
		s->cfg.max_torrent_bytes = cfg->max_torrent_bytes;
	if (cfg->url_timeout_s)
		s->cfg.url_timeout_s = cfg->url_timeout_s;
}

static void svc_pending_free(struct svc_pending *p)
{
	json_object_put(p->tag);
	free(p->torrent_out);
	free(p->watch_path);
	free(p);
}

static void svc_job_ctx_free(void *ctx)
{
	struct svc_job *j = ctx;
	if (!j)
		return;
	json_object_put(j->tag);
	free(j->save_dir);
	for (size_t i = 0; i < j->n_peers; i++)
		free(j->peers[i]);
	free(j->peers);
	tp_tset_free(&j->tset);
	free(j->watch_path);
	free(j);
}

static void svc_conn_free(struct svc_conn *c)
{
	idmap_free(&c->watched);
	free(c);
}

static void svc_torrent_free(struct svc_torrent *t)
{
	tp_status_free(&t->st);
	free(t->text);
	free(t);
}

void service_free(struct service *s)
{
	if (!s)
		return;
	size_t pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&s->conns, &pos, &key, &val))
		svc_conn_free(val);
	idmap_free(&s->conns);
	pos = 0;
	while (idmap_next(&s->torrents, &pos, &key, &val))
		svc_torrent_free(val);
	idmap_free(&s->torrents);
	while (s->fifo_head) {
		struct svc_pending *next = s->fifo_head->next;
		svc_pending_free(s->fifo_head);
		s->fifo_head = next;
	}
	while (s->moves) {
		struct svc_move *next = s->moves->next;
		json_object_put(s->moves->tag);
		free(s->moves);
		s->moves = next;
	}
	free((char *)s->cfg.download_dir);
	free((char *)s->cfg.default_tracker);
	tp_session_free(&s->live);
	engine_net_free(&s->live_net);
	free(s);
}

size_t service_torrent_count(const struct service *s)
{
	return s->torrents.count;
}

void service_totals(const struct service *s, struct service_totals *t)
{
	memset(t, 0, sizeof *t);
	size_t pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&s->torrents, &pos, &key, &val)) {
		const struct svc_torrent *x = val;
		t->torrents++;
		if (x->st.paused)
			t->paused++;
		else if (!strcmp(x->st.state, "seeding") ||
			 !strcmp(x->st.state, "finished"))
			t->seeding++;
		else
			t->downloading++;
		t->down_rate += x->st.down_rate;
		t->up_rate += x->st.up_rate;
	}
	t->connections = s->conns.count;
}

size_t service_pending_count(const struct service *s)
{
	return s->fifo_len;
}

/* --- sending ---------------------------------------------------------- */

/* Every direct answer goes through here, exactly once per request;
 * takes line over (NULL: out of memory, nothing sent). */
static void svc_deliver(struct service *s, uint64_t conn, char *line,
			size_t len)
{
	struct svc_conn *c = idmap_get(&s->conns, (int64_t)conn);
	if (c) {
		if (c->owed)
			c->owed--;
		if (line && s->io.answer_take) {
			s->io.answer_take(s->io.ctx, conn, line, len);
			return;
		}
		if (line)
			s->io.answer(s->io.ctx, conn, line, len);
	}
	free(line);
}

static void svc_send(struct service *s, uint64_t conn, json_object *ev)
{
	size_t len = 0;
	char *line = tp_line(ev, &len);
	json_object_put(ev);
	svc_deliver(s, conn, line, len);
}

static void svc_error(struct service *s, uint64_t conn, json_object *tag,
		      enum tp_err code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void svc_error(struct service *s, uint64_t conn, json_object *tag,
		      enum tp_err code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *reason = NULL;
	if (vasprintf(&reason, fmt, ap) < 0)
		reason = NULL;
	va_end(ap);
	svc_send(s, conn, tp_error_event(code, reason ? reason : "error", tag));
	free(reason);
}

static void svc_start_fail(struct service *s, uint64_t conn, json_object *tag,
			   const char *reason)
{
	json_object *ev = tp_event_new("StartFail", tag);
	json_object_object_add(ev, "reason", json_object_new_string(reason));
	svc_send(s, conn, ev);
}

static bool svc_visible(const struct service *s, uid_t uid,
			const struct svc_torrent *t)
{
	return svc_daemon_wide(s, uid) || uid == t->owner;
}

/* Called whenever t->st changes. */
static void svc_status_changed(struct svc_torrent *t)
{
	free(t->text);
	t->text = NULL;
	t->text_len = 0;
}

/* t's status as JSON object text; NULL only when out of memory. */
static const char *svc_status_text(struct svc_torrent *t)
{
	if (!t->text)
		t->text = tp_status_text(&t->st, &t->text_len);
	return t->text;
}

/* The line of a Status or StatusUpdate event: the event's members, then
 * the status's, as one json-c object holding both would print. */
static char *svc_status_line(struct svc_torrent *t, const char *type,
			     json_object *tag, size_t *len)
{
	if (!svc_status_text(t))
		return NULL;
	return tp_status_line(type, tag, t->text, t->text_len, len);
}

/* Answers with a line spliced from kept texts; takes line over.  NULL:
 * out of memory, told as an error. */
static void svc_send_line(struct service *s, uint64_t conn, json_object *tag,
			  char *line, size_t len)
{
	if (line)
		svc_deliver(s, conn, line, len);
	else
		svc_error(s, conn, tag, TP_ERR_INTERNAL, "out of memory");
}

static bool svc_wants(const struct service *s, const struct svc_conn *c,
		      const struct svc_torrent *t)
{
	if (c->id == t->creator)
		return true;
	if (!svc_visible(s, c->uid, t))
		return false;
	return c->watch_all || idmap_get(&c->watched, t->id) != NULL;
}

/* Sends a torrent's latest status to its creator and watchers. */
static void svc_push_status(struct service *s, struct svc_torrent *t)
{
	size_t len;
	char *line = NULL;
	size_t pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&s->conns, &pos, &key, &val)) {
		struct svc_conn *c = val;
		if (!svc_wants(s, c, t))
			continue;
		/* Made for the first who wants it: none, none made. */
		if (!line)
			line = svc_status_line(t, "StatusUpdate", NULL, &len);
		if (!line)
			return;
		s->io.push(s->io.ctx, c->id, t->id, line, len);
	}
	free(line);
}

/* --- connections -------------------------------------------------------- */

void service_conn_open(struct service *s, uint64_t conn, uid_t uid,
		       gid_t gid, pid_t pid)
{
	struct svc_conn *c = calloc(1, sizeof *c);
	if (!c || idmap_put(&s->conns, (int64_t)conn, c) < 0) {
		free(c);
		log_error("out of memory registering connection %llu",
			  (unsigned long long)conn);
		return;
	}
	c->id = conn;
	c->uid = uid;
	c->gid = gid;
	c->pid = pid;
}

size_t service_conn_owed(const struct service *s, uint64_t conn)
{
	const struct svc_conn *c = idmap_get(&s->conns, (int64_t)conn);
	return c ? c->owed : 0;
}

void service_conn_close(struct service *s, uint64_t conn)
{
	struct svc_conn *c = idmap_del(&s->conns, (int64_t)conn);
	if (c)
		svc_conn_free(c);
}

/* --- the FIFO ----------------------------------------------------------- */

static void svc_enqueue(struct service *s, struct svc_conn *c,
			json_object *tag, enum tp_op op, struct engine_cmd *cmd,
			const char *torrent_out)
{
	struct svc_pending *p = calloc(1, sizeof *p);
	if (!p) {
		engine_cmd_free(cmd);
		svc_error(s, c->id, tag, TP_ERR_INTERNAL, "out of memory");
		return;
	}
	p->seq = s->next_seq++;
	p->conn = c->id;
	p->uid = c->uid;
	p->gid = c->gid;
	p->delete_files = cmd->delete_files;
	p->op = op;
	p->tag = tag ? json_object_get(tag) : NULL;
	p->torrent_out = svc_strdup(torrent_out);
	if (s->fifo_tail)
		s->fifo_tail->next = p;
	else
		s->fifo_head = p;
	s->fifo_tail = p;
	s->fifo_len++;
	if (svc_counts_pending(op))
		c->pending++;
	cmd->seq = p->seq;
	cmd->owner = c->uid;
	s->io.engine(s->io.ctx, cmd);
}

/* Takes the FIFO entry answered by seq: normally the head. */
static struct svc_pending *svc_dequeue(struct service *s, uint64_t seq)
{
	struct svc_pending **pp = &s->fifo_head;
	struct svc_pending *prev = NULL;
	while (*pp && (*pp)->seq != seq) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	struct svc_pending *p = *pp;
	if (!p) {
		log_error("engine answered unknown request %llu",
			  (unsigned long long)seq);
		return NULL;
	}
	if (p != s->fifo_head)
		log_error("engine answered request %llu out of order",
			  (unsigned long long)seq);
	*pp = p->next;
	if (s->fifo_tail == p)
		s->fifo_tail = prev;
	s->fifo_len--;
	struct svc_conn *c = idmap_get(&s->conns, (int64_t)p->conn);
	if (c && svc_counts_pending(p->op) && c->pending)
		c->pending--;
	return p;
}

/* --- requests ----------------------------------------------------------- */

static struct svc_torrent *svc_find(struct service *s, struct svc_conn *c,
				    int64_t id, json_object *tag)
{
	struct svc_torrent *t = idmap_get(&s->torrents, id);
	if (!t) {
		svc_error(s, c->id, tag, TP_ERR_NOT_FOUND, "no torrent %lld",
			  (long long)id);
		return NULL;
	}
	/* Ids are public counters, so saying it exists gives nothing away;
	 * its name, data and status stay hidden. */
	if (!svc_visible(s, c->uid, t)) {
		svc_error(s, c->id, tag, TP_ERR_FORBIDDEN,
			  "torrent %lld belongs to another user", (long long)id);
		return NULL;
	}
	return t;
}

static char **svc_strv_dup(char **v, size_t n)
{
	if (n == 0)
		return NULL;
	char **out = calloc(n, sizeof *out);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = strdup(v[i]);
	return out;
}

/* Checks the save directory with the patron's rights.  The default
 * download directory is the daemon's own and needs no check. */
static int svc_check_save_dir(struct service *s, struct svc_conn *c,
			      const char *dir, char **err)
{
	if (!dir)
		return 0;
	return s->io.access(s->io.ctx, c->id, c->uid, c->gid, dir, W_OK | X_OK,
			    err);
}

static struct engine_cmd *svc_create_cmd(const char *save_dir, char **peers,
					 size_t n_peers, bool paused)
{
	struct engine_cmd *cmd = engine_cmd_new(ENG_CREATE);
	if (!cmd)
		return NULL;
	cmd->save_dir = svc_strdup(save_dir);
	cmd->peers = svc_strv_dup(peers, n_peers);
	cmd->n_peers = cmd->peers ? n_peers : 0;
	cmd->paused = paused;
	return cmd;
}

/* A create whose content is already known to be unusable still takes its
 * place in the FIFO, so answers on this connection keep their order. */
static void svc_fail_in_order(struct service *s, struct svc_conn *c,
			      struct tp_request *req, const char *reason)
{
	struct engine_cmd *cmd = engine_cmd_new(ENG_FAIL);
	if (!cmd) {
		svc_start_fail(s, c->id, req->tag, reason);
		return;
	}
	cmd->reason = strdup(reason);
	svc_enqueue(s, c, req->tag, req->op, cmd, NULL);
}

static void svc_submit_job(struct service *s, struct svc_conn *c,
			   struct tp_request *req, struct work_job *job)
{
	struct svc_job *ctx = calloc(1, sizeof *ctx);
	if (!ctx) {
		work_job_free(job);
		svc_start_fail(s, c->id, req->tag, "out of memory");
		return;
	}
	ctx->conn = c->id;
	ctx->tag = req->tag ? json_object_get(req->tag) : NULL;
	ctx->op = req->op;
	ctx->save_dir = svc_strdup(req->save_dir);
	ctx->peers = svc_strv_dup(req->peers, req->n_peers);
	ctx->n_peers = ctx->peers ? req->n_peers : 0;
	ctx->paused = req->paused;
	/* Moved, not copied: the request is done with it. */
	ctx->tset = req->tset;
	memset(&req->tset, 0, sizeof req->tset);
	job->uid = c->uid;
	job->gid = c->gid;
	job->ctx = ctx;
	job->ctx_free = svc_job_ctx_free;
	c->pending++;
	s->io.work(s->io.ctx, job);
}

static void svc_op_create(struct service *s, struct svc_conn *c,
		struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	if (req->content_error) {
		svc_fail_in_order(s, c, req, req->content_error);
		return;
	}
	char *err = NULL;
	if (svc_check_save_dir(s, c, req->save_dir, &err) < 0) {
		char *reason = NULL;
		if (asprintf(&reason, "cannot download into %s: %s",
			     req->save_dir, err ? err : "not allowed") < 0)
			reason = NULL;
		svc_fail_in_order(s, c, req, reason ? reason : "not allowed");
		free(reason);
		free(err);
		return;
	}
	if (req->source == TP_SRC_PATH || req->source == TP_SRC_URL) {
		struct work_job *job = work_job_new(
			req->source == TP_SRC_PATH ? WORK_READ_TORRENT
						   : WORK_FETCH_URL);
		if (!job) {
			svc_start_fail(s, c->id, req->tag, "out of memory");
			return;
		}
		job->path = svc_strdup(req->path);
		job->url = svc_strdup(req->url);
		job->max_bytes = s->cfg.max_torrent_bytes;
		job->timeout_s = s->cfg.url_timeout_s;
		svc_submit_job(s, c, req, job);
		return;
	}
	struct engine_cmd *cmd = svc_create_cmd(req->save_dir, req->peers,
						req->n_peers, req->paused);
	if (!cmd) {
		svc_start_fail(s, c->id, req->tag, "out of memory");
		return;
	}
	cmd->tset = req->tset;
	memset(&req->tset, 0, sizeof req->tset);
	if (req->source == TP_SRC_TORRENT) {
		cmd->torrent = req->torrent;
		cmd->torrent_len = req->torrent_len;
		req->torrent = NULL;
		req->torrent_len = 0;
	} else {
		cmd->magnet = svc_strdup(req->magnet);
	}
	svc_enqueue(s, c, req->tag, req->op, cmd, NULL);
}

static void svc_op_seed(struct service *s, struct svc_conn *c,
		struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	/* "/srv/x/" names /srv/x: its parent is where it is seeded from. */
	size_t n = strlen(req->path);
	while (n > 1 && req->path[n - 1] == '/')
		req->path[--n] = 0;
	if (n <= 1) {
		svc_fail_in_order(s, c, req, "cannot publish the root directory");
		return;
	}
	if (req->n_trackers == 0 && !s->cfg.default_tracker) {
		svc_fail_in_order(s, c, req,
				  "no tracker given and the daemon has no "
				  "--tracker default");
		return;
	}
	struct work_job *job = work_job_new(WORK_MAKE_TORRENT);
	if (!job) {
		svc_start_fail(s, c->id, req->tag, "out of memory");
		return;
	}
	job->path = strdup(req->path);
	if (req->n_trackers) {
		job->trackers = svc_strv_dup(req->trackers, req->n_trackers);
		job->n_trackers = job->trackers ? req->n_trackers : 0;
	} else {
		job->trackers = calloc(1, sizeof *job->trackers);
		if (job->trackers) {
			job->trackers[0] = strdup(s->cfg.default_tracker);
			job->n_trackers = 1;
		}
	}
	job->piece_size = (int)req->piece_size;
	job->version = req->version == TP_TV_V2	      ? 2
		       : req->version == TP_TV_HYBRID ? 3
						      : 1;
	job->private_flag = req->private_flag;
	job->comment = svc_strdup(req->comment);
	job->creator = svc_strdup(req->creator);
	/* Without torrent_out the .torrent goes beside the data. */
	if (req->torrent_out)
		job->out_path = strdup(req->torrent_out);
	else if (asprintf(&job->out_path, "%s.torrent", req->path) < 0)
		job->out_path = NULL;
	svc_submit_job(s, c, req, job);
}

/* An op about one torrent that the engine carries out as it is: the
 * table names the engine command (pause, resume, reannounce, close). */
static void svc_op_engine(struct service *s, struct svc_conn *c,
			  struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	struct engine_cmd *cmd = engine_cmd_new(svc_ops[req->op].eng);
	if (!cmd) {
		svc_error(s, c->id, req->tag, TP_ERR_INTERNAL, "out of memory");
		return;
	}
	cmd->id = req->id;
	cmd->delete_files = req->delete_files;
	svc_enqueue(s, c, req->tag, req->op, cmd, NULL);
}

/* Deleting data is allowed only to who could delete it anyway. */
static void svc_op_close(struct service *s, struct svc_conn *c,
			 struct tp_request *req, struct svc_torrent *t)
{
	char *err = NULL;
	if (req->delete_files && t->st.save_path &&
	    s->io.access(s->io.ctx, c->id, c->uid, c->gid, t->st.save_path,
			 W_OK | X_OK, &err) < 0) {
		svc_error(s, c->id, req->tag, TP_ERR_FORBIDDEN,
			  "cannot delete the files of torrent %lld: %s",
			  (long long)req->id, err ? err : "not allowed");
		free(err);
		return;
	}
	svc_op_engine(s, c, req, t);
}

static bool svc_has_label(const struct svc_torrent *t, const char *label)
{
	for (size_t i = 0; i < t->st.n_labels; i++)
		if (strcmp(t->st.labels[i], label) == 0)
			return true;
	return false;
}

/* set: the fields were checked whole by the codec; the engine applies
 * them and answers Set. */
static void svc_op_set(struct service *s, struct svc_conn *c,
		       struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	struct engine_cmd *cmd = engine_cmd_new(ENG_SET);
	if (!cmd) {
		svc_error(s, c->id, req->tag, TP_ERR_INTERNAL, "out of memory");
		return;
	}
	cmd->id = req->id;
	cmd->tset = req->tset;
	memset(&req->tset, 0, sizeof req->tset);
	svc_enqueue(s, c, req->tag, req->op, cmd, NULL);
}

/* session_get (no fields) and session_set both answer Session with the
 * settings then in force. */
static void svc_op_session(struct service *s, struct svc_conn *c,
			   struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	struct engine_cmd *cmd = engine_cmd_new(ENG_SESSION);
	if (!cmd) {
		svc_error(s, c->id, req->tag, TP_ERR_INTERNAL, "out of memory");
		return;
	}
	cmd->session = req->session;
	memset(&req->session, 0, sizeof req->session);
	svc_enqueue(s, c, req->tag, req->op, cmd, NULL);
}

/* The destination is checked with the patron's rights, as a create's
 * save_dir is; libtorrent then moves the files. */
static void svc_op_move(struct service *s, struct svc_conn *c,
			struct tp_request *req, struct svc_torrent *t)
{
	char *err = NULL;
	if (svc_check_save_dir(s, c, req->save_dir, &err) < 0) {
		svc_error(s, c->id, req->tag, TP_ERR_FORBIDDEN,
			  "cannot move torrent %lld into %s: %s",
			  (long long)t->id, req->save_dir,
			  err ? err : "not allowed");
		free(err);
		return;
	}
	struct engine_cmd *cmd = engine_cmd_new(ENG_MOVE);
	if (!cmd) {
		svc_error(s, c->id, req->tag, TP_ERR_INTERNAL, "out of memory");
		return;
	}
	cmd->id = req->id;
	cmd->save_dir = strdup(req->save_dir);
	svc_enqueue(s, c, req->tag, req->op, cmd, NULL);
}

/* The engine began a move: its answer waits for the end. */
static void svc_move_begun(struct service *s, struct svc_pending *p,
			   int64_t id)
{
	struct svc_move *m = calloc(1, sizeof *m);
	if (!m) {
		svc_error(s, p->conn, p->tag, TP_ERR_INTERNAL,
			  "out of memory; the move of torrent %lld goes on",
			  (long long)id);
		return;
	}
	m->conn = p->conn;
	m->id = id;
	m->tag = p->tag ? json_object_get(p->tag) : NULL;
	struct svc_move **pp = &s->moves;
	while (*pp)
		pp = &(*pp)->next;
	*pp = m;
}

static void svc_on_moved(struct service *s, struct engine_event *ev)
{
	struct svc_torrent *t = idmap_get(&s->torrents, ev->id);
	if (t && ev->save_path) {
		free(t->st.save_path);
		t->st.save_path = strdup(ev->save_path);
		svc_status_changed(t);
	}
	struct svc_move **pp = &s->moves;
	while (*pp && (*pp)->id != ev->id)
		pp = &(*pp)->next;
	struct svc_move *m = *pp;
	if (!m)
		return;
	*pp = m->next;
	if (ev->save_path) {
		json_object *out = tp_event_new("Moved", m->tag);
		json_object_object_add(out, "id", json_object_new_int64(ev->id));
		json_object_object_add(out, "save_path",
				       json_object_new_string(ev->save_path));
		svc_send(s, m->conn, out);
	} else {
		svc_error(s, m->conn, m->tag, TP_ERR_INTERNAL,
			  "torrent %lld was not moved and stays where it was: %s",
			  (long long)ev->id, ev->reason ? ev->reason : "?");
	}
	json_object_put(m->tag);
	free(m);
}

static int svc_cmp_id(const void *a, const void *b)
{
	const struct svc_torrent *x = *(struct svc_torrent *const *)a;
	const struct svc_torrent *y = *(struct svc_torrent *const *)b;
	return (x->id > y->id) - (x->id < y->id);
}

/* Sorts v by id.  Ids are handed out one after another, so they are
 * nearly dense: then each goes straight to its slot (O(n); qsort of
 * 100,000 was a tenth of a `list`'s time, perf, issue 12); else qsort. */
static void svc_sort_by_id(struct svc_torrent **v, size_t n)
{
	if (n < 2)
		return;
	int64_t lo = v[0]->id, hi = v[0]->id;
	for (size_t i = 1; i < n; i++) {
		if (v[i]->id < lo)
			lo = v[i]->id;
		if (v[i]->id > hi)
			hi = v[i]->id;
	}
	uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
	struct svc_torrent **slot = span <= (uint64_t)n * 4
		? calloc((size_t)span, sizeof *slot) : NULL;
	if (!slot) {
		qsort(v, n, sizeof *v, svc_cmp_id);
		return;
	}
	for (size_t i = 0; i < n; i++)
		slot[v[i]->id - lo] = v[i]; /* ids are unique */
	size_t k = 0;
	for (uint64_t i = 0; i < span; i++)
		if (slot[i])
			v[k++] = slot[i];
	free(slot);
}

static void svc_op_list(struct service *s, struct svc_conn *c,
		struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	struct svc_torrent **v = calloc(s->torrents.count + 1, sizeof *v);
	if (!v) {
		svc_error(s, c->id, req->tag, TP_ERR_INTERNAL, "out of memory");
		return;
	}
	size_t n = 0, pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&s->torrents, &pos, &key, &val))
		if (svc_visible(s, c->uid, val) &&
		    (!req->label || svc_has_label(val, req->label)))
			v[n++] = val;
	svc_sort_by_id(v, n);
	/* Each status's text is kept from when it last changed: a list of
	 * many torrents is copies, not n encodings (issue 12). */
	const char **texts = calloc(n + 1, sizeof *texts);
	size_t *lens = calloc(n + 1, sizeof *lens);
	size_t m = 0;
	for (size_t i = 0; texts && lens && i < n; i++) {
		if (!svc_status_text(v[i]))
			break;
		texts[m] = v[i]->text;
		lens[m++] = v[i]->text_len;
	}
	free(v);
	char *line = NULL;
	size_t len = 0;
	if (m == n) {
		json_object *ev = tp_event_new("List", req->tag);
		line = tp_line_array(ev, "torrents", texts, lens, n, &len);
		json_object_put(ev);
	}
	free(texts);
	free(lens);
	svc_send_line(s, c->id, req->tag, line, len);
}

static json_object *svc_ids_json(const int64_t *ids, size_t n)
{
	json_object *arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_int64(ids[i]));
	return arr;
}

static void svc_op_watch(struct service *s, struct svc_conn *c,
		struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	for (size_t i = 0; i < req->n_ids; i++)
		if (!svc_find(s, c, req->ids[i], req->tag))
			return;
	json_object *ev = tp_event_new("Watching", req->tag);
	if (!req->has_ids) {
		c->watch_all = true;
		json_object *arr = json_object_new_array();
		size_t pos = 0;
		int64_t key;
		void *val;
		while (idmap_next(&s->torrents, &pos, &key, &val))
			if (svc_visible(s, c->uid, val))
				json_object_array_add(arr,
						      json_object_new_int64(key));
		json_object_object_add(ev, "ids", arr);
		json_object_object_add(ev, "all", json_object_new_boolean(1));
	} else {
		for (size_t i = 0; i < req->n_ids; i++)
			idmap_put(&c->watched, req->ids[i], (void *)1);
		json_object_object_add(ev, "ids",
				       svc_ids_json(req->ids, req->n_ids));
	}
	/* The ids array is what the patron will now receive. */
	json_object *ids = json_object_object_get(ev, "ids");
	size_t n = json_object_array_length(ids);
	int64_t *list = calloc(n + 1, sizeof *list);
	for (size_t i = 0; list && i < n; i++)
		list[i] = json_object_get_int64(json_object_array_get_idx(ids, i));
	svc_send(s, c->id, ev);
	for (size_t i = 0; list && i < n; i++) {
		struct svc_torrent *t = idmap_get(&s->torrents, list[i]);
		if (!t)
			continue;
		size_t len;
		char *line = svc_status_line(t, "StatusUpdate", NULL, &len);
		if (line)
			s->io.push(s->io.ctx, c->id, t->id, line, len);
		free(line);
	}
	free(list);
}

static void svc_op_unwatch(struct service *s, struct svc_conn *c,
		struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	json_object *ev = tp_event_new("Unwatched", req->tag);
	if (!req->has_ids) {
		c->watch_all = false;
		json_object *arr = json_object_new_array();
		size_t pos = 0;
		int64_t key;
		void *val;
		while (idmap_next(&c->watched, &pos, &key, &val))
			json_object_array_add(arr, json_object_new_int64(key));
		idmap_free(&c->watched);
		json_object_object_add(ev, "ids", arr);
	} else {
		for (size_t i = 0; i < req->n_ids; i++)
			idmap_del(&c->watched, req->ids[i]);
		json_object_object_add(ev, "ids",
				       svc_ids_json(req->ids, req->n_ids));
	}
	svc_send(s, c->id, ev);
}

/* The peer side's settings (SPEC 9), so a user sees what the daemon
 * really runs with: the engine's last EV_SESSION, so a session_set or a
 * SIGHUP shows at once.  Nothing before the engine's first word. */
static void svc_info_peer_side(struct service *s, json_object *ev)
{
	if (!s->live_known)
		return;
	const struct tp_session *k = &s->live;
	const struct engine_net *n = &s->live_net;
	json_object_object_add(ev, "encryption", json_object_new_string(
				       options_encryption_word(k->encryption)));
	json_object_object_add(ev, "dht", json_object_new_boolean(k->dht));
	json_object_object_add(ev, "pex", json_object_new_boolean(k->pex));
	json_object_object_add(ev, "lsd", json_object_new_boolean(k->lsd));
	json_object_object_add(ev, "upnp", json_object_new_boolean(n->upnp));
	json_object_object_add(ev, "utp", json_object_new_boolean(k->utp));
	json_object_object_add(ev, "tcp", json_object_new_boolean(n->tcp));
	if (n->listen)
		json_object_object_add(ev, "listen",
				       json_object_new_string(n->listen));
	json_object_object_add(ev, "connections_per_address",
			       json_object_new_string(n->several_per_address
							      ? "several"
							      : "one"));
}

/* Every EV_SESSION: the service's copy of what the engine runs with. */
static void svc_take_live(struct service *s, struct engine_event *ev)
{
	tp_session_free(&s->live);
	engine_net_free(&s->live_net);
	memset(&s->live, 0, sizeof s->live);
	ev->session.has = TP_SES_ALL; /* an EV_SESSION carries every key */
	tp_session_merge(&s->live, &ev->session);
	s->live_net = ev->net;
	memset(&ev->net, 0, sizeof ev->net);
	s->live_known = true;
}

void service_reload_engine(struct service *s, struct tp_session *ses,
			   struct engine_net *net)
{
	struct engine_cmd *cmd = engine_cmd_new(ENG_SESSION);
	if (!cmd) {
		log_error("SIGHUP: out of memory; the daemon's settings stay");
		tp_session_free(ses);
		engine_net_free(net);
		return;
	}
	cmd->reload = true;
	cmd->session = *ses;
	memset(ses, 0, sizeof *ses);
	cmd->net = *net;
	memset(net, 0, sizeof *net);
	/* No patron asked: conn 0 is never one, so the answer goes
	 * nowhere but into the service's copy. */
	struct svc_conn nobody = {.id = 0, .uid = 0};
	svc_enqueue(s, &nobody, NULL, TP_OP_SESSION_SET, cmd, NULL);
}

/* What the daemon's memory is, as redis's INFO gives it: the resident
 * size the kernel charges, and the bytes the allocator has handed out and
 * not had back.  The second moves only with what tpd and libtorrent hold,
 * not with how the allocator keeps its free space, so it is the one that
 * shows a leak (test_memory judges it) and the gap between them is
 * fragmentation. */
static void svc_info_memory(json_object *ev)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) == 2 && page > 0)
			json_object_object_add(ev, "rss_bytes",
				json_object_new_int64((int64_t)resident * page));
		fclose(f);
	}
	struct mallinfo2 mi = mallinfo2();
	json_object_object_add(ev, "heap_bytes", json_object_new_int64(
				       (int64_t)(mi.uordblks + mi.hblkhd)));
}

static void svc_op_info(struct service *s, struct svc_conn *c,
		struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	size_t visible = 0, pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&s->torrents, &pos, &key, &val))
		visible += svc_visible(s, c->uid, val);
	json_object *ev = tp_event_new("Info", req->tag);
	json_object_object_add(ev, "version", json_object_new_string(TP_VERSION));
	json_object_object_add(ev, "protocol",
			       json_object_new_int(TP_PROTOCOL_VERSION));
	json_object_object_add(ev, "listen_port",
			       json_object_new_int(s->live_known
							   ? s->live_net.listen_port
							   : s->cfg.listen_port));
	json_object_object_add(ev, "torrents",
			       json_object_new_int64((int64_t)visible));
	json_object_object_add(ev, "connections",
			       json_object_new_int64((int64_t)s->conns.count));
	json_object_object_add(ev, "uid", json_object_new_int64(c->uid));
	json_object_object_add(ev, "download_dir",
			       json_object_new_string(
				       s->live_known && s->live_net.download_dir
					       ? s->live_net.download_dir
					       : s->cfg.download_dir));
	json_object_object_add(ev, "pid", json_object_new_int64(getpid()));
	json_object_object_add(ev, "loading", json_object_new_boolean(s->loading));
	svc_info_memory(ev);
	svc_info_peer_side(s, ev);
	svc_send(s, c->id, ev);
}

static void svc_op_hello(struct service *s, struct svc_conn *c,
		struct tp_request *req, struct svc_torrent *t)
{
	(void)t;
	json_object *ev = tp_event_new("Hello", req->tag);
	json_object_object_add(ev, "version", json_object_new_string(TP_VERSION));
	json_object_object_add(ev, "protocol",
			       json_object_new_int(TP_PROTOCOL_VERSION));
	svc_send(s, c->id, ev);
}

static void svc_op_status(struct service *s, struct svc_conn *c,
		struct tp_request *req, struct svc_torrent *t)
{
	size_t len = 0;
	char *line = svc_status_line(t, "Status", req->tag, &len);
	svc_send_line(s, c->id, req->tag, line, len);
}

/* The one table of ops: what service_request checks before the handler
 * runs, so no handler repeats the ownership, daemon-wide or pending-limit
 * checks.  Indexed by enum tp_op; an op without a handler is unknown. */
static const struct svc_op svc_ops[TP_OP_COUNT] = {
	[TP_OP_HELLO] = {"hello", 0, 0, svc_op_hello},
	[TP_OP_CREATE] = {"create", SVC_CREATE | SVC_ENGINE, ENG_CREATE,
			  svc_op_create},
	[TP_OP_SEED] = {"seed", SVC_CREATE | SVC_ENGINE, ENG_CREATE,
			svc_op_seed},
	[TP_OP_CLOSE] = {"close", SVC_TORRENT | SVC_ENGINE, ENG_CLOSE,
			 svc_op_close},
	[TP_OP_PAUSE] = {"pause", SVC_TORRENT | SVC_ENGINE, ENG_PAUSE,
			 svc_op_engine},
	[TP_OP_RESUME] = {"resume", SVC_TORRENT | SVC_ENGINE, ENG_RESUME,
			  svc_op_engine},
	[TP_OP_REANNOUNCE] = {"reannounce", SVC_TORRENT | SVC_ENGINE,
			      ENG_REANNOUNCE, svc_op_engine},
	[TP_OP_LIST] = {"list", 0, 0, svc_op_list},
	[TP_OP_STATUS] = {"status", SVC_TORRENT, 0, svc_op_status},
	[TP_OP_WATCH] = {"watch", 0, 0, svc_op_watch},
	[TP_OP_UNWATCH] = {"unwatch", 0, 0, svc_op_unwatch},
	[TP_OP_INFO] = {"info", 0, 0, svc_op_info},
	[TP_OP_SET] = {"set", SVC_TORRENT | SVC_ENGINE, ENG_SET, svc_op_set},
	[TP_OP_SESSION_GET] = {"session_get", SVC_ENGINE, ENG_SESSION,
			       svc_op_session},
	[TP_OP_SESSION_SET] = {"session_set", SVC_DAEMON | SVC_ENGINE,
			       ENG_SESSION, svc_op_session},
	[TP_OP_FILES] = {"files", SVC_TORRENT | SVC_ENGINE, ENG_FILES,
			 svc_op_engine},
	[TP_OP_PEERS] = {"peers", SVC_TORRENT | SVC_ENGINE, ENG_PEERS,
			 svc_op_engine},
	[TP_OP_TRACKERS] = {"trackers", SVC_TORRENT | SVC_ENGINE, ENG_TRACKERS,
			    svc_op_engine},
	[TP_OP_RECHECK] = {"recheck", SVC_TORRENT | SVC_ENGINE, ENG_RECHECK,
			   svc_op_engine},
	[TP_OP_MOVE] = {"move", SVC_TORRENT | SVC_ENGINE, ENG_MOVE, svc_op_move},
};

void service_request(struct service *s, uint64_t conn, struct tp_request *req)
{
	struct svc_conn *c = idmap_get(&s->conns, (int64_t)conn);
	if (!c)
		return;
	c->owed++;
	const struct svc_op *op =
		(unsigned)req->op < TP_OP_COUNT ? &svc_ops[req->op] : NULL;
	if (!op || !op->run) {
		svc_error(s, conn, req->tag, TP_ERR_UNKNOWN_OP, "unknown op");
		return;
	}
	if ((op->flags & SVC_CREATE) && c->pending >= s->cfg.max_pending) {
		svc_error(s, conn, req->tag, TP_ERR_BUSY,
			  "%zu creates already pending on this connection; "
			  "wait for their answers",
			  c->pending);
		return;
	}
	if ((op->flags & SVC_DAEMON) && !svc_daemon_wide(s, c->uid)) {
		svc_error(s, conn, req->tag, TP_ERR_FORBIDDEN,
			  "%s changes the whole daemon: only root or the "
			  "daemon's own user may",
			  op->name);
		return;
	}
	struct svc_torrent *t = NULL;
	if ((op->flags & SVC_TORRENT) &&
	    !(t = svc_find(s, c, req->id, req->tag)))
		return;
	op->run(s, c, req, t);
}

/* --- worker results ----------------------------------------------------- */

void service_work_done(struct service *s, struct work_job *job)
{
	struct svc_job *ctx = job->ctx;
	if (job->kind == WORK_DELETE) {
		json_object *out = tp_event_new("Closed", ctx->tag);
		json_object_object_add(out, "id", json_object_new_int64(ctx->id));
		if (job->error) {
			log_warn("torrent %lld closed; %s", (long long)ctx->id,
				 job->error);
			json_object_object_add(out, "delete_error",
					       json_object_new_string(job->error));
		}
		svc_send(s, ctx->conn, out);
		work_job_free(job);
		return;
	}
	struct svc_conn *c = ctx->conn ? idmap_get(&s->conns, (int64_t)ctx->conn)
				       : NULL;
	if (c && c->pending)
		c->pending--;
	if (job->error || !job->data) {
		if (ctx->watch_path && s->io.watched)
			s->io.watched(s->io.ctx, ctx->watch_path, false);
		log_info("%s failed: %s",
			 job->kind == WORK_FETCH_URL   ? "fetch"
			 : job->kind == WORK_MAKE_TORRENT ? "seed"
							  : "read",
			 job->error ? job->error : "no data");
		svc_start_fail(s, ctx->conn, ctx->tag,
			       job->error ? job->error : "no data");
		work_job_free(job);
		return;
	}
	struct engine_cmd *cmd = svc_create_cmd(ctx->save_dir, ctx->peers,
						ctx->n_peers, ctx->paused);
	if (!cmd) {
		svc_start_fail(s, ctx->conn, ctx->tag, "out of memory");
		work_job_free(job);
		return;
	}
	cmd->torrent = job->data;
	cmd->torrent_len = job->len;
	job->data = NULL;
	cmd->tset = ctx->tset;
	memset(&ctx->tset, 0, sizeof ctx->tset);
	if (job->kind == WORK_MAKE_TORRENT) {
		/* The data lies where it is: seed it from its parent dir. */
		char *slash = strrchr(job->path, '/');
		free(cmd->save_dir);
		cmd->save_dir = slash == job->path
					? strdup("/")
					: strndup(job->path,
						  (size_t)(slash - job->path));
		cmd->have_all = true;
	}
	/* The patron may be gone: its torrent is still created, owned by its
	 * user, so the FIFO entry is made with a stand-in connection. */
	struct svc_conn gone = {.id = ctx->conn, .uid = job->uid,
				.gid = job->gid};
	svc_enqueue(s, c ? c : &gone, ctx->tag, ctx->op, cmd,
		    job->kind == WORK_MAKE_TORRENT ? job->out_path : NULL);
	if (ctx->watch_path && s->fifo_tail &&
	    s->fifo_tail->seq == s->next_seq - 1) {
		s->fifo_tail->watch_path = ctx->watch_path;
		ctx->watch_path = NULL;
	}
	work_job_free(job);
}

/* --- engine events ------------------------------------------------------ */

/* Records a torrent; its status fills in with the engine's first push. */
static struct svc_torrent *svc_add_torrent(struct service *s,
					   const struct engine_event *ev,
					   uid_t owner, uint64_t creator)
{
	struct svc_torrent *t = calloc(1, sizeof *t);
	if (!t || idmap_put(&s->torrents, ev->id, t) < 0) {
		free(t);
		log_error("out of memory recording torrent %lld",
			  (long long)ev->id);
		return NULL;
	}
	t->id = ev->id;
	t->owner = owner;
	t->creator = creator;
	t->st.id = ev->id;
	t->st.name = svc_strdup(ev->name ? ev->name : "");
	memcpy(t->st.info_hash, ev->info_hash, sizeof t->st.info_hash);
	t->st.state = "checking_resume_data";
	t->st.save_path = svc_strdup(ev->save_path);
	t->st.owner = owner;
	t->st.queue_position = -1;
	t->st.ratio_limit = -1;
	t->st.seed_time_limit = -1;
	t->st.eta = -1;
	return t;
}

static void svc_on_created(struct service *s, struct svc_pending *p,
			   struct engine_event *ev)
{
	svc_add_torrent(s, ev, p->uid, p->conn);

	/* Written directly, as every add's Status lines are: a json-c tree
	 * per add cost the main thread more than the rest of its work. */
	struct jsonw w = {0};
	tp_event_open(&w, "NewTorrentCreated", p->tag);
	jsonw_lit(&w, ",\"id\":");
	jsonw_i64(&w, ev->id);
	jsonw_lit(&w, ",\"info_hash\":");
	jsonw_str(&w, ev->info_hash);
	jsonw_lit(&w, ",\"name\":");
	jsonw_str(&w, ev->name ? ev->name : "");
	jsonw_lit(&w, ",\"save_path\":");
	jsonw_str(&w, ev->save_path ? ev->save_path : "");
	if (p->torrent_out) {
		jsonw_lit(&w, ",\"torrent_out\":");
		jsonw_str(&w, p->torrent_out);
	}
	size_t len = 0;
	char *line = tp_event_close(&w, &len);
	svc_send_line(s, p->conn, p->tag, line, len);
}

static void svc_on_closed(struct service *s, struct svc_pending *p,
			  int64_t id)
{
	struct svc_torrent *t = idmap_get(&s->torrents, id);
	if (t) {
		json_object *ev = tp_event_new("Closed", NULL);
		json_object_object_add(ev, "id", json_object_new_int64(id));
		size_t len;
		char *line = tp_line(ev, &len);
		json_object_put(ev);
		size_t pos = 0;
		int64_t key;
		void *val;
		while (line && idmap_next(&s->conns, &pos, &key, &val)) {
			struct svc_conn *c = val;
			if (c->id != p->conn && svc_wants(s, c, t))
				s->io.answer(s->io.ctx, c->id, line, len);
			idmap_del(&c->watched, id);
		}
		free(line);
		idmap_del(&s->torrents, id);
		svc_torrent_free(t);
	}
	/* A move still under way ends with the torrent: its answer would
	 * otherwise never come. */
	struct svc_move **pp = &s->moves;
	while (*pp) {
		struct svc_move *m = *pp;
		if (m->id != id) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		svc_error(s, m->conn, m->tag, TP_ERR_NOT_FOUND,
			  "torrent %lld was closed before its move ended",
			  (long long)id);
		json_object_put(m->tag);
		free(m);
	}
	log_info("torrent %lld closed", (long long)id);
}

/* Hands a closed torrent's files to a worker that deletes them with the
 * requester's rights; 0 if it took them (the answer follows the work). */
static int svc_delete_files(struct service *s, struct svc_pending *p,
			    struct engine_event *ev)
{
	struct work_job *job = work_job_new(WORK_DELETE);
	struct svc_job *ctx = calloc(1, sizeof *ctx);
	if (!job || !ctx) {
		work_job_free(job);
		free(ctx);
		return -1;
	}
	ctx->conn = p->conn;
	ctx->id = ev->id;
	ctx->op = TP_OP_CLOSE;
	ctx->tag = p->tag ? json_object_get(p->tag) : NULL;
	job->uid = p->uid;
	job->gid = p->gid;
	job->path = ev->save_path;
	job->files = ev->files;
	job->n_files = ev->n_files;
	/* libtorrent may still be writing blocks it had queued when the
	 * torrent was removed: delete only after its storage is released. */
	job->settle = lts_storage_wait_released;
	job->settle_id = ev->id;
	ev->save_path = NULL;
	ev->files = NULL;
	ev->n_files = 0;
	job->ctx = ctx;
	job->ctx_free = svc_job_ctx_free;
	s->io.work(s->io.ctx, job);
	return 0;
}

static const char *svc_done_type(enum engine_cmd_type cmd)
{
	switch (cmd) {
	case ENG_CLOSE:
		return "Closed";
	case ENG_PAUSE:
		return "Paused";
	case ENG_RESUME:
		return "Resumed";
	case ENG_SET:
		return "Set";
	case ENG_RECHECK:
		return "Rechecking";
	default:
		return "Reannounced";
	}
}

static void svc_on_status(struct service *s, struct engine_event *ev)
{
	struct svc_torrent *t = idmap_get(&s->torrents, ev->id);
	if (!t)
		return; /* closed meanwhile */
	uid_t owner = t->owner;
	tp_status_free(&t->st);
	t->st = ev->status;
	memset(&ev->status, 0, sizeof ev->status);
	/* The id and owner are the service's: a restored torrent's saved
	 * status (EV_RESTORED) need not carry them. */
	t->st.id = t->id;
	t->st.owner = owner;
	svc_status_changed(t);
	svc_push_status(s, t);
}

void service_engine_event(struct service *s, struct engine_event *ev)
{
	switch (ev->type) {
	case EV_STATUS:
		svc_on_status(s, ev);
		engine_event_free(ev);
		return;
	case EV_RESTORED:
		/* with the state it was saved in, if the engine sent it */
		if (svc_add_torrent(s, ev, ev->owner, 0) && ev->status.state)
			svc_on_status(s, ev);
		engine_event_free(ev);
		return;
	case EV_MOVED:
		svc_on_moved(s, ev);
		engine_event_free(ev);
		return;
	case EV_COMPLETED:
		if (s->io.completed)
			s->io.completed(s->io.ctx, ev);
		engine_event_free(ev);
		return;
	case EV_SESSION:
		svc_take_live(s, ev);
		if (ev->seq == 0) { /* unasked: at start, a new listen port */
			engine_event_free(ev);
			return;
		}
		break;
	case EV_LOADED:
		s->loading = false;
		if (s->io.loaded)
			s->io.loaded(s->io.ctx);
		engine_event_free(ev);
		return;
	default:
		break;
	}
	struct svc_pending *p = svc_dequeue(s, ev->seq);
	if (!p) {
		engine_event_free(ev);
		return;
	}
	json_object *out;
	switch (ev->type) {
	case EV_CREATED:
		svc_on_created(s, p, ev);
		break;
	case EV_DUPLICATE:
		out = tp_event_new("AlreadyDownloading", p->tag);
		json_object_object_add(out, "id", json_object_new_int64(ev->id));
		json_object_object_add(out, "info_hash",
				       json_object_new_string(ev->info_hash));
		svc_send(s, p->conn, out);
		break;
	case EV_START_FAIL:
		svc_start_fail(s, p->conn, p->tag,
			       ev->reason ? ev->reason : "failed");
		break;
	case EV_DONE:
		if (ev->cmd == ENG_MOVE) {
			svc_move_begun(s, p, ev->id);
			break;
		}
		if (ev->cmd == ENG_CLOSE) {
			svc_on_closed(s, p, ev->id);
			if (p->delete_files && ev->n_files && ev->save_path &&
			    svc_delete_files(s, p, ev) == 0)
				break; /* Closed is sent once the files are gone */
		}
		out = tp_event_new(svc_done_type(ev->cmd), p->tag);
		json_object_object_add(out, "id", json_object_new_int64(ev->id));
		svc_send(s, p->conn, out);
		break;
	case EV_FAILED:
		/* Lost a race with a close sent before it: the torrent was
		 * there when the request came, and is gone now. */
		if (!idmap_get(&s->torrents, ev->id))
			svc_error(s, p->conn, p->tag, TP_ERR_NOT_FOUND,
				  "no torrent %lld (closed meanwhile)",
				  (long long)ev->id);
		else
			svc_error(s, p->conn, p->tag,
				  ev->bad_request ? TP_ERR_BAD_REQUEST
						  : TP_ERR_INTERNAL,
				  "%s", ev->reason ? ev->reason
						   : "the engine failed");
		break;
	case EV_DETAIL: {
		/* Files {files}, Peers {peers}, Trackers {trackers}. */
		const char *key = ev->cmd == ENG_FILES	 ? "files"
				  : ev->cmd == ENG_PEERS ? "peers"
							 : "trackers";
		out = tp_event_new(ev->cmd == ENG_FILES	  ? "Files"
				   : ev->cmd == ENG_PEERS ? "Peers"
							  : "Trackers",
				   p->tag);
		json_object_object_add(out, "id", json_object_new_int64(ev->id));
		json_object_object_add(out, key, ev->detail);
		ev->detail = NULL;
		svc_send(s, p->conn, out);
		break;
	}
	case EV_SESSION:
		out = tp_event_new("Session", p->tag);
		tp_session_to_json(&ev->session, out);
		svc_send(s, p->conn, out);
		break;
	default:
		break;
	}
	if (p->watch_path && s->io.watched)
		s->io.watched(s->io.ctx, p->watch_path,
			      ev->type == EV_CREATED || ev->type == EV_DUPLICATE);
	svc_pending_free(p);
	engine_event_free(ev);
}

void service_watch_create(struct service *s, const char *path, uid_t uid,
			  gid_t gid)
{
	struct work_job *job = work_job_new(WORK_READ_TORRENT);
	struct svc_job *ctx = calloc(1, sizeof *ctx);
	if (!job || !ctx || !(ctx->watch_path = strdup(path)) ||
	    !(job->path = strdup(path))) {
		work_job_free(job);
		svc_job_ctx_free(ctx);
		log_error("out of memory adding %s", path);
		return;
	}
	/* No connection asked: conn 0 is never a patron's, so the answers
	 * go nowhere, and the torrent belongs to the file's owner. */
	ctx->op = TP_OP_CREATE;
	job->uid = uid;
	job->gid = gid;
	job->max_bytes = s->cfg.max_torrent_bytes;
	job->ctx = ctx;
	job->ctx_free = svc_job_ctx_free;
	s->io.work(s->io.ctx, job);
}
