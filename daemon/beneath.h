/*
 * beneath.h - paths below a directory descriptor, never through a link.
 *
 * Every lookup is made relative to a directory descriptor with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a symbolic link anywhere
 * in the path (ELOOP), an absolute path or ".." leaving the directory
 * (EXDEV) is refused by the kernel at the moment of the lookup, so a link
 * planted at any time is never followed.  Kernels without openat2 get a
 * component-by-component walk with O_NOFOLLOW, which refuses the same.
 *
 * Any thread; no state.  The calling thread's file-system credentials
 * decide what may be opened (see access.h).
 */
#ifndef TPD_BENEATH_H
#define TPD_BENEATH_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens rel below dirfd (flags as open(2), O_CLOEXEC added).  An empty
 * rel opens dirfd's directory itself.  fd, or -1 with errno. */
int beneath_open(int dirfd, const char *rel, int flags, mode_t mode);

/* Creates every missing directory of rel (a directory path below dirfd)
 * with mode, refusing links on the way.  0, or -1 with errno. */
int beneath_mkdirs(int dirfd, const char *rel, mode_t mode);

/* The directory holding rel's last component: its descriptor (creating the
 * directories on the way when create is set) and, in *leaf, a pointer to
 * that component inside rel.  -1 with errno (EINVAL for an empty, "." or
 * ".." last component). */
int beneath_parent(int dirfd, const char *rel, int create, mode_t mode,
		   const char **leaf);

#ifdef __cplusplus
}
#endif
#endif
