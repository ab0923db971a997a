"""test_move - `move` carries a torrent's data to another directory
(SPEC section 8, issue 10).

User nobody seeds a file through tpd.  A move into a directory nobody
cannot write is refused with the reason, and the torrent keeps seeding
from where it was; a move into nobody's own directory answers Moved once
the data is there (and gone from the old place), an aria2c leecher then
completes from the new place, and a restart keeps it there.  Needs root
(to act as nobody).  In make test's unprivileged pass
(TPD_TEST_DAEMON_USER) tpd runs as that user and the patron is that user
instead of nobody, since such a daemon acts for no one else; the
unwritable directory stays root's.
"""

import os
import re
import shutil

import tpdtest as T
from tpdtest import NOBODY, check, check_eq, describe, test

MIB = T.MIB


def _open_up(env, d):
    """Lets nobody reach the daemon's socket and run a copy of tpctl."""
    os.chmod(env.dir, 0o755)
    os.chmod(d.dir, 0o755)
    os.chmod(d.sock, 0o666)
    bindir = env.mkdir("bin", mode=0o755)
    exe = os.path.join(bindir, "tpctl")
    shutil.copy(T.tpctl_bin(), exe)
    os.chmod(exe, 0o755)
    return exe


# The patron: nobody for a root daemon, else the daemon's own user.
USER = T.DAEMON_USER or NOBODY


def _nobody_dir(env, name):
    p = env.mkdir(name)
    os.chown(p, USER, T.gid_of(USER))
    return p


@test
def test_move_seeding_torrent(env):
    if not T.is_root():
        raise T.TestSkip("needs root to act as another user")
    tracker = env.start_tracker()
    d = env.start_daemon()
    exe = _open_up(env, d)
    old = _nobody_dir(env, "old")
    new = _nobody_dir(env, "new")
    locked = env.mkdir("locked")  # root's, 0755: nobody cannot write here
    os.chown(locked, 0, 0)
    data = os.path.join(old, "m.bin")
    size = 6 * MIB
    sha = T.write_random_file(data, size)
    os.chown(data, USER, T.gid_of(USER))
    torrent = os.path.join(old, "m.torrent")

    def as_nobody(*args, **kw):
        return env.tpctl(*args, user=USER, exe=exe, **kw)

    r = as_nobody("seed", data, "--tracker", tracker.announce, "--torrent-out",
                  torrent, "--wait-seeding", timeout=120)
    check(r.returncode == 0, "tpctl seed as nobody: " + describe(r))
    tid = int(re.search(r"New torrent (\d+)", r.stdout).group(1))

    r = as_nobody("move", str(tid), locked)
    check(r.returncode == 1, "move into an unwritable dir: " + describe(r))
    check("cannot move torrent %d into %s" % (tid, locked) in r.stderr
          and "ermission" in r.stderr,
          "the refusal says why: " + describe(r))
    with d.patron() as p:
        st = p.call("status", id=tid)
        check_eq((st.get("state"), os.path.realpath(st.get("save_path"))),
                 ("seeding", os.path.realpath(old)),
                 "state and place after the refused move")
    check(os.path.isfile(data), "the data left its place after a refused move")

    r = as_nobody("move", str(tid), new, timeout=120)
    check(r.returncode == 0, "tpctl move as nobody: " + describe(r))
    check("Moved torrent %d to %s" % (tid, new) in r.stdout, "move output: " + describe(r))
    moved = os.path.join(new, "m.bin")
    check(os.path.isfile(moved), "%s not there after Moved" % moved)
    check(not os.path.exists(data), "%s still there after Moved" % data)
    check_eq(T.sha1_file(moved), sha, "SHA-1 of the moved data")

    with open(torrent, "rb") as f:
        ih = T.info_hash(f.read())
    tracker.allow(ih)
    r = env.tpctl("reannounce", str(tid))
    check(r.returncode == 0, "tpctl reannounce: " + describe(r))
    tracker.wait_seeders(ih, 1, timeout=120)
    leech = env.mkdir("leech")
    leecher = env.aria2_leech(torrent, leech)
    check_eq(leecher.wait_exit(120), 0, "aria2c leecher exit status")
    check_eq(T.sha1_file(os.path.join(leech, "m.bin")), sha,
             "SHA-1 aria2c got from the moved data")

    check(not d.stop(), "tpd did not stop cleanly")
    d2 = env.start_daemon()
    with d2.patron() as p:
        def seeding_from_new():
            st = p.call("status", id=tid)
            return st.get("state") == "seeding" and \
                os.path.realpath(st.get("save_path")) == os.path.realpath(new)
        T.wait_until(seeding_from_new, 30, "seeding from the new place after a restart")


if __name__ == "__main__":
    T.main()
