/*
 * beneath.c - lookups below a directory descriptor that follow no link
 * (see beneath.h).  Any thread; no state.
 */
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* openat2 answers EAGAIN when a rename raced the lookup; a few retries
 * make that invisible, and a bound keeps a hostile renamer from spinning
 * the thread forever. */
#define BENEATH_RETRIES 8
/* Components in one path; torrents nest far less. */
#define BENEATH_MAX_DEPTH 256

static int beneath_openat2(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (unsigned long long)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	long fd = -1;
	for (int i = 0; i < BENEATH_RETRIES; i++) {
		fd = syscall(SYS_openat2, dirfd, rel[0] ? rel : ".", &how,
			     sizeof how);
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return (int)fd;
}

/* The same refusals without openat2: one component at a time, each opened
 * with O_NOFOLLOW, "." and ".." refused. */
static int beneath_walk(int dirfd, const char *rel, int flags, mode_t mode)
{
	char *copy = strdup(rel);
	if (!copy) {
		errno = ENOMEM;
		return -1;
	}
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	char *comp = copy, *slash;
	int depth = 0;
	while (fd >= 0 && (slash = strchr(comp, '/')) != NULL) {
		*slash = '\0';
		int next = -1;
		if (!*comp || !strcmp(comp, ".") || !strcmp(comp, "..") ||
		    ++depth > BENEATH_MAX_DEPTH)
			errno = EXDEV;
		else
			next = openat(fd, comp, O_RDONLY | O_DIRECTORY |
						O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		errno = e;
		fd = next;
		comp = slash + 1;
	}
	if (fd >= 0 && *comp) {
		int next = -1;
		if (!strcmp(comp, ".") || !strcmp(comp, ".."))
			errno = EXDEV;
		else
			next = openat(fd, comp, flags | O_NOFOLLOW | O_CLOEXEC,
				      mode);
		int e = errno;
		close(fd);
		errno = e;
		fd = next;
	}
	free(copy);
	return fd;
}

int beneath_open(int dirfd, const char *rel, int flags, mode_t mode)
{
	if (rel[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	int fd = beneath_openat2(dirfd, rel, flags, mode);
	if (fd < 0 && errno == ENOSYS)
		fd = beneath_walk(dirfd, rel, flags, mode);
	return fd;
}

int beneath_mkdirs(int dirfd, const char *rel, mode_t mode)
{
	size_t len = strlen(rel);
	char *path = malloc(len + 1);
	if (!path) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(path, rel, len + 1);
	int rc = 0;
	/* Each prefix in turn: the parent is opened beneath dirfd (so a
	 * link among the components already made is refused), and mkdirat
	 * itself never follows a link in its last component. */
	for (size_t i = 0; i <= len && rc == 0; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		if (i == 0 || path[i - 1] == '/')
			continue;
		char saved = path[i];
		path[i] = '\0';
		char *last = strrchr(path, '/');
		const char *leaf = last ? last + 1 : path;
		if (!strcmp(leaf, ".") || !strcmp(leaf, "..")) {
			errno = EXDEV;
			rc = -1;
		} else {
			if (last)
				*last = '\0';
			int pfd = beneath_open(dirfd, last ? path : "",
					       O_RDONLY | O_DIRECTORY, 0);
			if (last)
				*last = '/';
			if (pfd < 0) {
				rc = -1;
			} else {
				if (mkdirat(pfd, leaf, mode) < 0 &&
				    errno != EEXIST)
					rc = -1;
				int e = errno;
				close(pfd);
				errno = e;
			}
		}
		path[i] = saved;
	}
	free(path);
	return rc;
}

int beneath_parent(int dirfd, const char *rel, int create, mode_t mode,
		   const char **leaf)
{
	const char *slash = strrchr(rel, '/');
	*leaf = slash ? slash + 1 : rel;
	if (!**leaf || !strcmp(*leaf, ".") || !strcmp(*leaf, "..")) {
		errno = EINVAL;
		return -1;
	}
	if (!slash)
		return beneath_open(dirfd, "", O_RDONLY | O_DIRECTORY, 0);
	char *dir = strndup(rel, (size_t)(slash - rel));
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	int fd = beneath_open(dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 && errno == ENOENT && create &&
	    beneath_mkdirs(dirfd, dir, mode) == 0)
		fd = beneath_open(dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
	int e = errno;
	free(dir);
	errno = e;
	return fd;
}
