/*
 * server.c - listening socket, patron connections and the epoll loop
 * (see server.h).  Main thread only.
 *
 * Flow per connection, as in redis' networking.c: read -> split lines ->
 * decode -> service -> queue output -> flush before sleeping, arming
 * EPOLLOUT only when the socket is full.  A connection is never freed
 * inside its own callback: it is marked dead and reaped at the end of the
 * loop turn.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "access.h"
#include "idmap.h"
#include "log.h"
#include "monoclock.h"
#include "proto.h"
#include "service.h"

#define SERVER_READ_CHUNK 65536
#define SERVER_MAX_EVENTS 256
#define SERVER_LISTEN_BACKLOG 4096
/* Reads per connection per loop turn, while fewer than
 * SERVER_LINES_PER_TURN lines have come: a long line still arriving (up
 * to --max-line) is taken at most this many chunks a turn, and the rest
 * waits for the next (epoll is level-triggered). */
#define SERVER_READS_PER_TURN 16
/* Requests per connection per loop turn.  A patron pipelining creates
 * (64 KiB is some 200 of them, at 15-25 us each on this thread) would
 * otherwise hold every other patron's one `status` for milliseconds; what
 * is read beyond this waits in the connection's buffer for the next turn,
 * which then does not block in epoll_wait. */
#define SERVER_LINES_PER_TURN 16
/* An output buffer that grew past this (a big List) is given back once it
 * is sent, rather than kept for the life of the connection. */
#define SERVER_OUT_KEEP ((size_t)64 * 1024)
/* Free memory is handed back to the kernel (malloc_trim) after a burst:
 * glibc otherwise keeps the freed heap of a storm of patrons (their
 * buffers, their requests' JSON, libtorrent's freed torrents in its
 * threads' arenas) for ever, as arenas only shrink from the top.  A burst
 * is this much connection memory freed, or many connections that came and
 * went: the peak since the last trim was at least SERVER_TRIM_CONNS and
 * a quarter of it is left. */
#define SERVER_TRIM_BYTES ((size_t)16 * 1024 * 1024)
#define SERVER_TRIM_CONNS 64
/* malloc_trim walks the whole heap: for freed bytes at most once a
 * second, so a patron listing 10,000 torrents in a loop does not pay for
 * it each time.  The end of a burst of connections is rare by nature (at
 * least SERVER_TRIM_CONNS came since the last trim) and always trims, so
 * the size after a storm does not depend on timing. */
#define SERVER_TRIM_EVERY_MS 1000

enum watch_kind { WATCH_LISTEN, WATCH_CONN, WATCH_FD };

struct watch {
	enum watch_kind kind;
	int fd;
	void (*fn)(void *ctx);
	void *ctx;
	struct watch *next;
};

struct conn {
	struct watch w;          /* first: epoll data points here */
	uint64_t id;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	/* The patron's groups as the kernel gave them at accept
	 * (SO_PEERGROUPS): checks made on this thread for the connection
	 * use them, so none waits on the user database.  groups NULL when
	 * the kernel could not tell. */
	struct access_ids peer;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_off, out_len, out_cap;
	struct idmap coalesced;  /* id -> malloc'd status line not yet queued */
	bool epollout;
	bool closing;            /* stop reading; close once output is sent */
	bool read_eof;           /* the patron half-closed: close once every
	                            request is answered and sent */
	bool dead;
	bool flush_listed;
	bool backlogged;         /* in holds whole lines left for a next turn */
	struct conn *next_flush;
	struct conn *next_dead;
	struct conn *next_backlog;
};

struct server {
	struct server_config cfg;
	char *socket_path;
	bool own_socket;         /* we created the file (not socket-activated) */
	int epfd;
	struct watch listen;
	struct watch *fds;
	struct idmap conns;
	struct idmap per_uid;    /* uid + 1 -> connection count (as a pointer) */
	uint64_t next_conn_id;
	struct conn *flush_list;
	struct conn *dead_list;
	struct conn *backlog;    /* connections with requests read, not run */
	struct service *svc;
	char *rbuf;              /* SERVER_READ_CHUNK: every recv() lands here
	                            unless a line is still arriving */
	size_t freed_bytes;      /* connection buffers freed since the last
	                            malloc_trim() */
	size_t peak_conns;       /* most connections open since then */
	int64_t last_trim_ms;    /* CLOCK_MONOTONIC */
	bool running;
};

/* --- the listening socket ---------------------------------------------- */

static int server_bind(struct server *srv, char **err)
{
	const char *path = srv->cfg.socket_path;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		if (asprintf(err, "socket path too long (max %zu bytes): %s",
			     sizeof sa.sun_path - 1, path) < 0)
			*err = NULL;
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	/* A live daemon answers connect(); a stale file refuses it. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
		close(probe);
		close(fd);
		if (asprintf(err, "another tpd is already listening on %s",
			     path) < 0)
			*err = NULL;
		return -1;
	}
	if (probe >= 0)
		close(probe);
	if (unlink(path) == 0)
		log_info("removed stale socket %s", path);
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || chmod(path, srv->cfg.socket_mode) < 0 ||
	    (srv->cfg.socket_gid != (gid_t)-1 &&
	     chown(path, (uid_t)-1, srv->cfg.socket_gid) < 0) ||
	    listen(fd, SERVER_LISTEN_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		goto fail;
	}
	srv->own_socket = true;
	return fd;
fail:
	if (asprintf(err, "cannot listen on %s: %s", path, strerror(errno)) < 0)
		*err = NULL;
	return -1;
}

struct server *server_new(const struct server_config *cfg, char **err)
{
	struct server *srv = calloc(1, sizeof *srv);
	if (!srv) {
		*err = strdup("out of memory");
		return NULL;
	}
	srv->cfg = *cfg;
	srv->socket_path = strdup(cfg->socket_path);
	srv->cfg.socket_path = srv->socket_path;
	srv->next_conn_id = 1;
	srv->rbuf = malloc(SERVER_READ_CHUNK);
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	int fd = cfg->listen_fd;
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	} else {
		fd = server_bind(srv, err);
	}
	if (srv->epfd < 0 || fd < 0 || !srv->rbuf) {
		if (srv->epfd < 0 && !*err)
			*err = strdup("epoll_create1 failed");
		else if (!srv->rbuf && !*err)
			*err = strdup("out of memory");
		if (srv->epfd >= 0)
			close(srv->epfd);
		if (fd >= 0 && fd != cfg->listen_fd)
			close(fd);
		free(srv->rbuf);
		free(srv->socket_path);
		free(srv);
		return NULL;
	}
	srv->listen.kind = WATCH_LISTEN;
	srv->listen.fd = fd;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->listen};
	epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev);
	return srv;
}

void server_set_service(struct server *srv, struct service *svc)
{
	srv->svc = svc;
}

int server_watch_fd(struct server *srv, int fd, void (*fn)(void *ctx),
		    void *ctx)
{
	struct watch *w = calloc(1, sizeof *w);
	if (!w)
		return -1;
	w->kind = WATCH_FD;
	w->fd = fd;
	w->fn = fn;
	w->ctx = ctx;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(w);
		return -1;
	}
	w->next = srv->fds;
	srv->fds = w;
	return 0;
}

size_t server_conn_count(const struct server *srv)
{
	return srv->conns.count;
}

void server_set_limits(struct server *srv, size_t max_line, size_t max_conns,
		       size_t max_conns_user, size_t hard_output)
{
	srv->cfg.max_line = max_line;
	srv->cfg.max_conns = max_conns;
	srv->cfg.max_conns_user = max_conns_user;
	srv->cfg.hard_output = hard_output;
}

/* --- connections ----------------------------------------------------------- */

static void conn_kill(struct server *srv, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	c->next_dead = srv->dead_list;
	srv->dead_list = c;
}

/* Connections per user, so that one user cannot take every slot.  Keys
 * are uid + 1 because idmap reserves 0. */
static size_t server_uid_count(struct server *srv, uid_t uid)
{
	return (size_t)(uintptr_t)idmap_get(&srv->per_uid, (int64_t)uid + 1);
}

static void server_uid_add(struct server *srv, uid_t uid, int delta)
{
	size_t n = server_uid_count(srv, uid) + (size_t)(ssize_t)delta;
	if (n == 0)
		idmap_del(&srv->per_uid, (int64_t)uid + 1);
	else
		idmap_put(&srv->per_uid, (int64_t)uid + 1, (void *)(uintptr_t)n);
}

static void conn_free(struct server *srv, struct conn *c)
{
	server_uid_add(srv, c->uid, -1);
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->w.fd, NULL);
	close(c->w.fd);
	idmap_del(&srv->conns, (int64_t)c->id);
	if (srv->svc)
		service_conn_close(srv->svc, c->id);
	size_t pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&c->coalesced, &pos, &key, &val))
		free(val);
	idmap_free(&c->coalesced);
	srv->freed_bytes += c->in_cap + c->out_cap;
	access_ids_free(&c->peer);
	free(c->in);
	free(c->out);
	free(c);
}

static void conn_want_flush(struct server *srv, struct conn *c)
{
	if (c->flush_listed)
		return;
	c->flush_listed = true;
	c->next_flush = srv->flush_list;
	srv->flush_list = c;
}

static size_t conn_backlog(const struct conn *c)
{
	return c->out_len - c->out_off;
}

static int conn_append(struct conn *c, const char *data, size_t len)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		/* Reclaim the sent prefix before growing. */
		if (c->out_off > 0) {
			memmove(c->out, c->out + c->out_off, conn_backlog(c));
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len)
			cap *= 2;
		char *o = realloc(c->out, cap);
		if (!o)
			return -1;
		c->out = o;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

static struct conn *server_conn(struct server *srv, uint64_t id)
{
	struct conn *c = idmap_get(&srv->conns, (int64_t)id);
	return c && !c->dead ? c : NULL;
}

/* Whether c may queue len more bytes; if not, c is closed. */
static bool conn_room(struct server *srv, struct conn *c, size_t len)
{
	if (conn_backlog(c) + len > srv->cfg.hard_output) {
		log_warn("connection %llu (uid %u, pid %d) does not read its "
			 "answers: %zu bytes queued; closing it",
			 (unsigned long long)c->id, (unsigned)c->uid, (int)c->pid,
			 conn_backlog(c));
		conn_kill(srv, c);
		return false;
	}
	return true;
}

void server_answer_take(void *ctx, uint64_t conn, char *line, size_t len)
{
	struct server *srv = ctx;
	struct conn *c = server_conn(srv, conn);
	/* Nothing queued: the line becomes the output buffer as it is.  A
	 * `list` of 100,000 torrents is ~50 MB, and copying it into fresh
	 * memory cost as much as making it (perf, issue 12). */
	if (c && conn_backlog(c) == 0 && conn_room(srv, c, len)) {
		srv->freed_bytes += c->out_cap;
		free(c->out);
		c->out = line;
		c->out_off = 0;
		c->out_len = c->out_cap = len;
		conn_want_flush(srv, c);
		return;
	}
	if (c)
		server_answer(srv, conn, line, len);
	free(line);
}

void server_answer(void *ctx, uint64_t conn, const char *line, size_t len)
{
	struct server *srv = ctx;
	struct conn *c = server_conn(srv, conn);
	if (!c)
		return;
	if (!conn_room(srv, c, len))
		return;
	if (conn_append(c, line, len) < 0) {
		log_error("out of memory queueing for connection %llu",
			  (unsigned long long)c->id);
		conn_kill(srv, c);
		return;
	}
	conn_want_flush(srv, c);
}

void server_push(void *ctx, uint64_t conn, int64_t id, const char *line,
		 size_t len)
{
	struct server *srv = ctx;
	struct conn *c = server_conn(srv, conn);
	if (!c)
		return;
	if (conn_backlog(c) + len <= srv->cfg.soft_output &&
	    c->coalesced.count == 0) {
		server_answer(srv, conn, line, len);
		return;
	}
	/* Behind: keep only the newest status per torrent until it reads. */
	char *copy = strndup(line, len);
	if (!copy)
		return;
	free(idmap_get(&c->coalesced, id));
	if (idmap_put(&c->coalesced, id, copy) < 0)
		free(copy);
}

/* Moves coalesced pushes into the output once the patron has caught up. */
static void conn_release_coalesced(struct server *srv, struct conn *c)
{
	size_t pos = 0;
	int64_t key;
	void *val;
	while (conn_backlog(c) < srv->cfg.soft_output &&
	       idmap_next(&c->coalesced, &pos, &key, &val)) {
		if (conn_append(c, val, strlen(val)) < 0)
			break;
		free(val);
		idmap_del(&c->coalesced, key);
		pos = 0; /* deletion may move entries: restart the scan */
	}
}

/* Whether requests may still come in: not after an oversize line nor
 * after the patron's end of stream. */
static bool conn_reading(const struct conn *c)
{
	return !c->closing && !c->read_eof;
}

/* Sets what epoll reports for the connection.  Once reading is over
 * EPOLLIN is left out: end of stream stays readable for ever and would
 * spin the loop; EPOLLHUP and EPOLLERR are reported regardless. */
static void conn_set_events(struct server *srv, struct conn *c, bool out)
{
	struct epoll_event ev = {
		.events = (conn_reading(c) ? EPOLLIN : 0) | (out ? EPOLLOUT : 0),
		.data.ptr = &c->w};
	epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->w.fd, &ev);
	c->epollout = out;
}

/* A half-closed patron is done once nothing is owed and all is sent. */
static bool conn_finished(struct server *srv, const struct conn *c)
{
	if (c->closing)
		return true;
	return c->read_eof && service_conn_owed(srv->svc, c->id) == 0;
}

static void conn_flush(struct server *srv, struct conn *c)
{
	for (;;) {
		while (conn_backlog(c) > 0) {
			ssize_t n = send(c->w.fd, c->out + c->out_off,
					 conn_backlog(c), MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					goto blocked;
				log_debug("connection %llu: send: %s",
					  (unsigned long long)c->id,
					  strerror(errno));
				conn_kill(srv, c);
				return;
			}
			c->out_off += (size_t)n;
		}
		c->out_off = c->out_len = 0;
		if (c->coalesced.count == 0)
			break;
		conn_release_coalesced(srv, c);
	}
	if (c->out_cap > SERVER_OUT_KEEP) {
		srv->freed_bytes += c->out_cap;
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	if (conn_finished(srv, c)) {
		conn_kill(srv, c);
		return;
	}
	if (c->epollout)
		conn_set_events(srv, c, false);
	return;
blocked:
	if (!c->epollout)
		conn_set_events(srv, c, true);
}

static void conn_error(struct server *srv, struct conn *c,
		       enum tp_err code, const char *reason, json_object *tag)
{
	json_object *ev = tp_error_event(code, reason, tag);
	size_t len;
	char *line = tp_line(ev, &len);
	json_object_put(ev);
	if (line)
		server_answer(srv, c->id, line, len);
	free(line);
}

static void conn_line(struct server *srv, struct conn *c, const char *line,
		      size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return; /* blank lines are keep-alives, not requests */
	struct tp_request req;
	struct tp_error err;
	memset(&req, 0, sizeof req);
	memset(&err, 0, sizeof err);
	if (tp_request_parse(line, len, &req, &err) < 0) {
		conn_error(srv, c, err.code, err.reason ? err.reason : "bad request",
			   err.tag);
		tp_error_free(&err);
		return;
	}
	service_request(srv->svc, c->id, &req);
	tp_request_free(&req);
}

/* Makes room for `more` bytes after the connection's partial line. */
static int conn_in_reserve(struct conn *c, size_t more)
{
	if (c->in_cap - c->in_len >= more)
		return 0;
	size_t cap = c->in_cap ? c->in_cap : SERVER_READ_CHUNK;
	while (cap - c->in_len < more)
		cap *= 2;
	char *in = realloc(c->in, cap);
	if (!in)
		return -1;
	c->in = in;
	c->in_cap = cap;
	return 0;
}

static void conn_in_release(struct server *srv, struct conn *c)
{
	srv->freed_bytes += c->in_cap;
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
}

/* The patron shut down its sending side (shutdown(SHUT_WR), or
 * `printf ... | socat`): what it sent is still answered, a last line
 * without its newline included, and the connection closes once every
 * answer, also those the engine gives later, has been sent. */
static void conn_read_eof(struct server *srv, struct conn *c)
{
	c->read_eof = true;
	if (c->in_len > 0 && c->in_len <= srv->cfg.max_line)
		conn_line(srv, c, c->in, c->in_len);
	conn_in_release(srv, c);
	if (c->dead)
		return;
	conn_set_events(srv, c, c->epollout);
	log_debug("connection %llu: end of requests, %zu answers owed",
		  (unsigned long long)c->id, service_conn_owed(srv->svc, c->id));
	conn_want_flush(srv, c); /* closes at once when nothing is owed */
}

/* Hands the complete lines of buf[0..len) to conn_line, at most *budget
 * of them; the bytes before scan_from hold no newline.  Returns where the
 * rest begins: an unfinished line, or lines left for a next turn. */
static size_t conn_lines(struct server *srv, struct conn *c, const char *buf,
			 size_t scan_from, size_t len, int *budget)
{
	size_t start = 0;
	const char *nl;

	while (*budget > 0 && !c->dead && !c->closing &&
	       (nl = memchr(buf + scan_from, '\n', len - scan_from)) != NULL) {
		size_t end = (size_t)(nl - buf);
		if (end - start > srv->cfg.max_line)
			break; /* too long: refused below, with the rest */
		conn_line(srv, c, buf + start, end - start);
		(*budget)--;
		start = end + 1;
		scan_from = start;
	}
	return start;
}

static void conn_too_long(struct server *srv, struct conn *c)
{
	char *reason = NULL;
	if (asprintf(&reason, "request line longer than %zu bytes; closing "
		     "the connection", srv->cfg.max_line) < 0)
		reason = NULL;
	conn_error(srv, c, TP_ERR_TOO_LARGE, reason ? reason : "line too long",
		   NULL);
	free(reason);
	log_warn("connection %llu (uid %u): oversize line, closing",
		 (unsigned long long)c->id, (unsigned)c->uid);
	c->closing = true;
	conn_in_release(srv, c);
	conn_set_events(srv, c, true);
}

/* Runs the lines in buf[0..len) (the bytes before scan_from hold no
 * newline), within the turn's budget, and keeps the rest in c->in: buf is
 * either the server's read buffer or c->in itself (partial).  When the
 * budget ran out the connection joins the backlog, to go on next turn
 * before it reads more.  Returns false when reading must stop this turn. */
static bool conn_take(struct server *srv, struct conn *c, char *buf,
		      size_t scan_from, size_t len, bool partial, int *budget)
{
	size_t start = conn_lines(srv, c, buf, scan_from, len, budget);
	if (c->dead || c->closing)
		return false;
	size_t rest = len - start;
	if (partial) {
		memmove(c->in, c->in + start, rest);
		c->in_len = rest;
	} else if (rest > 0) {
		if (conn_in_reserve(c, rest) < 0) {
			conn_kill(srv, c);
			return false;
		}
		memcpy(c->in, buf + start, rest);
		c->in_len = rest;
	}
	if (c->in_len == 0 && c->in)
		conn_in_release(srv, c);
	if (*budget == 0 && c->in_len > 0) {
		/* Perhaps only an unfinished line: next turn finds out. */
		c->backlogged = true;
		c->next_backlog = srv->backlog;
		srv->backlog = c;
		return false;
	}
	if (c->in_len > srv->cfg.max_line) {
		conn_too_long(srv, c);
		return false;
	}
	return true;
}

/* Reads what the patron sent.  Whole lines are taken straight from the
 * server's one read buffer; a connection holds memory of its own only
 * for a line that is still arriving or lines left for a next turn, and
 * gives it back once they are run, so thousands of idle or finished
 * patrons cost no buffers (and the allocator is not left holding their
 * freed 128 KiB each). */
static void conn_read(struct server *srv, struct conn *c)
{
	int budget = SERVER_LINES_PER_TURN;
	if (c->backlogged) {
		c->backlogged = false;
		if (!conn_take(srv, c, c->in, 0, c->in_len, true, &budget))
			return;
	}
	for (int turn = 0; turn < SERVER_READS_PER_TURN; turn++) {
		bool partial = c->in_len > 0;
		if (partial && conn_in_reserve(c, SERVER_READ_CHUNK) < 0) {
			log_error("out of memory reading connection %llu",
				  (unsigned long long)c->id);
			conn_kill(srv, c);
			return;
		}
		char *buf = partial ? c->in : srv->rbuf;
		size_t have = partial ? c->in_len : 0;
		size_t room = partial ? c->in_cap - c->in_len : SERVER_READ_CHUNK;
		ssize_t n = recv(c->w.fd, buf + have, room, 0);
		if (n == 0) {
			conn_read_eof(srv, c);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_kill(srv, c);
			return;
		}
		if (!conn_take(srv, c, buf, have, have + (size_t)n, partial,
			       &budget))
			return;
	}
}

static void server_refuse(int fd, const char *reason)
{
	json_object *ev = tp_error_event(TP_ERR_BUSY, reason, NULL);
	size_t len;
	char *line = tp_line(ev, &len);
	json_object_put(ev);
	if (line) {
		ssize_t n = send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)n;
	}
	free(line);
	close(fd);
}

/* The peer's supplementary groups from the kernel: no user-database
 * look-up on this thread.  Left without groups when the kernel cannot
 * say (then the checks fall back to usercache.c). */
static void server_peer_groups(int fd, const struct ucred *cred,
			       struct access_ids *ids)
{
	memset(ids, 0, sizeof *ids);
	ids->uid = cred->uid;
	ids->gid = cred->gid;
	socklen_t len = 32 * sizeof(gid_t);
	for (int tries = 0; tries < 3; tries++) {
		gid_t *g = realloc(ids->groups, len ? len : sizeof(gid_t));
		if (!g)
			break;
		ids->groups = g;
		socklen_t got = len;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &got) == 0) {
			ids->n = (int)(got / sizeof(gid_t));
			return;
		}
		if (errno != ERANGE)
			break;
		len = got; /* the size the kernel asked for */
	}
	access_ids_free(ids);
}

const struct access_ids *server_conn_peer(struct server *srv, uint64_t conn)
{
	struct conn *c = idmap_get(&srv->conns, (int64_t)conn);
	return c && c->peer.groups ? &c->peer : NULL;
}

static void server_accept(struct server *srv)
{
	for (;;) {
		int fd = accept4(srv->listen.fd, NULL, NULL,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (srv->conns.count >= srv->cfg.max_conns) {
			log_warn("refusing a connection: %zu already open",
				 srv->conns.count);
			server_refuse(fd, "too many connections; try again later");
			continue;
		}
		struct ucred cred;
		socklen_t clen = sizeof cred;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
			log_warn("SO_PEERCRED: %s", strerror(errno));
			close(fd);
			continue;
		}
		if (cred.uid != 0 &&
		    server_uid_count(srv, cred.uid) >= srv->cfg.max_conns_user) {
			log_warn("refusing a connection of uid %u: it already has "
				 "%zu", (unsigned)cred.uid,
				 server_uid_count(srv, cred.uid));
			server_refuse(fd, "too many connections of this user; "
				      "close some first");
			continue;
		}
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->w.kind = WATCH_CONN;
		c->w.fd = fd;
		c->id = srv->next_conn_id++;
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
		server_peer_groups(fd, &cred, &c->peer);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->w};
		if (idmap_put(&srv->conns, (int64_t)c->id, c) < 0 ||
		    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			idmap_del(&srv->conns, (int64_t)c->id);
			close(fd);
			free(c);
			continue;
		}
		server_uid_add(srv, c->uid, 1);
		service_conn_open(srv->svc, c->id, c->uid, c->gid, c->pid);
		log_debug("connection %llu from uid %u pid %d",
			  (unsigned long long)c->id, (unsigned)c->uid, (int)c->pid);
	}
}

/* --- the loop -------------------------------------------------------------- */

/* Gives freed memory back to the kernel after a burst (see
 * SERVER_TRIM_BYTES).  Freed bytes not trimmed because the last trim was
 * too recent are trimmed on a later turn: nothing is reset until then. */
static void server_maybe_trim(struct server *srv)
{
	if (srv->conns.count > srv->peak_conns)
		srv->peak_conns = srv->conns.count;
	bool burst_over = srv->peak_conns >= SERVER_TRIM_CONNS &&
			  srv->conns.count <= srv->peak_conns / 4;
	if (!burst_over && srv->freed_bytes < SERVER_TRIM_BYTES)
		return;
	int64_t now = monoclock_us() / 1000;
	if (!burst_over && now - srv->last_trim_ms < SERVER_TRIM_EVERY_MS)
		return;
	srv->last_trim_ms = now;
	srv->freed_bytes = 0;
	srv->peak_conns = srv->conns.count;
	malloc_trim(0);
}

/* Runs, for each connection of the last turn's backlog, the next budget
 * of the lines it has read.  Those that still hold lines join the backlog
 * again, for the next turn. */
static void server_run_backlog(struct server *srv, struct conn *c)
{
	while (c) {
		struct conn *next = c->next_backlog;
		c->next_backlog = NULL;
		if (!c->dead && conn_reading(c))
			conn_read(srv, c);
		else
			c->backlogged = false;
		c = next;
	}
}

static void server_end_of_turn(struct server *srv)
{
	while (srv->flush_list) {
		struct conn *c = srv->flush_list;
		srv->flush_list = c->next_flush;
		c->flush_listed = false;
		if (!c->dead)
			conn_flush(srv, c);
	}
	/* A connection killed after it joined the backlog (also by a flush
	 * just now) leaves it before it is freed. */
	for (struct conn **p = &srv->backlog; *p;) {
		if ((*p)->dead)
			*p = (*p)->next_backlog;
		else
			p = &(*p)->next_backlog;
	}
	while (srv->dead_list) {
		struct conn *c = srv->dead_list;
		srv->dead_list = c->next_dead;
		conn_free(srv, c);
	}
	server_maybe_trim(srv);
}

void server_run(struct server *srv)
{
	struct epoll_event evs[SERVER_MAX_EVENTS];
	srv->running = true;
	while (srv->running) {
		/* Lines left from the last turn: look for news, do not wait. */
		struct conn *backlog = srv->backlog;
		srv->backlog = NULL;
		int n = epoll_wait(srv->epfd, evs, SERVER_MAX_EVENTS,
				   backlog ? 0 : -1);
		if (n < 0) {
			if (errno != EINTR) {
				log_error("epoll_wait: %s", strerror(errno));
				break;
			}
			n = 0; /* the backlog still runs */
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;
			if (w->kind == WATCH_LISTEN) {
				server_accept(srv);
			} else if (w->kind == WATCH_FD) {
				w->fn(w->ctx);
			} else {
				struct conn *c = (struct conn *)w;
				if (c->dead)
					continue;
				if (evs[i].events & EPOLLOUT)
					conn_flush(srv, c);
				if (c->backlogged)
					continue; /* reads on below */
				if (!c->dead && conn_reading(c) &&
				    (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
					conn_read(srv, c);
				else if (!c->dead &&
					 (evs[i].events & (EPOLLHUP | EPOLLERR)))
					conn_kill(srv, c); /* gone for good */
			}
		}
		server_run_backlog(srv, backlog);
		server_end_of_turn(srv);
	}
}

void server_stop(struct server *srv)
{
	srv->running = false;
}

void server_free(struct server *srv)
{
	if (!srv)
		return;
	server_end_of_turn(srv);
	size_t pos = 0;
	int64_t key;
	void *val;
	while (idmap_next(&srv->conns, &pos, &key, &val)) {
		conn_free(srv, val);
		pos = 0;
	}
	idmap_free(&srv->conns);
	idmap_free(&srv->per_uid);
	while (srv->fds) {
		struct watch *next = srv->fds->next;
		free(srv->fds);
		srv->fds = next;
	}
	close(srv->listen.fd);
	if (srv->own_socket)
		unlink(srv->socket_path);
	close(srv->epfd);
	free(srv->rbuf);
	free(srv->socket_path);
	free(srv);
}
