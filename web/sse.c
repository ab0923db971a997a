/*
 * sse.c - GET /events (see sse.h).  Each feed owns one tpd connection with
 * a `watch` of everything the user may see; its reader runs on the HTTP
 * connection's thread, and the counter of open feeds is shared (atomic).
 */
#include "sse.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "patron.h"
#include "tpclient.h"

struct sse {
	tpc *c;
	char *buf;            /* bytes not yet handed to MHD: [off, len) */
	size_t off, len, cap;
	int64_t last_ms;
};

static atomic_int sse_open;
static atomic_bool sse_stopping;

static int64_t sse_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sse_append(struct sse *s, const char *a, size_t alen,
		      const char *b, size_t blen)
{
	size_t need = s->len + alen + blen;

	if (need > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *nb;

		while (cap < need)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (!nb)
			return -1;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, a, alen);
	memcpy(s->buf + s->len + alen, b, blen);
	s->len = need;
	return 0;
}

/* MHD asks for the next bytes; this blocks until tpd has an event, a
 * keep-alive is due, or tpweb stops. */
static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse *s = cls;

	(void)pos;
	for (;;) {
		json_object *ev = NULL;
		const char *line;
		int rc;

		if (s->off < s->len) {
			size_t n = s->len - s->off < max ? s->len - s->off : max;

			memcpy(out, s->buf + s->off, n);
			s->off += n;
			return (ssize_t)n;
		}
		s->off = s->len = 0;
		if (atomic_load(&sse_stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		rc = tpc_recv(s->c, SSE_POLL_MS, &ev, NULL);
		if (rc < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (rc == 0) {
			if (sse_now_ms() - s->last_ms < SSE_KEEPALIVE_MS)
				continue;
			if (sse_append(s, ": keep-alive\n\n", 14, "", 0) < 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			s->last_ms = sse_now_ms();
			continue;
		}
		/* tpd's event lines hold no raw newline: one data line. */
		line = json_object_to_json_string(ev);
		rc = sse_append(s, "data: ", 6, line, strlen(line));
		if (rc == 0)
			rc = sse_append(s, "\n\n", 2, "", 0);
		json_object_put(ev);
		if (rc < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		s->last_ms = sse_now_ms();
	}
}

static void sse_free(void *cls)
{
	struct sse *s = cls;

	tpc_close(s->c);
	free(s->buf);
	free(s);
	atomic_fetch_sub(&sse_open, 1);
}

struct MHD_Response *sse_response(const char *socket, char **why,
				  unsigned *status)
{
	struct MHD_Response *r;
	json_object *req;
	struct sse *s;
	char *err = NULL;

	*status = 503;
	if (atomic_fetch_add(&sse_open, 1) >= SSE_MAX) {
		atomic_fetch_sub(&sse_open, 1);
		*why = strdup("too many live feeds open; close a tab");
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		atomic_fetch_sub(&sse_open, 1);
		*why = strdup("out of memory");
		return NULL;
	}
	*status = 502;
	s->c = tpc_connect(socket, &err);
	req = patron_req("watch");
	if (!s->c || tpc_send(s->c, req, &err) < 0) {
		json_object_put(req);
		*why = err ? err : strdup("cannot reach tpd");
		tpc_close(s->c);
		free(s);
		atomic_fetch_sub(&sse_open, 1);
		return NULL;
	}
	json_object_put(req);
	/* The browser reconnects after 2 s when the stream breaks. */
	if (sse_append(s, "retry: 2000\n\n", 13, "", 0) < 0) {
		sse_free(s);
		*why = strdup("out of memory");
		return NULL;
	}
	s->last_ms = sse_now_ms();
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read,
					      s, sse_free);
	if (!r) {
		sse_free(s);
		*why = strdup("out of memory");
		return NULL;
	}
	return r;
}

void sse_stop_all(void)
{
	atomic_store(&sse_stopping, true);
}
