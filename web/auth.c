/*
 * auth.c - tpweb's password file, Basic credentials and the slow-down of
 * failed logins (see auth.h).  Called from every HTTP connection thread;
 * the table of failing addresses is shared under one mutex.
 */
#include "auth.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec.h"

#define AUTH_SALT_LEN 16
#define AUTH_KEY_LEN 32
/* Hashes with fewer or more rounds than these are refused as not ours. */
#define AUTH_ITER_MIN 10000
#define AUTH_ITER_MAX 10000000
#define AUTH_LINE_MAX 1024
#define AUTH_PREFIX "$pbkdf2-sha256$"

/* Failed logins: the first costs 1 s, each next one doubles, up to 16 s;
 * an address forgiven after 10 minutes without a failure. */
#define AUTH_DELAY_FIRST_MS 1000
#define AUTH_DELAY_MAX_MS 16000
#define AUTH_FORGET_MS (10 * 60 * 1000)
/* Addresses remembered at once; the stalest is forgotten for a new one. */
#define AUTH_SLOTS 256
/* Credentials that passed are remembered (as a SHA-256 of the header) for
 * a while, so that the page's many requests do not each pay for PBKDF2. */
#define AUTH_CACHE 16
#define AUTH_CACHE_MS (10 * 60 * 1000)

struct auth {
	char user[AUTH_USER_MAX + 1];
	unsigned iterations;
	unsigned char salt[AUTH_SALT_LEN];
	unsigned char key[AUTH_KEY_LEN];
};

struct auth_slot {
	bool used;
	unsigned char addr[16];
	unsigned fails;
	int64_t gate_ms;    /* no attempt from here is answered before this */
	int64_t last_fail_ms;
};

struct auth_cached {
	unsigned char digest[32];
	int64_t until_ms;
};

static pthread_mutex_t auth_lock = PTHREAD_MUTEX_INITIALIZER;
static struct auth_slot auth_slots[AUTH_SLOTS];
static struct auth_cached auth_cache[AUTH_CACHE];

__attribute__((format(printf, 1, 2)))
static char *auth_strf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static int64_t auth_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int auth_derive(const char *pass, const unsigned char *salt,
		       unsigned iter, unsigned char *key)
{
	return PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), salt, AUTH_SALT_LEN,
				 (int)iter, EVP_sha256(), AUTH_KEY_LEN, key)
		       == 1 ? 0 : -1;
}

char *auth_hash(const char *password, char **err)
{
	unsigned char salt[AUTH_SALT_LEN], key[AUTH_KEY_LEN];
	char *s64, *k64, *out = NULL;

	if (strlen(password) > AUTH_PASS_MAX) {
		*err = auth_strf("the password is longer than %d bytes",
				 AUTH_PASS_MAX);
		return NULL;
	}
	if (RAND_bytes(salt, sizeof salt) != 1 ||
	    auth_derive(password, salt, AUTH_ITERATIONS, key) < 0) {
		*err = strdup("OpenSSL could not make the hash");
		return NULL;
	}
	s64 = tp_base64_encode(salt, sizeof salt);
	k64 = tp_base64_encode(key, sizeof key);
	if (s64 && k64 &&
	    asprintf(&out, AUTH_PREFIX "%u$%s$%s", AUTH_ITERATIONS, s64, k64) < 0)
		out = NULL;
	free(s64);
	free(k64);
	if (!out)
		*err = strdup("out of memory");
	return out;
}

/* Decodes base64 field `text` into exactly `len` bytes. */
static int auth_b64_exact(const char *text, unsigned char *out, size_t len)
{
	size_t n = 0;
	unsigned char *b = tp_base64_decode(text, strlen(text), &n);
	int rc = -1;

	if (b && n == len) {
		memcpy(out, b, len);
		rc = 0;
	}
	free(b);
	return rc;
}

/* Parses `USER:$pbkdf2-sha256$ITER$SALT$KEY` into a. */
static int auth_parse_line(char *line, struct auth *a)
{
	char *colon = strchr(line, ':');
	char *iter_s, *salt_s, *key_s, *end;
	unsigned long iter;

	if (!colon || colon == line || (size_t)(colon - line) > AUTH_USER_MAX)
		return -1;
	memcpy(a->user, line, (size_t)(colon - line));
	a->user[colon - line] = '\0';
	if (strncmp(colon + 1, AUTH_PREFIX, strlen(AUTH_PREFIX)) != 0)
		return -1;
	iter_s = colon + 1 + strlen(AUTH_PREFIX);
	salt_s = strchr(iter_s, '$');
	if (!salt_s)
		return -1;
	*salt_s++ = '\0';
	key_s = strchr(salt_s, '$');
	if (!key_s)
		return -1;
	*key_s++ = '\0';
	errno = 0;
	iter = strtoul(iter_s, &end, 10);
	if (errno || *end || end == iter_s || iter < AUTH_ITER_MIN ||
	    iter > AUTH_ITER_MAX)
		return -1;
	a->iterations = (unsigned)iter;
	if (auth_b64_exact(salt_s, a->salt, AUTH_SALT_LEN) < 0 ||
	    auth_b64_exact(key_s, a->key, AUTH_KEY_LEN) < 0)
		return -1;
	return 0;
}

struct auth *auth_load(const char *path, char **err)
{
	char line[AUTH_LINE_MAX + 2];
	struct auth *a = NULL;
	long lineno = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		*err = auth_strf("cannot read the password file %s: %s",
				 path, strerror(errno));
		return NULL;
	}
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(line);

		lineno++;
		if (n > AUTH_LINE_MAX) {
			*err = auth_strf("%s:%ld: the line is too long", path,
					 lineno);
			goto fail;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (a) {
			*err = auth_strf("%s:%ld: only one USER:HASH line is "
					 "read; remove the others", path,
					 lineno);
			goto fail;
		}
		a = calloc(1, sizeof *a);
		if (!a) {
			*err = strdup("out of memory");
			goto fail;
		}
		if (auth_parse_line(line, a) < 0) {
			*err = auth_strf("%s:%ld: expected USER:HASH with a "
					 "hash made by `tpweb --hash-password`",
					 path, lineno);
			goto fail;
		}
	}
	fclose(f);
	if (!a)
		*err = auth_strf("%s has no USER:HASH line", path);
	return a;
fail:
	free(a);
	fclose(f);
	return NULL;
}

void auth_free(struct auth *a)
{
	if (a)
		OPENSSL_cleanse(a, sizeof *a);
	free(a);
}

/* The address as 16 bytes (IPv4 as v4-mapped IPv6), so that one table
 * serves both families. */
static void auth_addr_key(const struct sockaddr *sa, unsigned char *out)
{
	memset(out, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		out[10] = out[11] = 0xff;
		memcpy(out + 12, &in->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		memcpy(out, &in6->sin6_addr, 16);
	}
}

/* The slot of `key` (a new or recycled one when absent).  Under the lock. */
static struct auth_slot *auth_slot_of(const unsigned char *key, int64_t now)
{
	struct auth_slot *victim = NULL;

	for (size_t i = 0; i < AUTH_SLOTS; i++) {
		struct auth_slot *s = &auth_slots[i];

		if (s->used && memcmp(s->addr, key, 16) == 0) {
			if (now - s->last_fail_ms > AUTH_FORGET_MS)
				s->fails = 0;
			return s;
		}
		if (!s->used) {
			if (!victim || victim->used)
				victim = s;
		} else if (!victim || (victim->used &&
				       s->last_fail_ms < victim->last_fail_ms)) {
			victim = s;
		}
	}
	memset(victim, 0, sizeof *victim);
	victim->used = true;
	memcpy(victim->addr, key, 16);
	return victim;
}

static void auth_sleep_until(int64_t when)
{
	int64_t left;

	/* A deliberate delay, the whole point of the slow-down: this thread
	 * serves only this connection. */
	while ((left = when - auth_now_ms()) > 0) {
		struct timespec ts = { left / 1000, (left % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
}

/* Splits "Basic BASE64(user:pass)" into user and pass; -1 if malformed. */
static int auth_parse_basic(const char *h, char *user, char *pass)
{
	size_t n = 0, ulen;
	unsigned char *raw;
	char *colon;

	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return -1;
	h += 6;
	while (*h == ' ')
		h++;
	if (strlen(h) > 4 * (AUTH_USER_MAX + AUTH_PASS_MAX + 1) / 3 + 4)
		return -1;
	raw = tp_base64_decode(h, strlen(h), &n);
	if (!raw)
		return -1;
	colon = memchr(raw, ':', n);
	ulen = colon ? (size_t)(colon - (char *)raw) : 0;
	if (!colon || ulen > AUTH_USER_MAX || n - ulen - 1 > AUTH_PASS_MAX ||
	    memchr(raw, '\0', n)) {
		free(raw);
		return -1;
	}
	memcpy(user, raw, ulen);
	user[ulen] = '\0';
	memcpy(pass, colon + 1, n - ulen - 1);
	pass[n - ulen - 1] = '\0';
	OPENSSL_cleanse(raw, n);
	free(raw);
	return 0;
}

static bool auth_matches(const struct auth *a, const char *user,
			 const char *pass)
{
	unsigned char key[AUTH_KEY_LEN];
	bool ok;

	if (auth_derive(pass, a->salt, a->iterations, key) < 0)
		return false;
	ok = CRYPTO_memcmp(key, a->key, AUTH_KEY_LEN) == 0;
	ok = strlen(user) == strlen(a->user) &&
	     CRYPTO_memcmp(user, a->user, strlen(user)) == 0 && ok;
	OPENSSL_cleanse(key, sizeof key);
	return ok;
}

static void auth_digest(const char *header, unsigned char *out)
{
	unsigned int n = 32;

	EVP_Digest(header, strlen(header), out, &n, EVP_sha256(), NULL);
}

/* True when this exact header passed recently.  Under the lock. */
static bool auth_cached_ok(const unsigned char *d, int64_t now)
{
	for (size_t i = 0; i < AUTH_CACHE; i++)
		if (auth_cache[i].until_ms > now &&
		    CRYPTO_memcmp(auth_cache[i].digest, d, 32) == 0)
			return true;
	return false;
}

/* Remembers a header that passed, in the slot expiring first. */
static void auth_cache_put(const unsigned char *d, int64_t now)
{
	struct auth_cached *victim = &auth_cache[0];

	for (size_t i = 1; i < AUTH_CACHE; i++)
		if (auth_cache[i].until_ms < victim->until_ms)
			victim = &auth_cache[i];
	memcpy(victim->digest, d, 32);
	victim->until_ms = now + AUTH_CACHE_MS;
}

int auth_check(struct auth *a, const char *authorization,
	       const struct sockaddr *peer)
{
	unsigned char digest[32];
	char user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];
	unsigned char key[16];
	struct auth_slot *s;
	int64_t now, start, delay;
	bool ok;

	/* No credentials at all is how every client begins (the 401 asks
	 * for them): not a failed login. */
	if (!authorization)
		return -1;
	auth_addr_key(peer, key);
	now = auth_now_ms();
	auth_digest(authorization, digest);
	pthread_mutex_lock(&auth_lock);
	ok = auth_cached_ok(digest, now);
	pthread_mutex_unlock(&auth_lock);
	if (ok)
		return 0;
	/* Each attempt from an address takes its turn behind the gate, so
	 * parallel guesses are slowed as much as sequential ones. */
	pthread_mutex_lock(&auth_lock);
	s = auth_slot_of(key, now);
	start = s->gate_ms > now ? s->gate_ms : now;
	s->gate_ms = start;
	pthread_mutex_unlock(&auth_lock);
	auth_sleep_until(start);

	ok = auth_parse_basic(authorization, user, pass) == 0 &&
	     auth_matches(a, user, pass);
	OPENSSL_cleanse(pass, sizeof pass);

	pthread_mutex_lock(&auth_lock);
	s = auth_slot_of(key, auth_now_ms());
	if (ok) {
		s->fails = 0;
		auth_cache_put(digest, auth_now_ms());
		pthread_mutex_unlock(&auth_lock);
		return 0;
	}
	s->fails++;
	delay = AUTH_DELAY_FIRST_MS;
	for (unsigned i = 1; i < s->fails && delay < AUTH_DELAY_MAX_MS; i++)
		delay *= 2;
	if (delay > AUTH_DELAY_MAX_MS)
		delay = AUTH_DELAY_MAX_MS;
	s->last_fail_ms = auth_now_ms();
	if (s->gate_ms < s->last_fail_ms + delay)
		s->gate_ms = s->last_fail_ms + delay;
	start = s->gate_ms;
	pthread_mutex_unlock(&auth_lock);
	/* The 401 itself waits too, so a lone guesser feels the delay. */
	auth_sleep_until(start);
	return -1;
}
