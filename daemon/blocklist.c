/*
 * blocklist.c - parsing the --blocklist file (see blocklist.h).  Pure
 * functions; the main thread calls them at start and on SIGHUP.
 */
#include "blocklist.h"

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

/* One line (without its newline) -> a range; NULL, or the reason. */
static const char *bl_line(const char *s, const char *end,
			   struct blocklist_range *r)
{
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
		return "expected an IPv4 address (a.b.c.d/n, a.b.c.d-e.f.g.h "
		       "or name:a.b.c.d-e.f.g.h)";
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

static int bl_push(struct blocklist *bl, size_t *cap,
		   const struct blocklist_range *r)
{
	if (bl->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct blocklist_range *nr =
			realloc(bl->ranges, ncap * sizeof *nr);
		if (!nr)
			return -1;
		bl->ranges = nr;
		*cap = ncap;
	}
	bl->ranges[bl->n++] = *r;
	return 0;
}

int blocklist_parse(const char *file, const char *text, size_t len,
		    struct blocklist *out, char **err)
{
	struct blocklist bl = {0};
	struct bl_errors errs = {0};
	size_t cap = 0;
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
		const char *why = bl_line(s, le, &r);
		if (why) {
			bl_complain(&errs, file, lineno, why);
			continue;
		}
		if (bl_push(&bl, &cap, &r) < 0) {
			free(bl.ranges);
			free(errs.text);
			*err = strdup("out of memory reading the blocklist");
			return -1;
		}
	}
	if (errs.count) {
		free(bl.ranges);
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

void blocklist_free(struct blocklist *bl)
{
	if (!bl)
		return;
	free(bl->ranges);
	bl->ranges = NULL;
	bl->n = 0;
}
