"""test_ownership - a torrent belongs to the user whose connection made it.

Root creates a torrent; user nobody (uid 65534) can neither see nor touch it
(it is not listed, and acting on its id is forbidden), through the protocol
and through tpctl; nobody's own torrents
are nobody's; root sees and controls everything.  Nobody cannot make the
daemon read a .torrent or write into a directory that nobody could not use.
Needs root (to act as nobody).
"""

import contextlib
import os
import shutil

import tpdtest as T
from tpdtest import NOBODY, Patron, check, check_eq, describe, test


@contextlib.contextmanager
def as_user(uid):
    """Effective uid/gid of this process set to uid while connecting: the
    daemon reads SO_PEERCRED, which records the credentials of connect()."""
    os.setegid(uid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def _connect_as(sock, uid):
    with as_user(uid):
        return Patron(sock)


def _magnet(dn):
    h = os.urandom(20).hex()
    return "magnet:?xt=urn:btih:%s&dn=%s" % (h, dn), h


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


def _need_root():
    if not T.is_root():
        raise T.TestSkip("needs root to act as another user")


@test
def test_other_users_cannot_see_or_touch(env):
    _need_root()
    d = env.start_daemon()
    exe = _open_up(env, d)
    magnet, ih = _magnet("roots")
    with d.patron() as root:
        ev = root.expect("create", "NewTorrentCreated", magnet=magnet)
        tid = ev["id"]
        check_eq(ev.get("info_hash"), ih, "info_hash of root's torrent")
        check_eq(root.expect("status", "Status", id=tid).get("owner"), 0,
                 "owner of root's torrent")

    # tpctl as nobody
    r = env.tpctl("close", str(tid), user=NOBODY, exe=exe)
    check_eq(r.returncode, 1, "exit status of `tpctl close %d` as nobody (%s)" % (tid, describe(r)))
    # The human wording is tpctl's; the code is checked with --json below.
    check(str(tid) in r.stderr, "tpctl close as nobody must name the id on stderr: "
          + describe(r))
    r = env.tpctl("close", str(tid), user=NOBODY, exe=exe, json_mode=True)
    check_eq(r.returncode, 1, "exit status of `tpctl --json close` as nobody (%s)" % describe(r))
    errs = [e for e in T.json_lines(r.stdout) if e["type"] == "Error"]
    check(len(errs) == 1 and errs[0].get("code") == "forbidden",
          "tpctl --json close as nobody: expected one Error forbidden: " + describe(r))
    r = env.tpctl("list", user=NOBODY, exe=exe, json_mode=True)
    check_eq(r.returncode, 0, "exit status of `tpctl --json list` as nobody (%s)" % describe(r))
    lists = [e for e in T.json_lines(r.stdout) if e["type"] == "List"]
    check(len(lists) == 1 and lists[0].get("torrents") == [],
          "nobody's list must be empty: " + describe(r))
    for cmd in ["status", "pause", "resume", "reannounce"]:
        r = env.tpctl(cmd, str(tid), user=NOBODY, exe=exe)
        check_eq(r.returncode, 1, "exit status of `tpctl %s %d` as nobody (%s)"
                 % (cmd, tid, describe(r)))

    # The protocol as nobody
    with _connect_as(d.sock, NOBODY) as nob:
        check_eq(nob.list(), [], "nobody's list")
        for op in ["close", "status", "pause", "resume", "reannounce"]:
            nob.expect_error(op, "forbidden", id=tid)
        info = nob.expect("info", "Info")
        check_eq(info.get("uid"), NOBODY, "uid in nobody's Info")
        check_eq(info.get("torrents"), 0, "torrents counted in nobody's Info")
        # nobody's own torrent is nobody's, and root's is still hidden.
        pub = env.mkdir("pub", mode=0o777)
        m2, ih2 = _magnet("nobodys")
        ev = nob.expect("create", "NewTorrentCreated", magnet=m2, save_dir=pub)
        own = ev["id"]
        check(own != tid, "nobody's torrent got root's id")
        st = nob.expect("status", "Status", id=own)
        check_eq(st.get("owner"), NOBODY, "owner of nobody's torrent")
        check_eq([t["id"] for t in nob.list()], [own], "ids in nobody's list")
        nob.expect_error("close", "forbidden", id=tid)

    with d.patron() as root:
        ids = sorted(t["id"] for t in root.list())
        check_eq(ids, sorted([tid, own]), "root sees every torrent")
        # Root may control nobody's torrent too.
        root.expect("pause", "Paused", id=own)
        root.expect("resume", "Resumed", id=own)

    # Root can still close its torrent; tpctl says so with exit 0.
    r = env.tpctl("close", str(tid))
    check_eq(r.returncode, 0, "exit status of `tpctl close %d` as root (%s)" % (tid, describe(r)))
    with d.patron() as root:
        check_eq([t["id"] for t in root.list()], [own], "ids after root closed its torrent")
    # nobody may close its own from a new connection: it belongs to the user.
    r = env.tpctl("close", str(own), user=NOBODY, exe=exe)
    check_eq(r.returncode, 0, "nobody closing its own torrent (%s)" % describe(r))


@test
def test_files_other_users_cannot_use(env):
    _need_root()
    d = env.start_daemon()
    _open_up(env, d)
    private = env.mkdir("private", mode=0o700)
    secret = os.path.join(private, "secret.torrent")
    tb = T.make_torrent_bytes("secret.bin", os.urandom(5000))
    with open(secret, "wb") as f:
        f.write(tb)
    os.chmod(secret, 0o600)
    readable_dir = env.mkdir("readable", mode=0o755)
    unreadable = os.path.join(readable_dir, "mode600.torrent")
    with open(unreadable, "wb") as f:
        f.write(T.make_torrent_bytes("m600.bin", os.urandom(5000)))
    os.chmod(unreadable, 0o600)

    with _connect_as(d.sock, NOBODY) as nob:
        for what, fields in [
                ("a .torrent in a root-only directory", {"path": secret}),
                ("a root-only .torrent", {"path": unreadable}),
                ("a root-only save_dir", {"magnet": _magnet("x")[0], "save_dir": private}),
                ("a save_dir nobody cannot write", {"magnet": _magnet("y")[0],
                                                    "save_dir": readable_dir})]:
            ev = nob.call("create", **fields)
            ok = ev["type"] == "StartFail" or (ev["type"] == "Error"
                                               and ev.get("code") == "forbidden")
            check(ok, "create from %s as nobody: expected StartFail or Error forbidden, got %s"
                  % (what, T._short(ev)))
        check_eq(nob.list(), [], "nobody's list after refused creates")
    with d.patron() as root:
        check_eq(root.list(), [], "torrents after nobody's refused creates")
        # The same file is fine for root.
        ev = root.expect("create", "NewTorrentCreated", path=secret)
        check_eq(ev.get("info_hash"), T.info_hash(tb), "info_hash from path")


@test
def test_one_user_cannot_take_every_connection(env):
    """--max-user-connections 5: nobody's sixth connection gets one Error
    busy line and is closed; root still gets in; once nobody closes one,
    nobody gets in again."""
    _need_root()
    d = env.start_daemon(extra=["--max-user-connections", "5"])
    _open_up(env, d)
    mine = [_connect_as(d.sock, NOBODY) for _ in range(5)]
    try:
        for p in mine:
            check_eq(p.call("hello").get("type"), "Hello", "hello on one of nobody's 5")
        extra = _connect_as(d.sock, NOBODY)
        with extra:
            ev = extra.next(lambda e: True, what="the refusal of nobody's sixth")
            check_eq((ev.get("type"), ev.get("code")), ("Error", "busy"),
                     "answer on nobody's sixth connection")
            extra.expect_eof()
        with d.patron() as root:
            check_eq(root.call("hello").get("type"), "Hello", "root while nobody is at its limit")
        mine.pop().close()
        def sixth_served():
            # Until the daemon has seen the close, this one is refused.
            with _connect_as(d.sock, NOBODY) as p:
                p.send({"op": "hello", "tag": 1})
                return p.next(lambda e: True, what="hello or busy").get("type") == "Hello"
        T.wait_until(sixth_served, 10, "nobody to get a connection after closing one")
    finally:
        for p in mine:
            p.close()


if __name__ == "__main__":
    T.main()
