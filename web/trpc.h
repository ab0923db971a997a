/*
 * trpc.h - Transmission's RPC (docs/rpc-spec.md, RPC version 17 names)
 * answered by asking tpd: one const table of methods, each translating
 * Transmission's arguments into tpd ops (proto/PROTOCOL.md, SPEC section
 * 8) and tpd's answers back.  Called on the HTTP connection thread.
 */
#ifndef TW_TRPC_H
#define TW_TRPC_H

#include <stddef.h>

/* Largest RPC request body: a torrent-add's base64 metainfo of a .torrent
 * as large as libtpclient sends (12 MiB) fits. */
#define TRPC_BODY_MAX (17u * 1024 * 1024)
/* Deepest JSON nesting accepted in a request. */
#define TRPC_DEPTH_MAX 16

/* The version tpweb reports as Transmission's: RPC 17 is Transmission
 * 4.0, and clients (Sonarr, Flood) check these. */
#define TRPC_RPC_VERSION 17
#define TRPC_RPC_VERSION_MIN 14
#define TRPC_RPC_SEMVER "5.3.0"

/* Answers one request body with the response's JSON text (malloc'd; NULL
 * only when memory ran out).  `socket` is tpd's (NULL: the default). */
char *trpc_handle(const char *socket, const char *body, size_t len);

#endif
