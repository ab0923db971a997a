/*
 * usercache.h - the user database's answers (a user's primary group and
 * supplementary groups), kept for a while so that acting for a patron
 * does not ask NSS (LDAP, sssd...) every time.
 *
 * Any thread.  See usercache.c for the bound, the expiry and why.
 */
#ifndef TPD_USERCACHE_H
#define TPD_USERCACHE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

/* Users remembered at most; past it the entry closest to expiry goes. */
#define USERCACHE_USERS 256
/* Seconds an answer is used: a group change applies within this. */
#define USERCACHE_TTL_S 60

/* As a base gid: the user's own primary group. */
#define USERCACHE_PRIMARY ((gid_t)-1)
/* The group of an unknown user: the overflow group, which owns nothing. */
#define USERCACHE_NOGROUP ((gid_t)65534)

/* Asks the user database.  *primary: the user's group (USERCACHE_NOGROUP
 * when the user is unknown); *groups (malloc'd, *n of them): the groups of
 * the user with `gid` as base, or just gid when the user is unknown.
 * 0, or -1 when memory is short. */
typedef int usercache_lookup_fn(uid_t uid, gid_t gid, gid_t *primary,
				gid_t **groups, int *n);

/* The groups of uid with base gid, and its primary group; gid
 * USERCACHE_PRIMARY means "its primary group as the base".  *groups is
 * the caller's copy.  0, or -1 when memory is short. */
int usercache_get(uid_t uid, gid_t gid, gid_t *primary, gid_t **groups,
		  int *n);

/* Tests: another lookup and clock (NULL: NSS and CLOCK_MONOTONIC), and
 * forgetting everything. */
void usercache_set_source(usercache_lookup_fn *lookup, time_t (*now)(void));
void usercache_flush(void);

#endif
