"""test_watchdir - the watch directory (--watch-dir, SPEC section 8,
issue 10).

A .torrent dropped by nobody is added, owned by nobody, and renamed
NAME.added; a garbage file becomes NAME.invalid; files dropped while tpd
was down are added at start.  Needs root (to drop files as nobody).
"""

import base64
import os

import tpdtest as T
from tpdtest import NOBODY, check, check_eq, test


def _torrent_bytes(name):
    return T.make_torrent_bytes(name, os.urandom(48 * 1024))


def _drop(path, data, uid):
    """Written beside, then moved in: what careful programs do."""
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chown(tmp, uid, uid)
    os.rename(tmp, path)


def _listed(d):
    with d.patron() as p:
        return {t["info_hash"]: t for t in p.call("list")["torrents"]}


@test
def test_watch_directory(env):
    if not T.is_root():
        raise T.TestSkip("needs root to drop files as another user")
    os.chmod(env.dir, 0o755)  # nobody must reach its own files
    watch = env.mkdir("watch", mode=0o1777)
    # Dropped while tpd is down: added at start.
    early = _torrent_bytes("early.bin")
    _drop(os.path.join(watch, "early.torrent"), early, NOBODY)
    d = env.start_daemon(extra=["--watch-dir", watch])
    T.wait_until(lambda: os.path.exists(os.path.join(watch, "early.torrent.added")),
                 20, "early.torrent renamed .added after the start")
    st = _listed(d).get(T.info_hash(early))
    check(st is not None, "the torrent dropped while tpd was down is not listed")
    check_eq(st.get("owner"), NOBODY, "owner of early.torrent's torrent")

    good = _torrent_bytes("good.bin")
    _drop(os.path.join(watch, "good.torrent"), good, NOBODY)
    T.wait_until(lambda: os.path.exists(os.path.join(watch, "good.torrent.added")),
                 20, "good.torrent renamed .added")
    check(not os.path.exists(os.path.join(watch, "good.torrent")),
          "good.torrent still there after .added")
    st = _listed(d).get(T.info_hash(good))
    check(st is not None, "the dropped torrent is not listed")
    check_eq(st.get("owner"), NOBODY, "owner of the dropped torrent")

    _drop(os.path.join(watch, "junk.torrent"), b"this is not bencode", NOBODY)
    T.wait_until(lambda: os.path.exists(os.path.join(watch, "junk.torrent.invalid")),
                 20, "junk.torrent renamed .invalid")
    check(d.alive(), "tpd died on a garbage file")
    # Other names are left alone.
    with open(os.path.join(watch, "notes.txt"), "w") as f:
        f.write("not a torrent\n")
    with d.patron() as p:
        check_eq(len(p.call("list")["torrents"]), 2, "torrents after the drops")
    check(os.path.exists(os.path.join(watch, "notes.txt")), "notes.txt was touched")


if __name__ == "__main__":
    T.main()
