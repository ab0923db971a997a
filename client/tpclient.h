/*
 * tpclient.h - libtpclient, the C client library of tpd (a "patron").
 *
 * A patron connects to the daemon's Unix socket, sends requests (JSON
 * objects, one per line) and receives events (JSON objects, one per line).
 * The wire protocol is proto/PROTOCOL.md; this library only frames lines,
 * matches answers to requests by tag and keeps pushed events that arrive
 * while it waits for an answer, so none is lost.
 *
 * Link with: -ltpclient $(pkg-config --libs json-c libcrypto)
 *
 * A handle is used by one thread at a time.  Events returned to the caller
 * belong to the caller (json_object_put them).  Every function that can fail
 * takes `char **err` and on failure stores a malloc'd sentence there (free
 * it); err may be NULL when the caller does not want the reason.
 */
#ifndef TPCLIENT_H
#define TPCLIENT_H

#include <stdint.h>
#include <json-c/json.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest event line the library accepts from the daemon (64 MiB); a longer
 * line is broken framing and fails the receive. */
#define TPC_LINE_MAX (64u * 1024 * 1024)

/* Largest .torrent file tpc_create_request() reads (12 MiB: its base64 stays
 * under the daemon's default 16 MiB request line limit). */
#define TPC_TORRENT_MAX (12u * 1024 * 1024)

typedef struct tpc tpc;

/* The socket the daemon listens on by default: $TPD_SOCKET if set, else
 * /run/tpd/tpd.sock for root, else $XDG_RUNTIME_DIR/tpd.sock (or
 * /run/user/UID/tpd.sock when XDG_RUNTIME_DIR is unset).  Malloc'd. */
char *tpc_default_socket(void);

/* Connects to the daemon at `path` (NULL: tpc_default_socket()).  Returns a
 * handle, or NULL with a reason such as "cannot connect to /run/tpd/tpd.sock:
 * No such file or directory (is tpd running?)". */
tpc *tpc_connect(const char *path, char **err);
/* Closes the connection and frees queued events.  NULL is fine. */
void tpc_close(tpc *c);
/* The socket descriptor, for poll() in the caller's own loop.  After poll
 * says it is readable, call tpc_recv(c, 0, ...) until it returns 0. */
int tpc_fd(const tpc *c);

/* A fresh integer tag, distinct from every tag this handle gave before
 * (tpc_call() uses the same counter), for pipelining requests by hand. */
int64_t tpc_new_tag(tpc *c);

/* Sends `req` as one line.  0 on success, -1 on failure. */
int tpc_send(tpc *c, json_object *req, char **err);
/* Like tpc_send(), and passes descriptor `fd` with the line (SCM_RIGHTS),
 * for requests that hand the daemon an open file. */
int tpc_send_with_fd(tpc *c, json_object *req, int fd, char **err);

/* Receives the next event: first those queued by tpc_call(), then from the
 * socket.  timeout_ms < 0 waits forever, 0 only takes what is already there.
 * Returns 1 with *ev set; 0 when the timeout passed or a signal interrupted
 * the wait (check your signal flag and call again); -1 when the daemon closed
 * the connection or sent something that is not a JSON object (*err says
 * which).  json_object_to_json_string() of a received event gives back
 * exactly the line the daemon sent, without its newline. */
int tpc_recv(tpc *c, int timeout_ms, json_object **ev, char **err);

/* Sends `req` with a fresh integer tag (added to req, which the caller still
 * owns) and waits for the event echoing that tag; other events arriving
 * meanwhile are queued for tpc_recv().  Returns 1 with *answer, 0 on timeout
 * or signal (the answer may still arrive later through tpc_recv()), -1 on a
 * broken connection. */
int tpc_call(tpc *c, json_object *req, int timeout_ms, json_object **answer,
	     char **err);

/* Builds a `create` request (no tag) for `source`: a magnet: URI becomes
 * "magnet", an http:// or https:// URL becomes "url", anything else is read
 * as a local .torrent file and sent as base64 "torrent" bytes (so the daemon
 * never reads a file on the caller's behalf).  `save_dir` (absolute, may be
 * NULL) is added as "save_dir".  NULL with a reason if the file cannot be
 * read. */
json_object *tpc_create_request(const char *source, const char *save_dir,
				char **err);

#ifdef __cplusplus
}
#endif

#endif
