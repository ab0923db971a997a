/*
 * pipe_parse.h - the line language of `tpctl pipe` (the cookbook tool):
 *
 *   file:PATH              make a .torrent for PATH and seed it
 *   torrent:http(s)://...  fetch a .torrent and download it
 *   torrent:PATH           download from a local .torrent file
 *   magnet:?...            download from a magnet URI
 *
 * Pure: no I/O, no allocation, any thread.
 */
#ifndef TPCTL_PIPE_PARSE_H
#define TPCTL_PIPE_PARSE_H

#include <stddef.h>

enum pipe_kind {
	PIPE_EMPTY,         /* blank line: ignored */
	PIPE_FILE,          /* arg: the path to seed */
	PIPE_TORRENT_URL,   /* arg: the http(s) URL */
	PIPE_TORRENT_PATH,  /* arg: the .torrent path (may be relative) */
	PIPE_MAGNET,        /* arg: the whole magnet URI */
	PIPE_BAD            /* why: what is wrong with the line */
};

struct pipe_cmd {
	enum pipe_kind kind;
	const char *arg;    /* points into the line; not NUL-terminated */
	size_t arg_len;
	const char *why;    /* PIPE_BAD: a static phrase */
};

/* Parses one line (a trailing "\n" or "\r\n" and surrounding blanks are
 * ignored).  Returns out->kind. */
int pipe_parse_line(const char *line, struct pipe_cmd *out);

#endif
