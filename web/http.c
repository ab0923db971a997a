/*
 * http.c - tpweb's HTTP server (see http.h).  Owns the libmicrohttpd
 * daemon, the session token and the per-request state.  libmicrohttpd
 * calls http_access() on the connection's own thread (a thread per
 * connection, so that a feed or a slowed login may block it); the
 * configuration and the token are set before the first request and only
 * read after.
 *
 * Every request, in this order: an allowed Host (else 403: DNS rebinding),
 * a same-origin Origin and, for the API, no cross-site fetch (else 403),
 * the login when a password file is set (else 401, slowed per address),
 * and for /transmission/rpc the session token (else 409 carrying it, as
 * Transmission does): a cross-origin page can neither read the token nor
 * send the header without it.
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "sse.h"
#include "trpc.h"

#define HTTP_TOKEN_BYTES 16
#define HTTP_RPC_PATH "/transmission/rpc"
#define HTTP_TOKEN_HEADER "X-Transmission-Session-Id"

static struct MHD_Daemon *http_daemon;
static struct http_cfg http_cfg;
static char http_token[HTTP_TOKEN_BYTES * 2 + 1];

/* The state of one request while its body arrives. */
struct http_req {
	unsigned refused;  /* 0, or the status already decided */
	char *body;
	size_t len, cap;
	bool too_large;
};

/* Headers every answer carries: the page loads nothing from elsewhere and
 * may not be framed (clickjacking), and nothing is cached. */
static void http_common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:; "
				"frame-ancestors 'none'; form-action 'self'; "
				"base-uri 'none'; object-src 'none'");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cache-Control", "no-store");
}

/* Queues `r` (which it releases) with status `code`. */
static enum MHD_Result http_queue(struct MHD_Connection *c, unsigned code,
				  struct MHD_Response *r)
{
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	http_common_headers(r);
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

/* A short text answer (copied). */
static enum MHD_Result http_text(struct MHD_Connection *c, unsigned code,
				 const char *ctype, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);

	if (r)
		MHD_add_response_header(r, "Content-Type", ctype);
	return http_queue(c, code, r);
}

/* An error answer whose sentence says what to do. */
static enum MHD_Result http_error(struct MHD_Connection *c, unsigned code,
				  const char *why)
{
	char *text = NULL;
	enum MHD_Result rc;

	if (asprintf(&text, "%u: %s\n", code, why) < 0)
		return MHD_NO;
	rc = http_text(c, code, "text/plain; charset=utf-8", text);
	free(text);
	return rc;
}

/* The host part of a Host header value ("name:port", "[v6]:port"),
 * lower-cased into out; -1 if it is not one. */
static int http_host_part(const char *v, char *out, size_t cap)
{
	const char *end;
	size_t n;

	if (v[0] == '[') {
		end = strchr(v, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -1;
		v++;
	} else {
		end = strchr(v, ':');
		if (!end)
			end = v + strlen(v);
		else if (strchr(end + 1, ':'))
			return -1;
	}
	n = (size_t)(end - v);
	if (n == 0 || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)v[i]);
	out[n] = '\0';
	return 0;
}

/* DNS rebinding needs a name the attacker controls; an address literal
 * cannot be rebound, so any is accepted, like the built-in names and
 * --allowed-hosts. */
static bool http_host_allowed(const char *hostv)
{
	char h[HTTP_HOST_MAX + 1];
	unsigned char a[16];

	if (!hostv || http_host_part(hostv, h, sizeof h) < 0)
		return false;
	if (strcmp(h, "localhost") == 0 || inet_pton(AF_INET, h, a) == 1 ||
	    inet_pton(AF_INET6, h, a) == 1)
		return true;
	for (size_t i = 0; i < http_cfg.n_hosts; i++)
		if (strcasecmp(http_cfg.hosts[i], h) == 0)
			return true;
	return false;
}

/* An Origin header, when present, must name this very host and port. */
static bool http_same_origin(const char *origin, const char *host)
{
	const char *p;

	if (!origin)
		return true;
	p = strstr(origin, "://");
	if (!p || !host)
		return false;
	return strcasecmp(p + 3, host) == 0;
}

static bool http_token_ok(const char *v)
{
	return v && strlen(v) == strlen(http_token) &&
	       CRYPTO_memcmp(v, http_token, strlen(http_token)) == 0;
}

static const char *http_hdr(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result http_conflict(struct MHD_Connection *c)
{
	static const char body[] =
		"<h1>409: Conflict</h1><p>Your request had an invalid "
		"session-id header.</p><p>To fix this, retry the request with "
		"the " HTTP_TOKEN_HEADER " header this answer carries.</p>";
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);

	if (r) {
		MHD_add_response_header(r, HTTP_TOKEN_HEADER, http_token);
		MHD_add_response_header(r, "Content-Type",
					"text/html; charset=utf-8");
	}
	return http_queue(c, MHD_HTTP_CONFLICT, r);
}

static enum MHD_Result http_unauthorized(struct MHD_Connection *c)
{
	static const char body[] = "401: a user name and password are needed "
				   "(see tpweb(1), --password-file)\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);

	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Basic realm=\"tpweb\", charset=\"UTF-8\"");
	return http_queue(c, MHD_HTTP_UNAUTHORIZED, r);
}

static bool http_is_api(const char *url)
{
	return strcmp(url, HTTP_RPC_PATH) == 0 ||
	       strcmp(url, HTTP_RPC_PATH "/") == 0 ||
	       strcmp(url, "/events") == 0 || strcmp(url, "/token") == 0;
}

static void http_log_failure(const struct sockaddr *sa)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)
				       ->sin_addr, addr, sizeof addr);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)
					->sin6_addr, addr, sizeof addr);
	fprintf(stderr, "tpweb: failed login from %s\n", addr);
}

/* The checks of the header phase; 0 passes, else the status answered. */
static unsigned http_gate(struct MHD_Connection *c, const char *url)
{
	const char *host = http_hdr(c, "Host");
	const char *site = http_hdr(c, "Sec-Fetch-Site");
	const union MHD_ConnectionInfo *ci;

	if (!http_host_allowed(host))
		return MHD_HTTP_FORBIDDEN;
	if (!http_same_origin(http_hdr(c, "Origin"), host))
		return MHD_HTTP_FORBIDDEN;
	if (http_is_api(url) && site && strcmp(site, "cross-site") == 0)
		return MHD_HTTP_FORBIDDEN;
	if (http_cfg.auth) {
		ci = MHD_get_connection_info(c,
					     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		const char *cred = http_hdr(c, "Authorization");

		if (auth_check(http_cfg.auth, cred,
			       ci ? ci->client_addr : NULL) < 0) {
			/* One line per failed login, for the journal (and
			 * fail2ban); a request without credentials is only
			 * the client being asked for them. */
			if (cred)
				http_log_failure(ci ? ci->client_addr : NULL);
			return MHD_HTTP_UNAUTHORIZED;
		}
	}
	if (strncmp(url, HTTP_RPC_PATH, strlen(HTTP_RPC_PATH)) == 0 &&
	    !http_token_ok(http_hdr(c, HTTP_TOKEN_HEADER)))
		return MHD_HTTP_CONFLICT;
	return 0;
}

static enum MHD_Result http_refuse(struct MHD_Connection *c, unsigned code)
{
	switch (code) {
	case MHD_HTTP_UNAUTHORIZED:
		return http_unauthorized(c);
	case MHD_HTTP_CONFLICT:
		return http_conflict(c);
	case MHD_HTTP_FORBIDDEN:
		return http_error(c, code, "refused: the Host header must name "
				  "this server (localhost, an address, or one of "
				  "--allowed-hosts) and the request must come "
				  "from its own page");
	default:
		return http_error(c, code, "refused");
	}
}

static const char *http_ctype(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".png", "image/png" },
		{ ".svg", "image/svg+xml" },
		{ ".ico", "image/x-icon" },
		{ ".json", "application/json" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* Page files are plain names in --web-root: no directories, no dot
 * files, so no request can reach outside it. */
static bool http_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > HTTP_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

static enum MHD_Result http_file(struct MHD_Connection *c, const char *url)
{
	const char *name = strcmp(url, "/") == 0 ? "index.html" : url + 1;
	struct MHD_Response *r;
	struct stat st;
	char *path = NULL, *data;
	size_t off = 0;
	int fd;

	if (!http_name_ok(name))
		return http_error(c, MHD_HTTP_NOT_FOUND, "no such page");
	if (asprintf(&path, "%s/%s", http_cfg.web_root, name) < 0)
		return MHD_NO;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return http_error(c, MHD_HTTP_NOT_FOUND, "no such page");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uintmax_t)st.st_size > HTTP_FILE_MAX ||
	    !(data = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return http_error(c, MHD_HTTP_NOT_FOUND, "no such page");
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, data + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	r = MHD_create_response_from_buffer(off, data, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", http_ctype(name));
	return http_queue(c, MHD_HTTP_OK, r);
}

static enum MHD_Result http_rpc(struct MHD_Connection *c, const char *method,
				struct http_req *q)
{
	struct MHD_Response *r;
	char *text;

	if (strcmp(method, "POST") != 0)
		return http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "the RPC takes POST requests");
	text = trpc_handle(http_cfg.socket, q->body ? q->body : "", q->len);
	if (!text)
		return http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory");
	r = MHD_create_response_from_buffer(strlen(text), text,
					    MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type",
				"application/json; charset=UTF-8");
	return http_queue(c, MHD_HTTP_OK, r);
}

/* The page asks for the token here rather than provoking a 409 (which a
 * browser logs as an error).  No other origin can read this answer, and
 * the Host check keeps rebound names out, so it tells no one more than
 * the 409 already tells any client. */
static enum MHD_Result http_token_json(struct MHD_Connection *c)
{
	char body[sizeof http_token + 16];

	snprintf(body, sizeof body, "{\"token\":\"%s\"}", http_token);
	return http_text(c, MHD_HTTP_OK, "application/json", body);
}

static enum MHD_Result http_events(struct MHD_Connection *c)
{
	unsigned status = 0;
	char *why = NULL;
	struct MHD_Response *r = sse_response(http_cfg.socket, &why, &status);
	enum MHD_Result rc;

	if (!r) {
		rc = http_error(c, status, why ? why : "cannot start the feed");
		free(why);
		return rc;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	return http_queue(c, MHD_HTTP_OK, r);
}

/* Appends a chunk of the body, up to TRPC_BODY_MAX. */
static void http_take_body(struct http_req *q, const char *data, size_t n)
{
	if (q->too_large || n == 0)
		return;
	if (q->len + n > TRPC_BODY_MAX) {
		q->too_large = true;
		return;
	}
	if (q->len + n + 1 > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		char *nb;

		while (cap < q->len + n + 1)
			cap *= 2;
		nb = realloc(q->body, cap);
		if (!nb) {
			q->too_large = true;
			return;
		}
		q->body = nb;
		q->cap = cap;
	}
	memcpy(q->body + q->len, data, n);
	q->len += n;
	q->body[q->len] = '\0';
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *c,
				   const char *url, const char *method,
				   const char *version, const char *data,
				   size_t *data_size, void **con_cls)
{
	struct http_req *q = *con_cls;

	(void)cls;
	(void)version;
	if (!q) {
		/* Header phase: decide before any body is kept. */
		q = calloc(1, sizeof *q);
		if (!q)
			return MHD_NO;
		*con_cls = q;
		q->refused = http_gate(c, url);
		if (q->refused)
			return http_refuse(c, q->refused);
		return MHD_YES;
	}
	if (*data_size) {
		if (!q->refused)
			http_take_body(q, data, *data_size);
		*data_size = 0;
		return MHD_YES;
	}
	if (q->refused)
		return MHD_YES; /* already answered */
	if (q->too_large)
		return http_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
				  "the request body is too large");
	if (strncmp(url, HTTP_RPC_PATH, strlen(HTTP_RPC_PATH)) == 0)
		return http_rpc(c, method, q);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "the page takes GET requests");
	if (strcmp(url, "/events") == 0)
		return http_events(c);
	if (strcmp(url, "/token") == 0)
		return http_token_json(c);
	return http_file(c, url);
}

static void http_done(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct http_req *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

static int http_new_token(char **why)
{
	unsigned char raw[HTTP_TOKEN_BYTES];
	size_t got = 0;

	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (asprintf(why, "cannot get random bytes: %s",
				     strerror(errno)) < 0)
				*why = NULL;
			return -1;
		}
		got += (size_t)n;
	}
	tp_hex_encode(raw, sizeof raw, http_token);
	return 0;
}

int http_start(const struct http_cfg *cfg, const struct sockaddr *sa,
	       int *port, char **why)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;

	if (http_new_token(why) < 0)
		return -1;
	http_cfg = *cfg;
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	http_daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, http_access, NULL,
		MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_CONN_PER_IP,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_SECONDS,
		MHD_OPTION_NOTIFY_COMPLETED, http_done, NULL,
		MHD_OPTION_END);
	if (!http_daemon) {
		if (asprintf(why, "cannot listen (is the port in use, or the "
			     "address not this machine's?): %s",
			     strerror(errno)) < 0)
			*why = NULL;
		return -1;
	}
	di = MHD_get_daemon_info(http_daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = di ? di->port : 0;
	return 0;
}

void http_stop(void)
{
	if (!http_daemon)
		return;
	sse_stop_all();
	MHD_stop_daemon(http_daemon);
	http_daemon = NULL;
}
