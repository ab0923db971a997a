/*
 * peernet.c - tpd's BitTorrent-side network settings (see peernet.h).
 * Main thread.
 */
#include "peernet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest entry looked at; longer ones are refused (no interface name or
 * address comes near it). */
#define PEERNET_ENTRY_MAX 256

/* Splits one "HOST:PORT" entry of len bytes into host (brackets removed)
 * and port; -1 if it has no ':' or does not fit. */
static int pn_split(const char *s, size_t len, char *host, size_t hostsz,
		    long *port)
{
	if (len == 0 || len >= PEERNET_ENTRY_MAX)
		return -1;
	char buf[PEERNET_ENTRY_MAX];
	memcpy(buf, s, len);
	buf[len] = 0;
	char *colon = strrchr(buf, ':');
	if (!colon || colon == buf || !colon[1])
		return -1;
	*colon = 0;
	char *h = buf;
	if (h[0] == '[') {
		size_t hl = strlen(h);
		if (hl < 3 || h[hl - 1] != ']')
			return -1;
		h[hl - 1] = 0;
		h++;
	} else if (strchr(h, ':')) {
		return -1; /* an IPv6 address needs its brackets */
	}
	char *end = NULL;
	long p = strtol(colon + 1, &end, 10);
	if (*end || colon[1] < '0' || colon[1] > '9' || p < 0 || p > 65535)
		return -1;
	if (strlen(h) >= hostsz)
		return -1;
	strcpy(host, h);
	*port = p;
	return 0;
}

/* Calls fn for each comma-separated entry (blanks around it trimmed);
 * stops at the first non-zero answer and returns it. */
static int pn_each(const char *list, int (*fn)(const char *s, size_t len,
					       void *ctx),
		   void *ctx)
{
	const char *p = list;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);
		const char *s = p;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		const char *t = e;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		int rc = fn(s, (size_t)(t - s), ctx);
		if (rc)
			return rc;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

struct pn_check {
	long min_port;
	char **err;
	const char *what;
};

static int pn_check_one(const char *s, size_t len, void *ctx)
{
	struct pn_check *c = ctx;
	char host[PEERNET_ENTRY_MAX];
	long port = 0;
	bool ok = pn_split(s, len, host, sizeof host, &port) == 0 &&
		  port >= c->min_port && host[0];
	for (const char *h = host; ok && *h; h++)
		if (!(*h == '.' || *h == '-' || *h == '_' || *h == ':' ||
		      (*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'z') ||
		      (*h >= 'A' && *h <= 'Z')))
			ok = false;
	if (ok)
		return 0;
	if (asprintf(c->err, "%s: \"%.*s\" is not %s", c->what, (int)len, s,
		     c->min_port ? "HOST:PORT" : "ADDR:PORT") < 0)
		*c->err = NULL;
	return -1;
}

int peernet_check_listen(const char *list, char **err)
{
	struct pn_check c = {.min_port = 0, .err = err,
			     .what = "listen"};
	return list && *list ? pn_each(list, pn_check_one, &c) : 0;
}

int peernet_check_hostports(const char *list, char **err)
{
	struct pn_check c = {.min_port = 1, .err = err,
			     .what = "dht-bootstrap"};
	if (!list || !*list) {
		*err = strdup("dht-bootstrap: empty list");
		return -1;
	}
	return pn_each(list, pn_check_one, &c);
}

static int pn_loopback_one(const char *s, size_t len, void *ctx)
{
	(void)ctx;
	char host[PEERNET_ENTRY_MAX];
	long port;
	if (pn_split(s, len, host, sizeof host, &port) < 0)
		return 1;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127 ? 0 : 1;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return memcmp(&a6, &in6addr_loopback, sizeof a6) == 0 ? 0 : 1;
	return strcmp(host, "localhost") == 0 || strcmp(host, "lo") == 0 ? 0
									  : 1;
}

bool peernet_listen_is_loopback(const char *list)
{
	if (!list || !*list)
		return false;
	return pn_each(list, pn_loopback_one, NULL) == 0;
}

static long pn_read_long(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

int peernet_buffer_advice(const char *dir, long want, char **advice)
{
	long r = pn_read_long(dir, "rmem_max");
	long w = pn_read_long(dir, "wmem_max");
	*advice = NULL;
	if ((r < 0 || r >= want) && (w < 0 || w >= want))
		return 0;
	if (asprintf(advice,
		     "the kernel caps socket buffers at %ld bytes (receive) and "
		     "%ld (send), below the %ld uTP asks for, so uTP transfers "
		     "will be slow; raise them with: sysctl -w "
		     "net.core.rmem_max=%ld net.core.wmem_max=%ld",
		     r, w, want, want, want) < 0)
		*advice = NULL;
	return *advice ? 1 : 0;
}
