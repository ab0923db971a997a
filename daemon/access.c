/*
 * access.c - file access with a patron's rights (see access.h).
 * Any thread: the credential switch is per thread, made with raw syscalls
 * because glibc's setgroups() and setfs*() wrappers would apply the change
 * to every thread of the process.
 */
#include "access.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "usercache.h"

/* The patron's supplementary groups, from the user database (as kept by
 * usercache.c: at most one look-up per user and minute). */
static gid_t *access_groups(uid_t uid, gid_t gid, int *n)
{
	gid_t primary, *groups = NULL;
	if (usercache_get(uid, gid, &primary, &groups, n) < 0)
		return NULL;
	return groups;
}

static int access_enter_groups(uid_t uid, gid_t gid, const gid_t *given,
			       int n_given, struct access_saved *sv,
			       char **err);

int access_enter(uid_t uid, gid_t gid, struct access_saved *sv,
			 char **err)
{
	return access_enter_groups(uid, gid, NULL, 0, sv, err);
}

/* With `given` groups (n_given of them) as they are, else the user
 * database's. */
static int access_enter_groups(uid_t uid, gid_t gid, const gid_t *given,
			       int n_given, struct access_saved *sv,
			       char **err)
{
	memset(sv, 0, sizeof *sv);
	uid_t me = geteuid();
	if (uid == me)
		return 0;
	if (me != 0) {
		if (asprintf(err, "the daemon runs as uid %u and cannot act "
			     "for uid %u", (unsigned)me, (unsigned)uid) < 0)
			*err = NULL;
		errno = EPERM;
		return -1;
	}
	int cur = getgroups(0, NULL);
	sv->groups = malloc((size_t)(cur > 0 ? cur : 1) * sizeof(gid_t));
	sv->n = cur > 0 ? getgroups(cur, sv->groups) : 0;
	int n = n_given;
	gid_t *groups = given ? NULL : access_groups(uid, gid, &n);
	const gid_t *use = given ? given : groups;
	long rc = use ? syscall(SYS_setgroups, n, use) : -1;
	free(groups);
	if (rc < 0) {
		if (asprintf(err, "cannot take the groups of uid %u: %s",
			     (unsigned)uid, strerror(errno)) < 0)
			*err = NULL;
		free(sv->groups);
		sv->groups = NULL;
		return -1;
	}
	syscall(SYS_setfsgid, gid);
	syscall(SYS_setfsuid, uid);
	sv->switched = 1;
	return 0;
}

void access_leave(struct access_saved *sv)
{
	if (sv->switched) {
		int saved = errno;
		syscall(SYS_setfsuid, 0);
		syscall(SYS_setfsgid, getegid());
		syscall(SYS_setgroups, sv->n, sv->groups);
		errno = saved;
	}
	free(sv->groups);
}

int access_ids_load(uid_t uid, struct access_ids *ids)
{
	memset(ids, 0, sizeof *ids);
	ids->uid = uid;
	if (uid == geteuid()) {
		int cur = getgroups(0, NULL);
		ids->groups = malloc((size_t)(cur > 0 ? cur : 1) * sizeof(gid_t));
		if (!ids->groups)
			return -1;
		ids->n = cur > 0 ? getgroups(cur, ids->groups) : 0;
		if (ids->n < 0)
			ids->n = 0;
		ids->gid = getegid();
		return 0;
	}
	/* An unknown user gets the overflow group, which owns nothing. */
	return usercache_get(uid, USERCACHE_PRIMARY, &ids->gid, &ids->groups,
			     &ids->n);
}

void access_ids_free(struct access_ids *ids)
{
	free(ids->groups);
	ids->groups = NULL;
	ids->n = 0;
}

int access_become(const struct access_ids *ids)
{
	if (geteuid() != 0)
		return 0;
	if (syscall(SYS_setgroups, ids->n, ids->groups) < 0)
		return -1;
	syscall(SYS_setfsgid, ids->gid);
	syscall(SYS_setfsuid, ids->uid);
	/* setfs*() report the previous id, never an error: ask again. */
	if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != ids->uid) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

static void access_reason(char **err, const char *what, const char *path)
{
	if (asprintf(err, "cannot %s %s: %s", what, path, strerror(errno)) < 0)
		*err = NULL;
}

static int access_check_as(uid_t uid, gid_t gid, const gid_t *groups,
			   int n, const char *path, int mode, char **err);

int access_check(uid_t uid, gid_t gid, const char *path, int mode, char **err)
{
	return access_check_as(uid, gid, NULL, 0, path, mode, err);
}

int access_check_ids(const struct access_ids *ids, const char *path, int mode,
		     char **err)
{
	return access_check_as(ids->uid, ids->gid, ids->groups, ids->n, path,
			       mode, err);
}

static int access_check_as(uid_t uid, gid_t gid, const gid_t *groups,
			   int n, const char *path, int mode, char **err)
{
	struct access_saved sv;
	if (access_enter_groups(uid, gid, groups, n, &sv, err) < 0)
		return -1;
	/* AT_EACCESS makes the kernel use the (file-system) ids we set,
	 * not the real ones. */
	int rc = faccessat(AT_FDCWD, path, mode, AT_EACCESS);
	if (rc < 0)
		access_reason(err, (mode & W_OK) ? "write to" : "read", path);
	access_leave(&sv);
	/* In a shared sticky directory (/tmp) a user may write but not
	 * replace or delete others' files; the daemon writing there would
	 * not be bound by that, so such directories are refused unless
	 * they are the user's own. */
	struct stat st;
	if (rc == 0 && (mode & W_OK) && uid != 0 && stat(path, &st) == 0 &&
	    S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) && st.st_uid != uid) {
		if (asprintf(err, "%s is a shared sticky directory; use a "
			     "directory of your own", path) < 0)
			*err = NULL;
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

int access_open(uid_t uid, gid_t gid, const char *path, int flags,
		mode_t mode, char **err)
{
	struct access_saved sv;
	if (access_enter(uid, gid, &sv, err) < 0)
		return -1;
	int fd = open(path, flags | O_CLOEXEC, mode);
	if (fd < 0)
		access_reason(err, (flags & (O_WRONLY | O_RDWR)) ? "write"
								: "read",
			      path);
	access_leave(&sv);
	return fd;
}

static int access_write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int access_write_file(uid_t uid, gid_t gid, const char *path,
		      const void *data, size_t len, char **err)
{
	char *tmp = NULL, *dir = NULL;
	if (asprintf(&tmp, "%s.tmp-%ld", path, (long)syscall(SYS_gettid)) < 0) {
		*err = strdup("out of memory");
		return -1;
	}
	const char *slash = strrchr(path, '/');
	dir = slash && slash != path ? strndup(path, (size_t)(slash - path))
				     : strdup("/");
	struct access_saved sv;
	if (access_enter(uid, gid, &sv, err) < 0) {
		free(tmp);
		free(dir);
		return -1;
	}
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		access_reason(err, "write", path);
		goto out;
	}
	if (access_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		access_reason(err, "write", path);
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		access_reason(err, "write", path);
		unlink(tmp);
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	access_leave(&sv);
	free(tmp);
	free(dir);
	return rc;
}
