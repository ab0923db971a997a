/*
 * fuzz_blocklist.c - libFuzzer target for the --blocklist reader
 * (blocklist_parse in daemon/blocklist.c) and the peer-side list checks
 * (daemon/peernet.c).  The input is a blocklist file's bytes (not NUL
 * terminated: the parser is given the length; IPv4 and IPv6 lines) and,
 * up to its first NUL, a listen or HOST:PORT list.  Whatever it holds, parsing returns 0 with
 * ranges whose first address is not after their last, or -1 with a
 * message; nothing is read past the input.  Single-threaded fuzzer process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocklist.h"
#include "peernet.h"

static void fuzz_blocklist_die(const char *what)
{
	fprintf(stderr, "fuzz_blocklist: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan catches any read past the end. */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct blocklist bl = {0};
	char *err = NULL;
	int r = blocklist_parse("fuzz", copy, size, &bl, &err);
	if (r == 0) {
		if (err)
			fuzz_blocklist_die("success with a message");
		for (size_t i = 0; i < bl.n; i++)
			if (bl.ranges[i].first > bl.ranges[i].last)
				fuzz_blocklist_die("a range ends before it starts");
		for (size_t i = 0; i < bl.n6; i++)
			if (memcmp(bl.ranges6[i].first, bl.ranges6[i].last, 16) > 0)
				fuzz_blocklist_die("an IPv6 range ends before it starts");
	} else if (r == -1) {
		if (!err || !*err || bl.n || bl.ranges || bl.n6 || bl.ranges6)
			fuzz_blocklist_die("failure without a message, or with ranges");
	} else {
		fuzz_blocklist_die("result is neither 0 nor -1");
	}
	free(err);
	blocklist_free(&bl);

	char *text = strndup(copy, size);
	if (text) {
		err = NULL;
		if (peernet_check_listen(text, &err) < 0 && !err)
			fuzz_blocklist_die("listen refused without a message");
		free(err);
		err = NULL;
		if (peernet_check_hostports(text, &err) < 0 && !err)
			fuzz_blocklist_die("host list refused without a message");
		free(err);
		(void)peernet_listen_is_loopback(text);
		free(text);
	}
	free(copy);
	return 0;
}
