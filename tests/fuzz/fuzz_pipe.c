/*
 * fuzz_pipe.c - libFuzzer target for the `tpctl pipe` line parser
 * (client/pipe_parse.c).  The input becomes one NUL-terminated line (bytes
 * after an embedded NUL are simply not part of it, as with fgets); the
 * result must be one of the kinds, with its argument inside the line and
 * non-empty, or a reason for PIPE_BAD.  Single-threaded fuzzer process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipe_parse.h"

static void fuzz_pipe_die(const char *what)
{
	fprintf(stderr, "fuzz_pipe: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	struct pipe_cmd cmd;
	size_t len;
	int kind;

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	len = strlen(line);
	kind = pipe_parse_line(line, &cmd);
	if (kind != (int)cmd.kind)
		fuzz_pipe_die("return value differs from out->kind");
	switch (cmd.kind) {
	case PIPE_EMPTY:
		break;
	case PIPE_FILE:
	case PIPE_TORRENT_URL:
	case PIPE_TORRENT_PATH:
	case PIPE_MAGNET:
		if (!cmd.arg || cmd.arg_len == 0)
			fuzz_pipe_die("empty argument for a command");
		if (cmd.arg < line || cmd.arg + cmd.arg_len > line + len)
			fuzz_pipe_die("argument outside the line");
		/* Surrounding blanks are not part of the argument. */
		if (cmd.arg[cmd.arg_len - 1] == '\n' ||
		    cmd.arg[cmd.arg_len - 1] == '\r')
			fuzz_pipe_die("argument keeps the line ending");
		break;
	case PIPE_BAD:
		if (!cmd.why || !*cmd.why)
			fuzz_pipe_die("PIPE_BAD without a reason");
		break;
	default:
		fuzz_pipe_die("unknown kind");
	}
	free(line);
	return 0;
}
