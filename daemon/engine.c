/*
 * engine.c - the engine thread and its two queues.
 *
 * Runs on: the engine thread (engine_main and everything it calls), except
 * the functions documented in engine.h as the main thread's API
 * (engine_start, engine_submit, engine_take_events, engine_stop), which
 * touch only the queues under the lock.
 *
 * The thread sleeps in poll() on three descriptors: the command eventfd,
 * libtorrent's alert fd and a timerfd for the status tick.  It never sleeps
 * for a fixed time, so an answer leaves as soon as libtorrent has given it.
 */
#include "engine.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "lt_shim.h"

struct engine {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t started_cond;

	/* Shared with the main thread, under lock. */
	struct engine_cmd *cmd_head, *cmd_tail;
	struct engine_event *ev_head, *ev_tail;
	bool stopping;
	bool started;
	char *start_err;

	int cmd_fd;     /* eventfd: commands (or stop) waiting */
	int ev_fd;      /* eventfd: events waiting */

	/* Engine thread only after start. */
	lts_session *lts;
	int timer_fd;
	int listen_port;
	int64_t next_id;
	char *listen;
	char *download_dir;
	bool dht, lsd, upnp;
	int tick_ms;
};

static void eventfd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof one);
	(void)n; /* a full counter is still readable: nothing is lost */
}

static void eventfd_clear(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof v);
	(void)n;
}

struct engine_cmd *engine_cmd_new(enum engine_cmd_type type)
{
	struct engine_cmd *c = calloc(1, sizeof *c);
	if (c)
		c->type = type;
	return c;
}

void engine_cmd_free(struct engine_cmd *c)
{
	if (!c)
		return;
	free(c->torrent);
	free(c->magnet);
	free(c->save_dir);
	for (size_t i = 0; i < c->n_peers; i++)
		free(c->peers[i]);
	free(c->peers);
	free(c->reason);
	free(c);
}

void engine_event_free(struct engine_event *ev)
{
	if (!ev)
		return;
	free(ev->name);
	free(ev->save_path);
	free(ev->reason);
	tp_status_free(&ev->status);
	free(ev);
}

/* Engine thread: hands an event to the main thread. */
static void engine_emit(struct engine *e, struct engine_event *ev)
{
	pthread_mutex_lock(&e->lock);
	bool was_empty = e->ev_head == NULL;
	if (e->ev_tail)
		e->ev_tail->next = ev;
	else
		e->ev_head = ev;
	e->ev_tail = ev;
	pthread_mutex_unlock(&e->lock);
	if (was_empty)
		eventfd_signal(e->ev_fd);
}

static struct engine_event *engine_event_new(enum engine_event_type type,
					     uint64_t seq)
{
	struct engine_event *ev = calloc(1, sizeof *ev);
	if (!ev) {
		/* Losing an answer would shift the FIFO: better to stop. */
		log_error("out of memory in the engine");
		abort();
	}
	ev->type = type;
	ev->seq = seq;
	return ev;
}

static char *engine_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void engine_status_copy(struct tp_status *dst,
			       const struct lts_status *src)
{
	dst->id = src->id;
	dst->name = engine_strdup(src->name);
	memcpy(dst->info_hash, src->info_hash, sizeof dst->info_hash);
	dst->state = src->state;
	dst->paused = src->paused;
	dst->progress = src->progress;
	dst->done_bytes = src->done_bytes;
	dst->total_bytes = src->total_bytes;
	dst->down_rate = src->down_rate;
	dst->up_rate = src->up_rate;
	dst->peers = src->peers;
	dst->seeds = src->seeds;
	dst->error = engine_strdup(src->error);
	dst->save_path = engine_strdup(src->save_path);
}

static void engine_on_status(void *ctx, const struct lts_status *st)
{
	struct engine *e = ctx;
	struct engine_event *ev = engine_event_new(EV_STATUS, 0);
	ev->id = st->id;
	engine_status_copy(&ev->status, st);
	engine_emit(e, ev);
}

/* Pushes one torrent's status now rather than at the next tick. */
static void engine_push_status(struct engine *e, int64_t id, bool completed)
{
	struct lts_status st;
	char *err = NULL;
	if (lts_status_get(e->lts, id, &st, &err) < 0) {
		log_debug("no status for torrent %lld: %s", (long long)id,
			  err ? err : "?");
		free(err);
		return;
	}
	struct engine_event *ev = engine_event_new(EV_STATUS, 0);
	ev->id = id;
	ev->completed = completed;
	engine_status_copy(&ev->status, &st);
	lts_status_free(&st);
	engine_emit(e, ev);
}

/* A finished download gets its status pushed at once, so `tpctl add
 * --wait` returns as soon as the data is complete. */
static void engine_on_finished(void *ctx, int64_t id)
{
	struct engine *e = ctx;
	engine_push_status(e, id, true);
	log_info("torrent %lld complete", (long long)id);
}

static void engine_on_log(void *ctx, int level, int64_t id, const char *msg)
{
	(void)ctx;
	if (id > 0)
		log_msg((enum log_level)level, "torrent %lld: %s",
			(long long)id, msg);
	else
		log_msg((enum log_level)level, "libtorrent: %s", msg);
}

static const struct lts_sink engine_sink_proto = {
	.status = engine_on_status,
	.finished = engine_on_finished,
	.log = engine_on_log,
};

static void engine_drain(struct engine *e)
{
	struct lts_sink sink = engine_sink_proto;
	sink.ctx = e;
	lts_drain(e->lts, &sink);
}

static void engine_do_create(struct engine *e, struct engine_cmd *c)
{
	const char *save = c->save_dir ? c->save_dir : e->download_dir;
	struct lts_add p = {
		.id = e->next_id,
		.torrent = c->torrent,
		.torrent_len = c->torrent_len,
		.magnet = c->magnet,
		.save_path = save,
		.have_all = c->have_all,
		.paused = c->paused,
		.peers = (const char *const *)c->peers,
		.n_peers = c->n_peers,
	};
	struct lts_added added;
	memset(&added, 0, sizeof added);
	char *err = NULL;
	enum lts_add_result r = lts_add(e->lts, &p, &added, &err);
	struct engine_event *ev;
	switch (r) {
	case LTS_ADD_OK:
		ev = engine_event_new(EV_CREATED, c->seq);
		ev->id = e->next_id++;
		memcpy(ev->info_hash, added.info_hash, sizeof ev->info_hash);
		ev->name = engine_strdup(added.name);
		ev->save_path = strdup(save);
		log_info("torrent %lld added: %s (%s) in %s", (long long)ev->id,
			 ev->name ? ev->name : "?", ev->info_hash, save);
		break;
	case LTS_ADD_DUPLICATE:
		ev = engine_event_new(EV_DUPLICATE, c->seq);
		ev->id = added.existing_id;
		memcpy(ev->info_hash, added.info_hash, sizeof ev->info_hash);
		break;
	default:
		ev = engine_event_new(EV_START_FAIL, c->seq);
		ev->reason = err ? err : strdup("libtorrent refused the torrent");
		err = NULL;
		log_info("create refused: %s", ev->reason);
		break;
	}
	free(err);
	lts_added_free(&added);
	int64_t created = ev->type == EV_CREATED ? ev->id : 0;
	engine_emit(e, ev);
	/* Patrons listing right after the answer see the real state. */
	if (created)
		engine_push_status(e, created, false);
}

static void engine_do_control(struct engine *e, struct engine_cmd *c)
{
	char *err = NULL;
	int rc;
	switch (c->type) {
	case ENG_CLOSE:
		rc = lts_remove(e->lts, c->id, c->delete_files, &err);
		break;
	case ENG_PAUSE:
		rc = lts_pause(e->lts, c->id, &err);
		break;
	case ENG_RESUME:
		rc = lts_resume(e->lts, c->id, &err);
		break;
	default:
		rc = lts_reannounce(e->lts, c->id, &err);
		break;
	}
	struct engine_event *ev =
		engine_event_new(rc == 0 ? EV_DONE : EV_FAILED, c->seq);
	ev->cmd = c->type;
	ev->id = c->id;
	ev->reason = err;
	engine_emit(e, ev);
}

static void engine_do(struct engine *e, struct engine_cmd *c)
{
	switch (c->type) {
	case ENG_CREATE:
		engine_do_create(e, c);
		break;
	case ENG_FAIL: {
		struct engine_event *ev = engine_event_new(EV_START_FAIL, c->seq);
		ev->reason = c->reason;
		c->reason = NULL;
		engine_emit(e, ev);
		break;
	}
	default:
		engine_do_control(e, c);
		break;
	}
}

/* Returns false once the engine is asked to stop. */
static bool engine_run_commands(struct engine *e)
{
	pthread_mutex_lock(&e->lock);
	struct engine_cmd *list = e->cmd_head;
	e->cmd_head = e->cmd_tail = NULL;
	bool stopping = e->stopping;
	pthread_mutex_unlock(&e->lock);
	eventfd_clear(e->cmd_fd);
	while (list) {
		struct engine_cmd *next = list->next;
		engine_do(e, list);
		engine_cmd_free(list);
		list = next;
	}
	return !stopping;
}

static int engine_open(struct engine *e, char **err)
{
	struct lts_config lc = {
		.listen = e->listen,
		.dht = e->dht,
		.lsd = e->lsd,
		.upnp = e->upnp,
		.loopback_friendly = true,
	};
	e->lts = lts_new(&lc, err);
	if (!e->lts)
		return -1;
	e->listen_port = lts_listen_port(e->lts);
	e->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (e->timer_fd < 0) {
		if (asprintf(err, "timerfd: %s", strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	struct itimerspec its = {
		.it_interval = {e->tick_ms / 1000, (e->tick_ms % 1000) * 1000000L},
		.it_value = {e->tick_ms / 1000, (e->tick_ms % 1000) * 1000000L},
	};
	timerfd_settime(e->timer_fd, 0, &its, NULL);
	return 0;
}

static void *engine_main(void *arg)
{
	struct engine *e = arg;
	char *err = NULL;
	int rc = engine_open(e, &err);
	if (rc < 0 && e->lts) {
		lts_free(e->lts);
		e->lts = NULL;
	}
	pthread_mutex_lock(&e->lock);
	e->started = true;
	e->start_err = rc < 0 ? (err ? err : strdup("engine failed")) : NULL;
	pthread_cond_signal(&e->started_cond);
	pthread_mutex_unlock(&e->lock);
	if (rc < 0)
		return NULL;

	struct pollfd pfd[3] = {
		{.fd = e->cmd_fd, .events = POLLIN},
		{.fd = lts_alert_fd(e->lts), .events = POLLIN},
		{.fd = e->timer_fd, .events = POLLIN},
	};
	engine_drain(e);
	for (;;) {
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("engine poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			engine_drain(e);
		if (pfd[2].revents) {
			eventfd_clear(e->timer_fd);
			lts_post_updates(e->lts);
		}
		if (pfd[0].revents && !engine_run_commands(e))
			break;
	}
	engine_drain(e);
	lts_free(e->lts);
	e->lts = NULL;
	return NULL;
}

struct engine *engine_start(const struct engine_config *cfg, char **err)
{
	struct engine *e = calloc(1, sizeof *e);
	if (!e) {
		*err = strdup("out of memory");
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->started_cond, NULL);
	e->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->ev_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->timer_fd = -1;
	e->listen = engine_strdup(cfg->listen);
	e->download_dir = strdup(cfg->download_dir);
	e->dht = cfg->dht;
	e->lsd = cfg->lsd;
	e->upnp = cfg->upnp;
	e->tick_ms = cfg->tick_ms > 0 ? cfg->tick_ms : 1000;
	e->next_id = cfg->first_id > 0 ? cfg->first_id : 1;
	if (e->cmd_fd < 0 || e->ev_fd < 0 ||
	    pthread_create(&e->thread, NULL, engine_main, e) != 0) {
		*err = strdup("cannot start the engine thread");
		goto fail;
	}
	pthread_mutex_lock(&e->lock);
	while (!e->started)
		pthread_cond_wait(&e->started_cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	if (e->start_err) {
		pthread_join(e->thread, NULL);
		*err = e->start_err;
		e->start_err = NULL;
		goto fail;
	}
	return e;
fail:
	if (e->timer_fd >= 0)
		close(e->timer_fd);
	if (e->cmd_fd >= 0)
		close(e->cmd_fd);
	if (e->ev_fd >= 0)
		close(e->ev_fd);
	free(e->listen);
	free(e->download_dir);
	free(e);
	return NULL;
}

int engine_event_fd(struct engine *e)
{
	return e->ev_fd;
}

int engine_listen_port(struct engine *e)
{
	return e->listen_port;
}

void engine_submit(struct engine *e, struct engine_cmd *cmd)
{
	cmd->next = NULL;
	pthread_mutex_lock(&e->lock);
	bool was_empty = e->cmd_head == NULL;
	if (e->cmd_tail)
		e->cmd_tail->next = cmd;
	else
		e->cmd_head = cmd;
	e->cmd_tail = cmd;
	pthread_mutex_unlock(&e->lock);
	if (was_empty)
		eventfd_signal(e->cmd_fd);
}

struct engine_event *engine_take_events(struct engine *e)
{
	pthread_mutex_lock(&e->lock);
	struct engine_event *list = e->ev_head;
	e->ev_head = e->ev_tail = NULL;
	pthread_mutex_unlock(&e->lock);
	eventfd_clear(e->ev_fd);
	return list;
}

void engine_stop(struct engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	pthread_mutex_unlock(&e->lock);
	eventfd_signal(e->cmd_fd);
	pthread_join(e->thread, NULL);
	close(e->timer_fd);
	close(e->cmd_fd);
	close(e->ev_fd);
	struct engine_event *ev = e->ev_head;
	while (ev) {
		struct engine_event *next = ev->next;
		engine_event_free(ev);
		ev = next;
	}
	struct engine_cmd *c = e->cmd_head;
	while (c) {
		struct engine_cmd *next = c->next;
		engine_cmd_free(c);
		c = next;
	}
	free(e->listen);
	free(e->download_dir);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->started_cond);
	free(e);
}
