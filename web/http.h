/*
 * http.h - tpweb's HTTP server (libmicrohttpd, a thread per connection):
 * the checks every request passes (Host allow-list, same origin, login,
 * session token), the static page, /events and /transmission/rpc.
 */
#ifndef TW_HTTP_H
#define TW_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "auth.h"

/* HTTP connections at once, and from one address: each is a thread. */
#define HTTP_CONN_MAX 128
#define HTTP_CONN_PER_IP 32
/* Idle seconds before a connection is dropped (a feed sends keep-alives
 * more often). */
#define HTTP_IDLE_SECONDS 60
/* Largest page file served. */
#define HTTP_FILE_MAX (4u * 1024 * 1024)
/* Longest page file name, and longest allowed host name. */
#define HTTP_NAME_MAX 64
#define HTTP_HOST_MAX 255

struct http_cfg {
	const char *socket;     /* tpd's; NULL: the default */
	const char *web_root;   /* directory of index.html, app.js, ... */
	struct auth *auth;      /* NULL: no login (loopback only) */
	char **hosts;           /* allowed Host names besides the built-in */
	size_t n_hosts;
};

/* Starts serving on `sa`; the port actually bound (for port 0) in *port.
 * -1 with a reason. */
int http_start(const struct http_cfg *cfg, const struct sockaddr *sa,
	       int *port, char **why);
/* Ends the feeds, then stops the server and waits for its threads. */
void http_stop(void);

#endif
