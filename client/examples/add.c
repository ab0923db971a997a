/*
 * add.c - a patron in C: adds a magnet, an http(s) URL or a .torrent file
 * and prints the daemon's answer.  Build it against an installed tpd:
 *
 *     cc add.c $(pkg-config --cflags --libs tpclient) -o add
 *
 * (the integration tests build and run it the same way).
 */
#include <stdio.h>
#include <stdlib.h>
#include <tpclient.h>

int main(int argc, char **argv)
{
	char *err = NULL;
	tpc *c = tpc_connect(NULL, &err); /* $TPD_SOCKET or the default */
	json_object *req = c && argc > 1 ? tpc_create_request(argv[1], NULL, &err)
					 : NULL, *ans = NULL;
	if (!req || tpc_call(c, req, 30000, &ans, &err) != 1) {
		fprintf(stderr, "add: %s\n", err ? err : "usage: add SOURCE");
		return 1;
	}
	/* NewTorrentCreated, AlreadyDownloading or StartFail: print it all. */
	puts(json_object_to_json_string(ans));
	json_object_put(ans);
	json_object_put(req);
	tpc_close(c);
	return 0;
}
