/*
 * rpcload - the load generator of `make bench` (bench/run.sh builds it).
 *
 * Owns the patron side of benchmark rows 4 and 5: many connections to a
 * tpd socket, each one thread of its own.
 *
 *   rpcload rpc SOCKET PATRONS REQUESTS SECONDS OPS STATUS_ID
 *       PATRONS connections; each sends one request, waits for its answer,
 *       sends the next, until it has sent REQUESTS or SECONDS have passed.
 *       OPS is "list", "status" or "mix" (alternating list and status of
 *       STATUS_ID).  Prints one line: requests, seconds, req/s, p50, p99
 *       and max latency in milliseconds.
 *   rpcload rpc SOCKET PATRONS REQUESTS SECONDS OPS STATUS_ID PACE_MS
 *       Open loop, as users see it: each connection sends one request every
 *       PACE_MS milliseconds (connection i starting i/PATRONS of a period
 *       late, so the sends are staggered), whether or not the daemon kept
 *       up.  Latency is counted from when the request was due, so a stall
 *       shows in full rather than hiding behind the requests it delayed.
 *       With RPCLOAD_TRACE=FILE in the environment, writes one line per
 *       answer to FILE: when it was due (CLOCK_MONOTONIC seconds, as
 *       Python's time.monotonic()) and its latency in milliseconds, so a
 *       caller can keep only those due while something else ran.
 *   rpcload add SOCKET CONNS COUNT SECONDS
 *       COUNT magnet creates with random info-hashes spread over CONNS
 *       connections, pipelined (at most WINDOW unanswered per connection,
 *       well below the daemon's --max-pending).  Prints: answers, seconds,
 *       creates/s.
 *   rpcload lines SOCKET FILE WINDOW SECONDS
 *       Sends every line of FILE (tagged requests, e.g. .torrent creates
 *       prepared by bench.py) over one connection, pipelined with at most
 *       WINDOW unanswered.  An answer is a line with a tag; a create's
 *       counts as failed unless it is NewTorrentCreated.  Prints: answers,
 *       seconds, answers/s.
 *   rpcload aria2 PORT PATRONS REQUESTS SECONDS GID
 *       The alternative of row 4: aria2c's JSON-RPC over HTTP keep-alive on
 *       127.0.0.1:PORT, alternating aria2.tellActive and aria2.tellStatus(GID).
 *
 * Every answer that is an error is counted; the exit status is 1 when any
 * request failed or a connection broke, so the bench can tell "slow" from
 * "broken".  Everything is bounded by SECONDS (a poll timeout on each read).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define RPCLOAD_WINDOW 256

struct rpcload_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t scanned;	/* bytes from the front known to hold no newline */
};

struct rpcload_job {
	const char *target;	/* socket path, or port for aria2 */
	const char *ops;
	const char *gid;
	long status_id;
	long requests;		/* per thread */
	double pace;		/* open loop: seconds between sends, 0 closed */
	double start;		/* open loop: when the first is due */
	double deadline;	/* monotonic seconds */
	unsigned seed;
	/* results */
	double *lat;		/* milliseconds, one per answered request */
	double *due;		/* monotonic seconds each was sent or due */
	long done;
	long failed;
	bool broken;
	char why[256];
};

static double rpcload_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rpcload_fail(struct rpcload_job *j, const char *what)
{
	if (!j->broken)
		snprintf(j->why, sizeof(j->why), "%s: %s", what,
			 errno ? strerror(errno) : "unexpected end");
	j->broken = true;
}

static int rpcload_connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int rpcload_connect_tcp(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd;

	sa.sin_port = htons((uint16_t)atoi(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int rpcload_send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads more bytes into b, waiting at most until deadline.  Returns the
 * count read, 0 at end of stream or timeout (errno ETIMEDOUT), -1 on error. */
static ssize_t rpcload_fill(int fd, struct rpcload_buf *b, double deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	double left = deadline - rpcload_now();
	ssize_t r;

	if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) == 0) {
		errno = ETIMEDOUT;
		return 0;
	}
	if (b->cap - b->len < 65536) {
		size_t cap = b->cap ? b->cap * 2 : 131072;
		char *d = realloc(b->data, cap);

		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	do
		r = recv(fd, b->data + b->len, b->cap - b->len, 0);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		b->len += (size_t)r;
	else if (r == 0)
		errno = 0;
	return r;
}

/* Takes one complete line off the front of b into *line (NUL-terminated in
 * place, valid until the next call).  Returns false when none is complete. */
static bool rpcload_take_line(struct rpcload_buf *b, size_t *consumed, char **line)
{
	char *start = b->data + *consumed;
	/* Search only what arrived since the last search: a `list` of
	 * 100,000 (~50 MB) comes in a few hundred reads, and searching from
	 * the line's start each time cost more than the daemon's answer. */
	size_t from = b->scanned > *consumed ? b->scanned : *consumed;
	char *nl = memchr(b->data + from, '\n', b->len - from);

	if (!nl) {
		b->scanned = b->len;
		return false;
	}
	b->scanned = (size_t)(nl - b->data) + 1;
	*nl = '\0';
	*line = start;
	*consumed = (size_t)(nl - b->data) + 1;
	return true;
}

static void rpcload_compact(struct rpcload_buf *b, size_t *consumed)
{
	memmove(b->data, b->data + *consumed, b->len - *consumed);
	b->len -= *consumed;
	b->scanned = b->scanned > *consumed ? b->scanned - *consumed : 0;
	*consumed = 0;
}

/* An answer is bad when it is an Error or a StartFail. */
static bool rpcload_bad(const char *line)
{
	return strncmp(line, "{\"type\":\"Error\"", 15) == 0 ||
	       strncmp(line, "{\"type\":\"StartFail\"", 19) == 0;
}

static void *rpcload_rpc_thread(void *arg)
{
	struct rpcload_job *j = arg;
	struct rpcload_buf b = { 0 };
	size_t used = 0;
	char req[160];
	int fd = rpcload_connect_unix(j->target);

	if (fd < 0) {
		rpcload_fail(j, "connect");
		return NULL;
	}
	for (long i = 0; i < j->requests && rpcload_now() < j->deadline; i++) {
		bool list = strcmp(j->ops, "list") == 0 ||
			    (strcmp(j->ops, "mix") == 0 && i % 2 == 0);
		int n = list ? snprintf(req, sizeof(req), "{\"op\":\"list\",\"tag\":%ld}\n", i)
			     : snprintf(req, sizeof(req),
					"{\"op\":\"status\",\"tag\":%ld,\"id\":%ld}\n",
					i, j->status_id);
		double t0 = rpcload_now();
		char *line;

		if (j->pace > 0) {
			double due = j->start + i * j->pace;
			struct timespec ts;

			if (due > t0) {
				ts.tv_sec = (time_t)(due - t0);
				ts.tv_nsec = (long)((due - t0 - ts.tv_sec) * 1e9);
				while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
					;
			}
			t0 = due;
		}
		if (rpcload_send_all(fd, req, (size_t)n) < 0) {
			rpcload_fail(j, "send");
			break;
		}
		/* No pushes reach a patron that neither creates nor watches, so
		 * the next line is this request's answer. */
		while (!rpcload_take_line(&b, &used, &line)) {
			rpcload_compact(&b, &used);
			if (rpcload_fill(fd, &b, j->deadline + 5) <= 0) {
				rpcload_fail(j, "read");
				goto out;
			}
		}
		j->due[j->done] = t0;
		j->lat[j->done++] = (rpcload_now() - t0) * 1000;
		if (rpcload_bad(line))
			j->failed++;
	}
out:
	close(fd);
	free(b.data);
	return NULL;
}

static void rpcload_random_hash(unsigned *seed, char out[41])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 40; i++)
		out[i] = hex[rand_r(seed) & 15];
	out[40] = '\0';
}

static void *rpcload_add_thread(void *arg)
{
	struct rpcload_job *j = arg;
	struct rpcload_buf b = { 0 };
	size_t used = 0;
	long sent = 0;
	char req[200], hash[41];
	int fd = rpcload_connect_unix(j->target);

	if (fd < 0) {
		rpcload_fail(j, "connect");
		return NULL;
	}
	while (j->done < j->requests) {
		char *line;

		/* Keep the window full, then read whatever has arrived. */
		while (sent < j->requests && sent - j->done < RPCLOAD_WINDOW) {
			rpcload_random_hash(&j->seed, hash);
			int n = snprintf(req, sizeof(req),
					 "{\"op\":\"create\",\"tag\":%ld,\"magnet\":"
					 "\"magnet:?xt=urn:btih:%s\"}\n", sent, hash);
			if (rpcload_send_all(fd, req, (size_t)n) < 0) {
				rpcload_fail(j, "send");
				goto out;
			}
			sent++;
		}
		rpcload_compact(&b, &used);
		if (rpcload_fill(fd, &b, j->deadline) <= 0) {
			rpcload_fail(j, "read");
			break;
		}
		while (rpcload_take_line(&b, &used, &line)) {
			if (strncmp(line, "{\"type\":\"StatusUpdate\"", 22) == 0)
				continue;	/* pushed to the creator, no tag */
			j->done++;
			if (strncmp(line, "{\"type\":\"NewTorrentCreated\"", 27) != 0) {
				if (!j->failed)
					fprintf(stderr, "rpcload: answer: %.200s\n", line);
				j->failed++;
			}
		}
	}
out:
	close(fd);
	free(b.data);
	return NULL;
}

/* Mode "lines": j->target is the socket, j->ops the file's bytes (one
 * request a line), j->requests its line count, j->status_id the window. */
static void *rpcload_lines_thread(void *arg)
{
	struct rpcload_job *j = arg;
	struct rpcload_buf b = { 0 };
	size_t used = 0;
	long sent = 0;
	const char *next = j->ops;
	int fd = rpcload_connect_unix(j->target);

	if (fd < 0) {
		rpcload_fail(j, "connect");
		return NULL;
	}
	while (j->done < j->requests) {
		char *line;

		while (sent < j->requests && sent - j->done < j->status_id) {
			const char *nl = strchr(next, '\n');
			size_t n = nl ? (size_t)(nl - next) + 1 : strlen(next);

			if (rpcload_send_all(fd, next, n) < 0) {
				rpcload_fail(j, "send");
				goto out;
			}
			next += n;
			sent++;
		}
		rpcload_compact(&b, &used);
		if (rpcload_fill(fd, &b, j->deadline) <= 0) {
			rpcload_fail(j, "read");
			break;
		}
		while (rpcload_take_line(&b, &used, &line)) {
			if (!strstr(line, "\"tag\":"))
				continue;	/* a pushed StatusUpdate */
			j->done++;
			if (strncmp(line, "{\"type\":\"NewTorrentCreated\"", 27) != 0) {
				if (!j->failed)
					fprintf(stderr, "rpcload: answer: %.200s\n", line);
				j->failed++;
			}
		}
	}
out:
	close(fd);
	free(b.data);
	return NULL;
}

static char *rpcload_read_file(const char *path, long *lines)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 65536 + 1 > cap) {
			char *g = realloc(data, cap = 2 * cap + 65536 + 1);
			if (!g) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = g;
		}
		n = fread(data + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	data[len] = '\0';
	*lines = 0;
	for (size_t i = 0; i < len; i++)
		*lines += data[i] == '\n';
	return data;
}

/* Reads one HTTP response (headers and Content-Length body) off b. */
static int rpcload_http_answer(int fd, struct rpcload_buf *b, double deadline, bool *ok)
{
	for (;;) {
		char *end = b->len ? memmem(b->data, b->len, "\r\n\r\n", 4) : NULL;

		if (end) {
			size_t head = (size_t)(end - b->data) + 4;
			char *cl = memmem(b->data, head, "Content-Length:", 15);
			size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;

			if (b->len >= head + body) {
				*ok = strncmp(b->data, "HTTP/1.1 200", 12) == 0 &&
				      !memmem(b->data + head, body, "\"error\"", 7);
				memmove(b->data, b->data + head + body, b->len - head - body);
				b->len -= head + body;
				return 0;
			}
		}
		if (rpcload_fill(fd, b, deadline) <= 0)
			return -1;
	}
}

static void *rpcload_aria2_thread(void *arg)
{
	struct rpcload_job *j = arg;
	struct rpcload_buf b = { 0 };
	char body[300], req[600];
	int fd = rpcload_connect_tcp(j->target);

	if (fd < 0) {
		rpcload_fail(j, "connect");
		return NULL;
	}
	for (long i = 0; i < j->requests && rpcload_now() < j->deadline; i++) {
		int bn = i % 2 == 0
			? snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%ld,"
				   "\"method\":\"aria2.tellActive\",\"params\":[]}", i)
			: snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%ld,"
				   "\"method\":\"aria2.tellStatus\",\"params\":[\"%s\"]}",
				   i, j->gid);
		int n = snprintf(req, sizeof(req), "POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				 bn, body);
		double t0 = rpcload_now();
		bool ok;

		if (rpcload_send_all(fd, req, (size_t)n) < 0) {
			rpcload_fail(j, "send");
			break;
		}
		if (rpcload_http_answer(fd, &b, j->deadline + 5, &ok) < 0) {
			rpcload_fail(j, "read");
			break;
		}
		j->lat[j->done++] = (rpcload_now() - t0) * 1000;
		if (!ok)
			j->failed++;
	}
	close(fd);
	free(b.data);
	return NULL;
}

static int rpcload_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int rpcload_usage(void)
{
	fprintf(stderr, "usage: rpcload rpc SOCKET PATRONS REQUESTS SECONDS list|status|mix STATUS_ID [PACE_MS]\n"
			"       rpcload add SOCKET CONNS COUNT SECONDS\n"
			"       rpcload lines SOCKET FILE WINDOW SECONDS\n"
			"       rpcload aria2 PORT PATRONS REQUESTS SECONDS GID\n");
	return 2;
}

int main(int argc, char **argv)
{
	bool add, aria2;
	long threads, requests;
	double seconds, t0, elapsed;
	struct rpcload_job *jobs;
	pthread_t *tids;
	long done = 0, failed = 0, broken = 0;

	if (argc < 6)
		return rpcload_usage();
	if (strcmp(argv[1], "lines") == 0) {
		struct rpcload_job j = { .target = argv[2] };
		pthread_t tid;

		if (argc != 6 || (j.status_id = atol(argv[4])) < 1 ||
		    (seconds = atof(argv[5])) <= 0)
			return rpcload_usage();
		j.ops = rpcload_read_file(argv[3], &j.requests);
		if (!j.ops) {
			fprintf(stderr, "rpcload: cannot read %s\n", argv[3]);
			return 1;
		}
		t0 = rpcload_now();
		j.deadline = t0 + seconds;
		if (pthread_create(&tid, NULL, rpcload_lines_thread, &j)) {
			fprintf(stderr, "rpcload: cannot start a thread\n");
			return 1;
		}
		pthread_join(tid, NULL);
		elapsed = rpcload_now() - t0;
		if (j.broken)
			fprintf(stderr, "rpcload: %s\n", j.why);
		printf("answers=%ld failed=%ld broken=%d seconds=%.3f per_second=%.0f\n",
		       j.done, j.failed, j.broken, elapsed, j.done / elapsed);
		free((char *)j.ops);
		return (j.failed || j.broken) ? 1 : 0;
	}
	add = strcmp(argv[1], "add") == 0;
	aria2 = strcmp(argv[1], "aria2") == 0;
	if (!add && !aria2 && strcmp(argv[1], "rpc") != 0)
		return rpcload_usage();
	if ((!add && !(argc == (aria2 ? 7 : 8) || (!aria2 && argc == 9))) ||
	    (add && argc != 6))
		return rpcload_usage();
	threads = atol(argv[3]);
	requests = atol(argv[4]);
	seconds = atof(argv[5]);
	if (threads < 1 || requests < 1 || seconds <= 0)
		return rpcload_usage();
	jobs = calloc((size_t)threads, sizeof(*jobs));
	tids = calloc((size_t)threads, sizeof(*tids));
	if (!jobs || !tids)
		return 1;
	t0 = rpcload_now();
	for (long i = 0; i < threads; i++) {
		struct rpcload_job *j = &jobs[i];

		j->target = argv[2];
		j->deadline = t0 + seconds;
		j->seed = (unsigned)(time(NULL) ^ (getpid() << 8) ^ (i * 7919));
		if (add) {
			/* COUNT is the total: spread it over the connections. */
			j->requests = requests / threads + (i < requests % threads);
		} else {
			j->requests = requests;
			j->ops = argv[6];
			j->gid = argv[6];
			j->status_id = aria2 ? 0 : atol(argv[7]);
			if (argc == 9) {
				j->pace = atof(argv[8]) / 1000;
				j->start = t0 + 0.01 + j->pace * (double)i / (double)threads;
			}
			j->lat = calloc((size_t)requests, sizeof(double));
			j->due = calloc((size_t)requests, sizeof(double));
			if (!j->lat || !j->due)
				return 1;
		}
		if (pthread_create(&tids[i], NULL, add ? rpcload_add_thread
					   : aria2 ? rpcload_aria2_thread : rpcload_rpc_thread, j)) {
			fprintf(stderr, "rpcload: cannot start a thread\n");
			return 1;
		}
	}
	for (long i = 0; i < threads; i++) {
		pthread_join(tids[i], NULL);
		done += jobs[i].done;
		failed += jobs[i].failed;
		if (jobs[i].broken) {
			if (!broken)
				fprintf(stderr, "rpcload: connection %ld: %s\n", i, jobs[i].why);
			broken++;
		}
	}
	elapsed = rpcload_now() - t0;
	if (add) {
		printf("answers=%ld failed=%ld broken=%ld seconds=%.3f per_second=%.0f\n",
		       done, failed, broken, elapsed, done / elapsed);
	} else {
		double *all = malloc(sizeof(double) * (size_t)(done ? done : 1));
		const char *trace = getenv("RPCLOAD_TRACE");
		long k = 0;

		if (!all)
			return 1;
		if (trace && *trace) {
			FILE *f = fopen(trace, "w");

			if (!f) {
				fprintf(stderr, "rpcload: cannot write %s: %s\n", trace,
					strerror(errno));
				return 1;
			}
			for (long i = 0; i < threads; i++)
				for (long r = 0; r < jobs[i].done; r++)
					fprintf(f, "%.6f %.4f\n", jobs[i].due[r], jobs[i].lat[r]);
			fclose(f);
		}
		for (long i = 0; i < threads; i++)
			for (long r = 0; r < jobs[i].done; r++)
				all[k++] = jobs[i].lat[r];
		qsort(all, (size_t)k, sizeof(double), rpcload_cmp);
		printf("answers=%ld failed=%ld broken=%ld seconds=%.3f per_second=%.0f "
		       "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
		       done, failed, broken, elapsed, done / elapsed,
		       k ? all[k / 2] : 0.0, k ? all[(k * 99) / 100] : 0.0,
		       k ? all[k - 1] : 0.0);
		free(all);
	}
	return (failed || broken) ? 1 : 0;
}
