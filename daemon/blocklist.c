/*
 * blocklist.c - parsing the --blocklist file (see blocklist.h).  Pure
 * functions; the main thread calls them at start and on SIGHUP.
 */
#include "blocklist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Error text is bounded so a file of garbage cannot grow it without end. */
struct bl_errors {
	char *text;
	size_t count;
};

static void bl_complain(struct bl_errors *e, const char *file, size_t line,
			const char *why)
{
	e->count++;
	if (e->count > BLOCKLIST_MAX_REPORTED)
		return;
	char *next = NULL;
	if (asprintf(&next, "%s%s%s:%zu: %s", e->text ? e->text : "",
		     e->text ? "\n" : "", file, line, why) < 0)
		return;
	free(e->text);
	e->text = next;
}

/* Reads "a.b.c.d" at *p (decimal octets, leading zeros allowed); moves *p
 * past it.  false if it is not one. */
static bool bl_addr(const char **p, const char *end, uint32_t *out)
{
	const char *s = *p;
	uint32_t v = 0;
	for (int octet = 0; octet < 4; octet++) {
		if (octet > 0) {
			if (s >= end || *s != '.')
				return false;
			s++;
		}
		unsigned n = 0;
		int digits = 0;
		while (s < end && *s >= '0' && *s <= '9' && digits < 4) {
			n = n * 10 + (unsigned)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || digits > 3 || n > 255)
			return false;
		v = v << 8 | n;
	}
	*p = s;
	*out = v;
	return true;
}

static const char *bl_skip_blank(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++;
	return s;
}

/* Reads an IPv6 address at *p (what inet_pton accepts: hex groups, '::',
 * a dotted IPv4 tail); moves *p past it.  false if it is not one. */
static bool bl_addr6(const char **p, const char *end, uint8_t out[16])
{
	/* The longest text form (INET6_ADDRSTRLEN counts its NUL); a longer
	 * run of address characters is no address. */
	char buf[INET6_ADDRSTRLEN];
	size_t n = 0;
	const char *s = *p;
	while (s < end && *s != 0 && strchr("0123456789abcdefABCDEF:.", *s)) {
		if (n + 1 >= sizeof buf)
			return false;
		buf[n++] = *s++;
	}
	buf[n] = 0;
	if (!memchr(buf, ':', n) || inet_pton(AF_INET6, buf, out) != 1)
		return false;
	*p = s;
	return true;
}

/* The IPv6 forms of a line, s at an address that bl_addr6 read into
 * r->first: "/n", "-last" or nothing.  NULL, or the reason. */
static const char *bl_line6(const char *s, const char *end,
			    struct blocklist_range6 *r)
{
	s = bl_skip_blank(s, end);
	if (s < end && *s == '/') {
		s = bl_skip_blank(s + 1, end);
		unsigned bits = 0;
		int digits = 0;
		while (s < end && *s >= '0' && *s <= '9' && digits < 4) {
			bits = bits * 10 + (unsigned)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || digits > 3 || bits > 128)
			return "the prefix length after '/' must be 0 to 128";
		memcpy(r->last, r->first, 16);
		for (unsigned i = 0; i < 16; i++) {
			unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
			uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff00u >> keep);
			r->first[i] &= mask;
			r->last[i] |= (uint8_t)~mask;
		}
	} else if (s < end && *s == '-') {
		s = bl_skip_blank(s + 1, end);
		if (!bl_addr6(&s, end, r->last))
			return "expected the range's last IPv6 address after '-'";
		if (memcmp(r->last, r->first, 16) < 0)
			return "the range ends before it starts";
	} else {
		memcpy(r->last, r->first, 16);
	}
	s = bl_skip_blank(s, end);
	if (s < end && *s != '#')
		return "unexpected text after the range";
	return NULL;
}

/* One line (without its newline) -> an IPv4 range (*v6 false) or an IPv6
 * one (*v6 true); NULL, or the reason. */
static const char *bl_line(const char *s, const char *end,
			   struct blocklist_range *r,
			   struct blocklist_range6 *r6, bool *v6)
{
	/* IPv6 first: a line that starts with one is never a P2P name. */
	const char *a = s;
	*v6 = bl_addr6(&a, end, r6->first);
	if (*v6)
		return bl_line6(a, end, r6);

	/* P2P format: the name runs to the last ':' before the range (names
	 * may themselves hold colons). */
	const char *colon = NULL;
	for (const char *q = s; q < end && *q != '#'; q++)
		if (*q == ':')
			colon = q;
	if (colon)
		s = colon + 1;
	s = bl_skip_blank(s, end);
	uint32_t first, last;
	if (!bl_addr(&s, end, &first))
		return "expected an address (a.b.c.d/n, a.b.c.d-e.f.g.h, "
		       "name:a.b.c.d-e.f.g.h, or IPv6 x::y/n, x::y-x::z)";
	s = bl_skip_blank(s, end);
	if (s < end && *s == '/') {
		s = bl_skip_blank(s + 1, end);
		unsigned bits = 0;
		int digits = 0;
		while (s < end && *s >= '0' && *s <= '9' && digits < 3) {
			bits = bits * 10 + (unsigned)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || bits > 32)
			return "the prefix length after '/' must be 0 to 32";
		uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
		first &= mask;
		last = first | ~mask;
	} else if (s < end && *s == '-') {
		s = bl_skip_blank(s + 1, end);
		if (!bl_addr(&s, end, &last))
			return "expected the range's last address after '-'";
		if (last < first)
			return "the range ends before it starts";
	} else {
		last = first;
	}
	s = bl_skip_blank(s, end);
	if (s < end && *s != '#')
		return "unexpected text after the range";
	r->first = first;
	r->last = last;
	return NULL;
}

/* The array v of n elements of `size` bytes (capacity *cap) with room for
 * one more, grown by doubling; NULL when out of memory (v is untouched). */
static void *bl_grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return v;
	size_t ncap = *cap ? *cap * 2 : 256;
	void *nv = realloc(v, ncap * size);
	if (nv)
		*cap = ncap;
	return nv;
}

int blocklist_parse(const char *file, const char *text, size_t len,
		    struct blocklist *out, char **err)
{
	struct blocklist bl = {0};
	struct bl_errors errs = {0};
	size_t cap = 0, cap6 = 0;
	size_t lineno = 0;
	const char *p = text, *end = text + len;
	*err = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		lineno++;
		const char *s = bl_skip_blank(p, le);
		p = nl ? nl + 1 : end;
		if (s == le || *s == '#')
			continue;
		struct blocklist_range r;
		struct blocklist_range6 r6;
		bool v6;
		const char *why = bl_line(s, le, &r, &r6, &v6);
		if (why) {
			bl_complain(&errs, file, lineno, why);
			continue;
		}
		void *room;
		if (v6) {
			room = bl_grow(bl.ranges6, bl.n6, &cap6, sizeof r6);
			if (room) {
				bl.ranges6 = room;
				bl.ranges6[bl.n6++] = r6;
			}
		} else {
			room = bl_grow(bl.ranges, bl.n, &cap, sizeof r);
			if (room) {
				bl.ranges = room;
				bl.ranges[bl.n++] = r;
			}
		}
		if (!room) {
			blocklist_free(&bl);
			free(errs.text);
			*err = strdup("out of memory reading the blocklist");
			return -1;
		}
	}
	if (errs.count) {
		blocklist_free(&bl);
		if (errs.count > BLOCKLIST_MAX_REPORTED) {
			char *more = NULL;
			if (asprintf(&more, "%s\n%s: %zu more bad lines",
				     errs.text ? errs.text : "", file,
				     errs.count - BLOCKLIST_MAX_REPORTED) >= 0) {
				free(errs.text);
				errs.text = more;
			}
		}
		*err = errs.text ? errs.text : strdup("bad blocklist");
		return -1;
	}
	*out = bl;
	return 0;
}

int blocklist_load(const char *path, struct blocklist *out, char **err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (asprintf(err, "cannot read the blocklist %s: %s", path,
			     strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;
	for (;;) {
		if (cap - len < 65536) {
			size_t ncap = cap ? cap * 2 : 1u << 20;
			char *nb = ncap > BLOCKLIST_MAX_BYTES + 65536u
					   ? NULL
					   : realloc(buf, ncap);
			if (!nb)
				break;
			buf = nb;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > BLOCKLIST_MAX_BYTES)
			break;
		if (n == 0) {
			rc = ferror(f) ? -1 : 0;
			break;
		}
	}
	bool err_read = ferror(f);
	fclose(f);
	if (rc < 0) {
		free(buf);
		if (asprintf(err, "cannot read the blocklist %s: %s", path,
			     err_read ? strerror(EIO)
				      : "larger than 256 MiB, or out of memory") < 0)
			*err = NULL;
		return -1;
	}
	rc = blocklist_parse(path, buf ? buf : "", len, out, err);
	free(buf);
	return rc;
}

int blocklist_contains(const struct blocklist *bl, uint32_t addr)
{
	for (size_t i = 0; i < bl->n; i++)
		if (addr >= bl->ranges[i].first && addr <= bl->ranges[i].last)
			return 1;
	return 0;
}

int blocklist_contains6(const struct blocklist *bl, const uint8_t addr[16])
{
	for (size_t i = 0; i < bl->n6; i++)
		if (memcmp(addr, bl->ranges6[i].first, 16) >= 0
		    && memcmp(addr, bl->ranges6[i].last, 16) <= 0)
			return 1;
	return 0;
}

void blocklist_free(struct blocklist *bl)
{
	if (!bl)
		return;
	free(bl->ranges);
	bl->ranges = NULL;
	bl->n = 0;
	free(bl->ranges6);
	bl->ranges6 = NULL;
	bl->n6 = 0;
}
