/*
 * server.h - the control socket and the main loop.
 *
 * Main thread.  The server owns the listening Unix socket, every patron
 * connection (framing, SO_PEERCRED, bounded input and output) and the epoll
 * loop; other descriptors (the engine's and workers' event fds, signals)
 * are watched through server_watch_fd().  Decoded requests go to the
 * service; the service's answers come back through server_answer() and
 * server_push().
 */
#ifndef TPD_SERVER_H
#define TPD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct server;
struct service;

struct server_config {
	const char *socket_path;
	int listen_fd;          /* from socket activation, or -1 */
	mode_t socket_mode;
	gid_t socket_gid;       /* (gid_t)-1: leave as created */
	size_t max_line;        /* longest request line */
	size_t max_conns;       /* more are refused with an Error line */
	size_t max_conns_user;  /* the same, per uid (root excepted) */
	size_t soft_output;     /* above this, status pushes are coalesced */
	size_t hard_output;     /* above this, the connection is closed */
};

struct server *server_new(const struct server_config *cfg, char **err);
void server_set_service(struct server *srv, struct service *svc);
/* Calls fn(ctx) on the main thread whenever fd is readable. */
int server_watch_fd(struct server *srv, int fd, void (*fn)(void *ctx),
		    void *ctx);
/* Runs until server_stop(). */
void server_run(struct server *srv);
void server_stop(struct server *srv);
/* Closes every connection (telling the service) and the socket. */
void server_free(struct server *srv);
size_t server_conn_count(const struct server *srv);
/* The groups the kernel gave for connection conn's peer at accept; NULL
 * when it is gone or the kernel could not tell. */
struct access_ids;
const struct access_ids *server_conn_peer(struct server *srv, uint64_t conn);
/* SIGHUP: new bounds for new input and output (open connections keep
 * what they already hold). */
void server_set_limits(struct server *srv, size_t max_line, size_t max_conns,
		       size_t max_conns_user, size_t hard_output);

/* service_io implementations (ctx = the server). */
void server_answer(void *srv, uint64_t conn, const char *line, size_t len);
/* server_answer taking over the malloc'd line (freed in any case). */
void server_answer_take(void *srv, uint64_t conn, char *line, size_t len);
void server_push(void *srv, uint64_t conn, int64_t id, const char *line,
		 size_t len);

#endif
