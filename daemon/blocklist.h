/*
 * blocklist.h - the --blocklist file: IPv4 and IPv6 ranges whose peers
 * get no connection.  Pure parsing (no libtorrent, no threads of its own): the
 * main thread reads and parses the file at start and on SIGHUP, then hands
 * the ranges to the engine thread, which applies them as libtorrent's
 * ip_filter.  Unit-tested (tests/unit/test_blocklist.c).
 *
 * Lines, each one of:
 *   a.b.c.d/n            a CIDR block
 *   a.b.c.d-e.f.g.h      an inclusive range
 *   name:a.b.c.d-e.f.g.h the P2P (PeerGuardian) format; the name is ignored
 *   a.b.c.d              one address
 *   x:y::z/n, x:y::z-x:y::w, x:y::z
 *                        the same three for IPv6 (inet_pton's forms,
 *                        including ::ffff:a.b.c.d); no name prefix, since
 *                        a name's colons could not be told from the
 *                        address's
 * Blank lines and lines starting with '#' are skipped, as is anything after
 * a '#' that follows the range.  Octets may carry leading zeros (P2P lists
 * write 001.002.003.004), which are decimal, never octal.
 */
#ifndef TPD_BLOCKLIST_H
#define TPD_BLOCKLIST_H

#include <stddef.h>
#include <stdint.h>

/* A file larger than this is refused rather than held in memory (the
 * largest public lists are about 20 MiB). */
#define BLOCKLIST_MAX_BYTES (256u << 20)
/* At most this many bad lines are named in the error; the rest counted. */
#define BLOCKLIST_MAX_REPORTED 10

struct blocklist_range {
	uint32_t first, last; /* host byte order, inclusive */
};

/* An IPv6 range: addresses in network byte order, compared as 128-bit
 * big-endian numbers (memcmp). */
struct blocklist_range6 {
	uint8_t first[16], last[16]; /* inclusive */
};

struct blocklist {
	struct blocklist_range *ranges; /* IPv4 */
	size_t n;
	struct blocklist_range6 *ranges6;
	size_t n6;
};

/* Parses text (len bytes, need not end in NUL).  0 with *out filled; -1
 * with *err naming each bad line as "FILE:LINE: reason" (and *out empty).
 * A file with bad lines is refused whole: half a list would let through
 * what the user meant to block without saying so. */
int blocklist_parse(const char *file, const char *text, size_t len,
		    struct blocklist *out, char **err);
/* Reads and parses the file at path (with the daemon's rights). */
int blocklist_load(const char *path, struct blocklist *out, char **err);
/* Whether addr (host byte order) lies in a range: for the tests and logs. */
int blocklist_contains(const struct blocklist *bl, uint32_t addr);
/* The same for an IPv6 address (16 bytes, network byte order). */
int blocklist_contains6(const struct blocklist *bl, const uint8_t addr[16]);
void blocklist_free(struct blocklist *bl);

#endif
