/*
 * sse.h - the page's live feed: GET /events as server-sent events, each
 * `data:` line one event of a tpd `watch` connection (StatusUpdate,
 * Closed, Watching) exactly as tpd sent it.  The HTTP connection's own
 * thread blocks in the reader (tpweb runs a thread per connection).
 */
#ifndef TW_SSE_H
#define TW_SSE_H

#include <microhttpd.h>

/* Feeds open at once; one more is answered 503 (each holds a tpd
 * connection, and tpd bounds those per user). */
#define SSE_MAX 32
/* A comment line at least this often, so that proxies and the browser
 * keep the stream, and a vanished browser is noticed. */
#define SSE_KEEPALIVE_MS 15000
/* How long the reader waits for tpd before looking at the stop flag. */
#define SSE_POLL_MS 500

/* A response streaming tpd's watch events, or NULL with *why (tpd cannot
 * be reached, too many feeds) and *status (502 or 503). */
struct MHD_Response *sse_response(const char *socket, char **why,
				  unsigned *status);
/* Ends every feed within SSE_POLL_MS (before the server stops). */
void sse_stop_all(void);

#endif
