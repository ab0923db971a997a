"""test_nss - a user-database look-up that does not answer never stalls
the patrons (issue 12).

The daemon runs with a small LD_PRELOAD library that makes getpwuid_r and
getgrouplist (the look-ups NSS answers, from LDAP or sssd on real hosts)
wait until the test opens a gate; it drops a marker file when one is
asked.  Then, with the gate shut:
  - nobody creates from a .torrent path: the worker reading it as nobody
    asks the user database and waits at the gate (the marker appears);
  - meanwhile nobody adds a magnet into a directory of its own (a save
    directory checked on the main thread, with the groups the kernel gave
    at connect, not the user database's) and gets NewTorrentCreated;
  - root's `list` is answered and shows it.
Only then is the gate opened, and the path create is answered too.  Needs
root (to act as nobody) and a C compiler; skipped under ASan, whose
runtime must come first among the preloaded libraries.
"""

import json
import os
import subprocess
import sys

import seedutil as U
import tpdtest as T
from tpdtest import NOBODY, check, check_eq, test

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The slow directory: blocks the asking thread until the gate file
 * exists.  This wait is what is being simulated, not a synchronisation
 * of the test, which waits on the marker and the answers. */
static void gate(void)
{
	const char *g = getenv("TPD_TEST_NSS_GATE");
	char marker[4096];
	if (!g)
		return;
	snprintf(marker, sizeof marker, "%s.asked", g);
	int fd = open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	while (access(g, F_OK) != 0)
		poll(NULL, 0, 20);
}

int getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t n,
	       struct passwd **res)
{
	int (*real)(uid_t, struct passwd *, char *, size_t, struct passwd **) =
		(int (*)(uid_t, struct passwd *, char *, size_t,
			 struct passwd **))dlsym(RTLD_NEXT, "getpwuid_r");
	gate();
	return real(uid, pw, buf, n, res);
}

int getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	int (*real)(const char *, gid_t, gid_t *, int *) =
		(int (*)(const char *, gid_t, gid_t *, int *))dlsym(
			RTLD_NEXT, "getgrouplist");
	gate();
	return real(user, group, groups, ngroups);
}
"""


def _shim(env):
    src = env.path("slownss.c")
    lib = env.path("slownss.so")
    with open(src, "w") as f:
        f.write(SHIM)
    try:
        r = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", lib, src, "-ldl"],
                           capture_output=True, text=True, timeout=120)
    except OSError as e:
        raise T.TestSkip("no C compiler to build the slow-NSS library: %s" % e)
    if r.returncode != 0:
        raise T.TestSkip("cannot build the slow-NSS library: %s" % r.stderr.strip()[-300:])
    return lib


def _start_with(env, lib, gate):
    """The daemon with the library preloaded; this process unchanged."""
    saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "TPD_TEST_NSS_GATE")}
    os.environ["LD_PRELOAD"] = lib
    os.environ["TPD_TEST_NSS_GATE"] = gate
    try:
        return env.start_daemon(extra=["--socket-mode", "0666"])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@test
def test_slow_user_database_stalls_no_patron(env):
    if not T.is_root():
        raise T.TestSkip("needs root to act as user nobody")
    if "asan" in os.path.basename(T.build_dir()):
        raise T.TestSkip("ASan's runtime must be the first preloaded library")
    lib = _shim(env)
    gate = env.path("gate")
    os.chmod(env.dir, 0o755)
    d = _start_with(env, lib, gate)
    try:
        os.chmod(d.dir, 0o755)
        own = env.mkdir("own", mode=0o755)
        os.chown(own, NOBODY, NOBODY)
        pub = env.mkdir("pub", mode=0o755)
        path = os.path.join(pub, "slow.torrent")
        tb = T.make_torrent_bytes("slow.bin", os.urandom(20000),
                                  announce="http://127.0.0.1:9/announce")
        with open(path, "wb") as f:
            f.write(tb)
        os.chmod(path, 0o644)

        req = {"op": "create", "path": path, "tag": "slow"}
        slow = subprocess.Popen(
            ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
             sys.executable, "-c", U._RAW_PATRON, d.sock, json.dumps(req), "60"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        try:
            T.wait_until(lambda: os.path.exists(gate + ".asked"), 20,
                         "the worker to ask the user database for nobody")
            magnet = "magnet:?xt=urn:btih:" + os.urandom(20).hex()
            ev = U.raw_request_as(NOBODY, d.sock, {"op": "create", "magnet": magnet,
                                                   "save_dir": own}, timeout=20)
            check_eq(ev.get("type"), "NewTorrentCreated",
                     "nobody's magnet create while a look-up hangs (%s)" % T._short(ev))
            with d.patron(timeout=20) as root:
                lst = root.expect("list", "List")
            check(any(t["id"] == ev["id"] for t in lst["torrents"]),
                  "root's list while a look-up hangs shows nobody's new torrent")
            check(slow.poll() is None,
                  "the path create is still waiting for the user database")
        finally:
            with open(gate, "w"):
                pass
        out, err = slow.communicate(timeout=60)
        check_eq(slow.returncode, 0, "the slow patron's exit status (%s)" % err.strip())
        ans = json.loads(out.strip().splitlines()[-1])
        check_eq(ans.get("type"), "NewTorrentCreated", "the path create once the gate opens")
    finally:
        if not os.path.exists(gate):
            with open(gate, "w"):
                pass


if __name__ == "__main__":
    T.main()
