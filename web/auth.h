/*
 * auth.h - tpweb's logins: the password file (user name and a salted
 * PBKDF2 hash made by `tpweb --hash-password`), HTTP Basic credentials, and
 * the per-address slow-down of failed logins.  Any thread.
 */
#ifndef TW_AUTH_H
#define TW_AUTH_H

#include <stdbool.h>
#include <sys/socket.h>

/* Longest user name and password accepted; longer is a failed login. */
#define AUTH_USER_MAX 64
#define AUTH_PASS_MAX 256
/* PBKDF2-HMAC-SHA256 rounds for new hashes (a check costs ~50 ms). */
#define AUTH_ITERATIONS 200000

struct auth;

/* Reads FILE: one line `USER:HASH` (blank lines and # comments ignored).
 * NULL with a reason such as "FILE:3: the hash is not one tpweb made". */
struct auth *auth_load(const char *path, char **err);
void auth_free(struct auth *a);

/* A new `$pbkdf2-sha256$ITER$SALT$HASH` string for `password`; NULL with a
 * reason. */
char *auth_hash(const char *password, char **err);

/* Checks an Authorization header's value against the file, waiting first
 * as long as this client address must (failed logins slow down: 1 s after
 * the first, doubling up to 16 s, per address).  0 the credentials are
 * right; -1 missing or wrong (the caller answers 401). */
int auth_check(struct auth *a, const char *authorization,
	       const struct sockaddr *peer);

#endif
