/*
 * tpclient.c - libtpclient: one patron's connection to tpd (see tpclient.h).
 *
 * Owns the socket, the line framing in both directions, the tag counter and
 * the queue of events that arrived while tpc_call() waited for its answer.
 * Runs on whatever thread the caller uses for the handle.
 */
#include "tpclient.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "proto.h"

/* How much the receive buffer grows by at least, per read. */
#define TPC_READ_CHUNK 65536

struct tpc_queued {
	json_object *ev;
	struct tpc_queued *next;
};

struct tpc {
	int fd;
	int64_t next_tag;
	/* Received bytes not yet returned as events: buf[start..len). */
	char *buf;
	size_t start, len, cap;
	bool eof;
	/* Events set aside by tpc_call(), oldest first. */
	struct tpc_queued *q_head, *q_tail;
};

/* Stores a formatted, malloc'd reason in *err when the caller wants one. */
__attribute__((format(printf, 2, 3)))
static void tpc_fail(char **err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!err)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*err = s;
}

char *tpc_default_socket(void)
{
	const char *env = getenv("TPD_SOCKET");
	const char *xdg;
	char *s = NULL;

	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/run/tpd/tpd.sock");
	xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg) {
		if (asprintf(&s, "%s/tpd.sock", xdg) < 0)
			return NULL;
	} else if (asprintf(&s, "/run/user/%u/tpd.sock",
			    (unsigned)geteuid()) < 0) {
		return NULL;
	}
	return s;
}

tpc *tpc_connect(const char *path, char **err)
{
	struct sockaddr_un sa;
	char *def = NULL;
	tpc *c;
	int fd;

	if (!path) {
		def = tpc_default_socket();
		if (!def) {
			tpc_fail(err, "out of memory");
			return NULL;
		}
		path = def;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		tpc_fail(err, "socket path is too long (max %zu bytes): %s",
			 sizeof sa.sun_path - 1, path);
		free(def);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		tpc_fail(err, "cannot create a socket: %s", strerror(errno));
		free(def);
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		tpc_fail(err, "cannot connect to %s: %s (is tpd running?)",
			 path, strerror(errno));
		close(fd);
		free(def);
		return NULL;
	}
	free(def);
	c = calloc(1, sizeof *c);
	if (!c) {
		tpc_fail(err, "out of memory");
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->next_tag = 1;
	return c;
}

void tpc_close(tpc *c)
{
	struct tpc_queued *q, *next;

	if (!c)
		return;
	for (q = c->q_head; q; q = next) {
		next = q->next;
		json_object_put(q->ev);
		free(q);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

int tpc_fd(const tpc *c)
{
	return c->fd;
}

int64_t tpc_new_tag(tpc *c)
{
	return c->next_tag++;
}

/* Writes all of buf; the first sendmsg carries `fd` when fd >= 0.
 * MSG_NOSIGNAL: a daemon that went away is an error, not a SIGPIPE. */
static int tpc_write_all(tpc *c, const char *buf, size_t len, int fd,
			 char **err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	size_t off = 0;

	while (off < len) {
		struct iovec iov = { (char *)buf + off, len - off };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (fd >= 0) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof ctl);
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof ctl.buf;
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			tpc_fail(err, "cannot send to the daemon: %s",
				 strerror(errno));
			return -1;
		}
		off += (size_t)n;
		fd = -1;
	}
	return 0;
}

static int tpc_send_fd(tpc *c, json_object *req, int fd, char **err)
{
	size_t len = 0;
	char *line = tp_line(req, &len);
	int rc;

	if (!line) {
		tpc_fail(err, "cannot serialise the request (out of memory)");
		return -1;
	}
	rc = tpc_write_all(c, line, len, fd, err);
	free(line);
	return rc;
}

int tpc_send(tpc *c, json_object *req, char **err)
{
	return tpc_send_fd(c, req, -1, err);
}

int tpc_send_with_fd(tpc *c, json_object *req, int fd, char **err)
{
	if (fd < 0) {
		tpc_fail(err, "no descriptor to pass");
		return -1;
	}
	return tpc_send_fd(c, req, fd, err);
}

static int64_t tpc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses buf[start..start+len) as an event.  The event keeps its raw text
 * as its serialisation, so a client can print it exactly as received. */
static json_object *tpc_parse_line(const char *line, size_t len, char **err)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *ev;
	char *raw;

	if (!tok) {
		tpc_fail(err, "out of memory");
		return NULL;
	}
	if (len > INT_MAX) {
		json_tokener_free(tok);
		tpc_fail(err, "the daemon sent a line too long to parse");
		return NULL;
	}
	ev = json_tokener_parse_ex(tok, line, (int)len);
	if (!ev || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(ev, json_type_object)) {
		json_object_put(ev);
		json_tokener_free(tok);
		tpc_fail(err, "the daemon sent a line that is not a JSON "
			 "object: %.80s", line);
		return NULL;
	}
	json_tokener_free(tok);
	raw = strndup(line, len);
	if (raw)
		json_object_set_serializer(ev,
					   json_object_userdata_to_json_string,
					   raw, json_object_free_userdata);
	return ev;
}

/* Takes one complete line out of the buffer: 1 with *ev, 0 if no complete
 * line is buffered, -1 on a bad line. */
static int tpc_take_line(tpc *c, json_object **ev, char **err)
{
	char *start, *nl;
	size_t n;

	for (;;) {
		if (c->start == c->len)
			return 0;
		start = c->buf + c->start;
		nl = memchr(start, '\n', c->len - c->start);
		if (!nl)
			return 0;
		n = (size_t)(nl - start);
		c->start += n + 1;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n == 0)
			continue; /* tolerate blank lines */
		*ev = tpc_parse_line(start, n, err);
		return *ev ? 1 : -1;
	}
}

/* One read into the buffer: 1 if bytes came, 0 if none were ready, -1 on
 * EOF (c->eof set), error or an over-long line. */
static int tpc_fill(tpc *c, char **err)
{
	ssize_t n;

	if (c->start > 0 && c->start == c->len) {
		c->start = c->len = 0;
	} else if (c->start > c->cap / 2) {
		memmove(c->buf, c->buf + c->start, c->len - c->start);
		c->len -= c->start;
		c->start = 0;
	}
	if (c->len - c->start > TPC_LINE_MAX) {
		tpc_fail(err, "the daemon sent a line longer than %u bytes",
			 TPC_LINE_MAX);
		return -1;
	}
	if (c->cap - c->len < TPC_READ_CHUNK) {
		size_t ncap = c->cap ? c->cap * 2 : TPC_READ_CHUNK * 2;
		char *nb;

		while (ncap - c->len < TPC_READ_CHUNK)
			ncap *= 2;
		nb = realloc(c->buf, ncap);
		if (!nb) {
			tpc_fail(err, "out of memory");
			return -1;
		}
		c->buf = nb;
		c->cap = ncap;
	}
	n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		tpc_fail(err, "cannot read from the daemon: %s",
			 strerror(errno));
		return -1;
	}
	if (n == 0) {
		c->eof = true;
		tpc_fail(err, "the daemon closed the connection");
		return -1;
	}
	c->len += (size_t)n;
	return 1;
}

/* Receives from the socket only, bypassing the queue. */
static int tpc_recv_raw(tpc *c, int timeout_ms, json_object **ev, char **err)
{
	int64_t deadline = timeout_ms > 0 ? tpc_now_ms() + timeout_ms : 0;

	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int rc = tpc_take_line(c, ev, err);
		int wait;

		if (rc != 0)
			return rc;
		if (c->eof) {
			tpc_fail(err, "the daemon closed the connection");
			return -1;
		}
		/* Read whatever is ready before deciding to sleep. */
		rc = tpc_fill(c, err);
		if (rc < 0)
			return -1;
		if (rc > 0)
			continue;
		if (timeout_ms == 0)
			return 0;
		wait = -1;
		if (timeout_ms > 0) {
			int64_t left = deadline - tpc_now_ms();

			if (left <= 0)
				return 0;
			wait = left > INT_MAX ? INT_MAX : (int)left;
		}
		rc = poll(&pfd, 1, wait);
		if (rc < 0) {
			if (errno == EINTR)
				return 0;
			tpc_fail(err, "cannot wait for the daemon: %s",
				 strerror(errno));
			return -1;
		}
		if (rc == 0)
			return 0;
	}
}

int tpc_recv(tpc *c, int timeout_ms, json_object **ev, char **err)
{
	struct tpc_queued *q = c->q_head;

	if (q) {
		c->q_head = q->next;
		if (!c->q_head)
			c->q_tail = NULL;
		*ev = q->ev;
		free(q);
		return 1;
	}
	return tpc_recv_raw(c, timeout_ms, ev, err);
}

static int tpc_enqueue(tpc *c, json_object *ev, char **err)
{
	struct tpc_queued *q = malloc(sizeof *q);

	if (!q) {
		json_object_put(ev);
		tpc_fail(err, "out of memory");
		return -1;
	}
	q->ev = ev;
	q->next = NULL;
	if (c->q_tail)
		c->q_tail->next = q;
	else
		c->q_head = q;
	c->q_tail = q;
	return 0;
}

/* True when ev carries the integer tag `tag`. */
static bool tpc_has_tag(json_object *ev, int64_t tag)
{
	json_object *t;

	return json_object_object_get_ex(ev, "tag", &t) &&
	       json_object_is_type(t, json_type_int) &&
	       json_object_get_int64(t) == tag;
}

int tpc_call(tpc *c, json_object *req, int timeout_ms, json_object **answer,
	     char **err)
{
	int64_t tag = tpc_new_tag(c);
	int64_t deadline = timeout_ms > 0 ? tpc_now_ms() + timeout_ms : 0;

	json_object_object_add(req, "tag", json_object_new_int64(tag));
	if (tpc_send(c, req, err) < 0)
		return -1;
	for (;;) {
		json_object *ev = NULL;
		int wait = timeout_ms;
		int rc;

		if (timeout_ms > 0) {
			int64_t left = deadline - tpc_now_ms();

			wait = left <= 0 ? 0 : left > INT_MAX ? INT_MAX
							      : (int)left;
		}
		rc = tpc_recv_raw(c, wait, &ev, err);
		if (rc <= 0)
			return rc;
		if (tpc_has_tag(ev, tag)) {
			*answer = ev;
			return 1;
		}
		if (tpc_enqueue(c, ev, err) < 0)
			return -1;
	}
}

static bool tpc_has_prefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Reads a whole regular file of at most TPC_TORRENT_MAX bytes. */
static unsigned char *tpc_read_file(const char *path, size_t *len, char **err)
{
	unsigned char *data;
	struct stat st;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		tpc_fail(err, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		tpc_fail(err, "%s is not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((uintmax_t)st.st_size > TPC_TORRENT_MAX) {
		tpc_fail(err, "%s is too large for a .torrent file "
			 "(%jd bytes, at most %u)", path,
			 (intmax_t)st.st_size, TPC_TORRENT_MAX);
		close(fd);
		return NULL;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		tpc_fail(err, "out of memory");
		close(fd);
		return NULL;
	}
	/* The file may shrink while we read; stop at EOF. */
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, data + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tpc_fail(err, "cannot read %s: %s", path,
				 strerror(errno));
			free(data);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	return data;
}

json_object *tpc_create_request(const char *source, const char *save_dir,
				char **err)
{
	json_object *req = tp_request_new(TP_OP_CREATE, -1);

	if (!req) {
		tpc_fail(err, "out of memory");
		return NULL;
	}
	if (tpc_has_prefix(source, "magnet:")) {
		json_object_object_add(req, "magnet",
				       json_object_new_string(source));
	} else if (tpc_has_prefix(source, "http://") ||
		   tpc_has_prefix(source, "https://")) {
		json_object_object_add(req, "url",
				       json_object_new_string(source));
	} else {
		size_t len = 0;
		unsigned char *data = tpc_read_file(source, &len, err);
		char *b64;

		if (!data) {
			json_object_put(req);
			return NULL;
		}
		b64 = tp_base64_encode(data, len);
		free(data);
		if (!b64) {
			json_object_put(req);
			tpc_fail(err, "out of memory");
			return NULL;
		}
		json_object_object_add(req, "torrent",
				       json_object_new_string(b64));
		free(b64);
	}
	if (save_dir)
		json_object_object_add(req, "save_dir",
				       json_object_new_string(save_dir));
	return req;
}
