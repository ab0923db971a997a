/*
 * fuzz_config.c - libFuzzer target for the config-file reader
 * (options_apply_config in daemon/options.c, which logs through log.c).
 * The input is the file's text (up to an embedded NUL, as the daemon reads
 * it with string functions); whatever it holds, the call returns 0 or -1
 * with a message, and the resulting options stay within their documented
 * ranges.  Single-threaded fuzzer process.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static void fuzz_config_die(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_config: %s\n", what);
	if (text)
		fprintf(stderr, "config text: %s\n", text);
	abort();
}

/* A getenv stand-in so the defaults do not depend on the environment. */
static const char *fuzz_config_env(const char *name)
{
	if (strcmp(name, "HOME") == 0)
		return "/home/fuzz";
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpd_options o;
	char *text = malloc(size + 1);
	char *err = NULL;
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	options_defaults(&o, 1000, fuzz_config_env);
	r = options_apply_config(&o, "fuzz.conf", text, &err);
	if (r != 0 && r != -1)
		fuzz_config_die("result is neither 0 nor -1", text);
	if (r == -1 && (!err || !*err))
		fuzz_config_die("failure without a message", text);
	if (r == 0 && err)
		fuzz_config_die("success with a message", text);
	if (o.tick_ms < 1 || o.workers < 1 || o.resume_interval < 1 ||
	    o.url_timeout < 1 || o.socket_mode > 0777)
		fuzz_config_die("an integer setting out of range", text);
	if (o.max_line == 0 || o.max_conns == 0 || o.max_pending == 0 ||
	    o.max_output == 0 || o.max_torrent_size == 0)
		fuzz_config_die("a size setting is 0", text);
	/* A size given as "-N" must be refused, not wrap around to ~2^64.
	 * (-DFUZZ_CONFIG_NO_WRAP_CHECK builds a variant without this check,
	 * to look for other bugs while this one is open.) */
#ifndef FUZZ_CONFIG_NO_WRAP_CHECK
	if (o.max_line > ((size_t)1 << 62) || o.max_conns > ((size_t)1 << 62) ||
	    o.max_pending > ((size_t)1 << 62) ||
	    o.max_output > ((size_t)1 << 62) ||
	    o.max_torrent_size > ((size_t)1 << 62))
		fuzz_config_die("a size setting wrapped around", text);
#endif
	if (o.log_level < 0 || o.log_level > 3)
		fuzz_config_die("log level out of range", text);
	if (!o.socket_path || !o.state_dir || !o.config)
		fuzz_config_die("a path setting was lost", text);
	free(err);
	options_free(&o);
	free(text);
	return 0;
}
