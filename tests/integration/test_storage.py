"""test_storage - a root daemon follows no link a patron plants (SPEC 6).

The daemon runs as root; the attacker is user nobody, who owns a directory
and downloads or seeds there, then plants symbolic links under it while the
daemon is working:
1. nobody adds a torrent no peer has yet, swaps its folder for a link to a
   root-owned directory, then a seeder appears: nothing lands in root's
   directory, the torrent shows an error, tpd keeps running.
2. nobody seeds a file, swaps it for a link to a root-only file of the same
   size, then an aria2c leecher asks for it: no byte of root's file is in
   what aria2c received, and the torrent shows an error.
3. a link to a directory planted inside a multi-file torrent's folder while
   it downloads (from a throttled seeder): nothing is written through it.
4. `close --delete-files` during a full-speed download, 20 times: nothing
   is recreated after the answer (the deletion waits until libtorrent has
   released the torrent's files).
5. tpd run as nobody (its state directory and socket its own) downloads
   from an aria2c seeder and seeds to an aria2c leecher, both with the
   right SHA-1: the backend then switches to no other user.
6. 1,500 torrents, each with a save directory checked at add: the
   descriptors the daemon keeps below its download directory stay within
   the backend's bound (a quarter of its descriptor limit, at most 1,024),
   where before it kept one per torrent and ran out at 100,000 torrents.
Needs root (to act as nobody); peers are aria2c on 127.0.0.1.  In make
test's unprivileged pass (TPD_TEST_DAEMON_USER) tpd runs as that user and
the one planting links and asking is that user instead of nobody (such a
daemon acts for no one else): the same links must still be refused.
"""

import base64
import json
import os
import shutil
import socket
import subprocess

import seedutil as U
import tpdtest as T
from tpdtest import NOBODY, check, check_eq, describe, test

BLOCK = 16384
# The patron planting links: nobody for a root daemon, else the daemon's own
# user.
USER = T.DAEMON_USER or NOBODY
GROUP = T.gid_of(USER)


def _setup(env):
    if not T.is_root():
        raise T.TestSkip("needs root to act as user nobody")
    os.chmod(env.dir, 0o755)
    d = env.start_daemon(extra=["--socket-mode", "0666"])
    os.chmod(d.dir, 0o755)
    bindir = env.mkdir("bin", mode=0o755)
    exe = os.path.join(bindir, "tpctl")
    shutil.copy(T.tpctl_bin(), exe)
    os.chmod(exe, 0o755)
    mine = env.mkdir("mine", mode=0o755)
    os.chown(mine, USER, GROUP)
    # root's: world-writable, so that only the refusal to follow a link
    # (not nobody's lack of rights) keeps writes out of it.
    rootdir = env.mkdir("rootdir", mode=0o755)
    os.chmod(rootdir, 0o777)
    return d, exe, mine, rootdir


def _as_nobody(*argv):
    r = subprocess.run(["setpriv", "--reuid=%d" % USER, "--regid=%d" % GROUP,
                        "--clear-groups"] + list(argv), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "as nobody: %s: %s" % (" ".join(argv), describe(r)))


def _plant_link(target, where):
    """nobody replaces `where` (file or directory) with a link to target."""
    _as_nobody("rm", "-rf", where)
    _as_nobody("ln", "-s", target, where)


def _nobody_tpctl(env, exe, *args, **kw):
    return env.tpctl(*args, user=USER, exe=exe, **kw)


def _status(env, d, ih):
    return U.listed(env, d, ih)


def _wait_state(env, d, ih, pred, timeout, what):
    last = {}

    def ok():
        last.clear()
        last.update(_status(env, d, ih))
        return pred(last)
    try:
        T.wait_until(ok, timeout, what, interval=0.2)
    except T.TestFailure as e:
        T.fail("%s; last status: %s" % (e, last))
    return last


def _empty(path, what):
    check_eq(sorted(os.listdir(path)), [], "entries in %s (%s)" % (path, what))


class _Throttled:
    """aria2c seeding with its upload limited to limit bytes/s, so that a
    download lasts long enough to act in the middle of it."""

    def __init__(self, env, torrent, data_dir, limit, name="aria2-slow-seed"):
        self.port = T.free_port()
        self.log = os.path.join(env.logs, name + ".log")
        argv = ["aria2c", "--no-conf=true", "--enable-dht=false", "--enable-dht6=false",
                "--enable-peer-exchange=false", "--bt-enable-lpd=false",
                "--interface=127.0.0.1", "--disable-ipv6=true",
                "--listen-port=%d" % self.port, "--dir=%s" % data_dir,
                "--check-integrity=true", "--bt-seed-unverified=false",
                "--file-allocation=none", "--summary-interval=0",
                "--console-log-level=warn", "--stop-with-process=%d" % os.getpid(),
                "--seed-ratio=0.0", "--max-overall-upload-limit=%d" % limit,
                "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=10", torrent]
        self.proc = T.spawn(argv, self.log)
        env.procs.append((name, self.proc, self.log))


def _wait_listening(port, what):
    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False
    T.wait_until(up, 120, what, interval=0.1)


def _error_state(st):
    return st.get("state") == "error" or bool(st.get("error"))


@test
def test_folder_swapped_for_a_link_before_the_seeder_comes(env):
    d, exe, mine, rootdir = _setup(env)
    tracker = env.start_tracker()
    src = env.mkdir("src")
    pack = os.path.join(src, "pack")
    os.mkdir(pack)
    for n in ("a.bin", "b.bin"):
        T.write_random_file(os.path.join(pack, n), 2 * T.MIB)
    torrent = env.path("pack.torrent")
    ih = env.mktorrent(pack, torrent, tracker.announce, 16)
    os.chmod(torrent, 0o644)
    tracker.allow(ih)

    r = _nobody_tpctl(env, exe, "add", torrent, "--dir", mine)
    tid = U.new_id(r, "tpctl add as nobody into its own directory")
    # The folder as libtorrent would make it, then swapped for a link.
    _as_nobody("mkdir", "-p", os.path.join(mine, "pack"))
    _plant_link(rootdir, os.path.join(mine, "pack"))

    env.aria2_seed(torrent, src)
    tracker.wait_seeders(ih, 1, timeout=120)
    r = env.tpctl("reannounce", str(tid))
    check(r.returncode == 0, "tpctl reannounce: " + describe(r))
    st = _wait_state(env, d, ih, _error_state, 120,
                     "nobody's torrent to show an error")
    check("symbolic link" in st.get("error", "").lower()
          or "cross-device" in st.get("error", "").lower(),
          "the error names the refused link: %s" % st)
    _empty(rootdir, "root's directory behind the planted link")
    check(d.alive(), "tpd died")
    # The daemon still serves: a list answers.
    with d.patron() as root:
        check(any(t.get("id") == tid for t in root.list()), "the torrent is still listed")


@test
def test_seeded_file_swapped_for_a_link_to_a_root_only_file(env):
    d, exe, mine, _ = _setup(env)
    tracker = env.start_tracker()
    size = 4 * T.MIB
    data = os.path.join(mine, "mine.bin")
    T.write_random_file(data, size)
    os.chown(data, USER, GROUP)
    vault = env.mkdir("vault", mode=0o755)
    secret = os.path.join(vault, "secret.bin")
    T.write_random_file(secret, size)
    os.chmod(secret, 0o600)
    out = os.path.join(mine, "mine.torrent")
    r = _nobody_tpctl(env, exe, "seed", data, "--tracker", tracker.announce,
                      "--torrent-out", out, "--piece-size", str(BLOCK * 4))
    tid = U.new_id(r, "tpctl seed as nobody")
    ih = T.info_hash(U.read_bytes(out))
    tracker.allow(ih)

    _plant_link(secret, data)
    r = env.tpctl("reannounce", str(tid))
    check(r.returncode == 0, "tpctl reannounce: " + describe(r))
    tracker.wait_seeders(ih, 1, timeout=120)
    leech = env.mkdir("leech")
    leecher = env.aria2_leech(out, leech)
    _wait_state(env, d, ih, _error_state, 120, "nobody's seed to show an error")
    leecher.stop()

    got_path = os.path.join(leech, "mine.bin")
    got = U.read_bytes(got_path) if os.path.exists(got_path) else b""
    want = U.read_bytes(secret)
    leaked = [o for o in range(0, min(len(got), size), BLOCK)
              if got[o:o + BLOCK] == want[o:o + BLOCK]]
    check_eq(leaked, [], "16 KiB blocks of root's file found in what aria2c received")
    # Nor anywhere else in what it received.
    for o in range(0, size, 1 << 20):
        check(want[o:o + 4096] not in got, "root's bytes at %d reached aria2c" % o)
    check(d.alive(), "tpd died")


@test
def test_link_planted_inside_a_torrent_mid_download(env):
    d, exe, mine, rootdir = _setup(env)
    src = env.mkdir("src")
    pack = os.path.join(src, "pack")
    os.makedirs(os.path.join(pack, "sub"))
    T.write_random_file(os.path.join(pack, "first.bin"), 4 * T.MIB)
    for n in ("x.bin", "y.bin"):
        T.write_random_file(os.path.join(pack, "sub", n), 4 * T.MIB)
    torrent = env.path("pack.torrent")
    ih = env.mktorrent(pack, torrent, "http://127.0.0.1:%d/announce" % U.closed_port(), 16)
    os.chmod(torrent, 0o644)
    seeder = _Throttled(env, torrent, src, 1 << 20)
    _wait_listening(seeder.port, "the throttled seeder to listen")
    r = _nobody_tpctl(env, exe, "add", torrent, "--dir", mine,
                      "--peer", "127.0.0.1:%d" % seeder.port)
    tid = U.new_id(r, "tpctl add as nobody")
    _wait_state(env, d, ih, lambda st: st.get("done_bytes", 0) > 0, 120,
                "the download to start")
    # Mid-download: sub/ becomes a link to root's directory.
    _as_nobody("mkdir", "-p", os.path.join(mine, "pack", "sub"))
    _plant_link(rootdir, os.path.join(mine, "pack", "sub"))
    # Files already open keep writing to nobody's own (now unlinked) files;
    # a pause closes them, so that the resumed download looks sub/ up again.
    for op in ("pause", "resume"):
        r = _nobody_tpctl(env, exe, op, str(tid))
        check_eq(r.returncode, 0, "tpctl %s as nobody (%s)" % (op, describe(r)))
    st = _wait_state(env, d, ih,
                     lambda st: _error_state(st) or st.get("progress") == 1,
                     300, "the download to end or fail")
    _empty(rootdir, "root's directory linked inside the torrent")
    check(_error_state(st), "writing through the planted link must fail: %s" % st)
    check(d.alive(), "tpd died")


@test
def test_close_delete_files_during_download_recreates_nothing(env):
    d, exe, mine, _ = _setup(env)
    src = env.mkdir("src")
    size = 256 * T.MIB
    T.write_random_file(os.path.join(src, "big.bin"), size)
    torrent = env.path("big.torrent")
    ih = env.mktorrent(os.path.join(src, "big.bin"), torrent,
                       "http://127.0.0.1:%d/announce" % U.closed_port(), 18)
    os.chmod(torrent, 0o644)
    seeder = env.aria2_seed(torrent, src)
    _wait_listening(seeder.port, "the seeder to listen")
    dirs = []
    for i in range(20):
        dl = os.path.join(mine, "dl%02d" % i)
        _as_nobody("mkdir", dl)
        dirs.append(dl)
        # A re-add right after a close may find libtorrent still removing.
        tid = None

        def added():
            nonlocal tid
            r = _nobody_tpctl(env, exe, "add", torrent, "--dir", dl,
                              "--peer", "127.0.0.1:%d" % seeder.port)
            if r.returncode == 0:
                tid = U.new_id(r, "add #%d" % i)
                return True
            check("still being removed" in r.stderr, "add #%d: %s" % (i, describe(r)))
            return False
        T.wait_until(added, 30, "add #%d to be accepted" % i, interval=0.1)
        _wait_state(env, d, ih, lambda st: st.get("done_bytes", 0) > 0, 60,
                    "download #%d to start" % i)
        r = _nobody_tpctl(env, exe, "close", str(tid), "--delete-files")
        check_eq(r.returncode, 0, "close --delete-files #%d (%s)" % (i, describe(r)))
        _empty(dl, "right after close --delete-files #%d" % i)
    # Seconds later (the other rounds ran meanwhile), still nothing.
    for dl in dirs:
        _empty(dl, "after all the rounds")
    check(d.alive(), "tpd died")


@test
def test_unprivileged_daemon_downloads_and_seeds(env):
    """The disk backend as an unprivileged daemon: tpd runs as nobody, a
    patron running as nobody adds a torrent into nobody's directory (the
    data comes from aria2c) and seeds a file of its own to an aria2c
    leecher; both ends have the right SHA-1."""
    if not T.is_root():
        raise T.TestSkip("needs root to start tpd as user nobody")
    os.chmod(env.dir, 0o755)
    tracker = env.start_tracker()
    src = env.mkdir("src", mode=0o755)
    data = os.path.join(src, "payload.bin")
    size = 16 * T.MIB + 777
    sha = T.write_random_file(data, size)
    os.chmod(data, 0o644)
    torrent = env.path("payload.torrent")
    ih = env.mktorrent(data, torrent, tracker.announce, 18)
    os.chmod(torrent, 0o644)
    tracker.allow(ih)
    d = env.start_daemon(user=NOBODY)
    check_eq(os.stat(d.sock).st_uid, NOBODY, "owner of tpd's socket")
    bindir = env.mkdir("bin", mode=0o755)
    exe = os.path.join(bindir, "tpctl")
    shutil.copy(T.tpctl_bin(), exe)
    os.chmod(exe, 0o755)
    env.aria2_seed(torrent, src)
    tracker.wait_seeders(ih, 1, timeout=120)
    mine = env.mkdir("mine", mode=0o755)
    os.chown(mine, NOBODY, NOBODY)
    r = _nobody_tpctl(env, exe, "add", torrent, "--dir", mine, "--wait",
                      timeout=300)
    check(r.returncode == 0, "tpctl add --wait as nobody: " + describe(r))
    got = os.path.join(mine, "payload.bin")
    check_eq(os.stat(got).st_uid, NOBODY, "owner of the downloaded file")
    check_eq(T.sha1_file(got), sha, "SHA-1 of what tpd (as nobody) downloaded")

    own = os.path.join(mine, "own.bin")
    own_sha = T.write_random_file(own, 8 * T.MIB + 99)
    os.chown(own, NOBODY, NOBODY)
    made = os.path.join(mine, "own.torrent")
    r = _nobody_tpctl(env, exe, "seed", own, "--tracker", tracker.announce,
                      "--torrent-out", made)
    own_id = U.new_id(r, "tpctl seed as nobody")
    own_ih = T.info_hash(U.read_bytes(made))
    # opentracker refused the first announce: whitelist, reannounce.
    tracker.allow(own_ih)
    r = _nobody_tpctl(env, exe, "reannounce", str(own_id))
    check(r.returncode == 0, "tpctl reannounce as nobody: " + describe(r))
    tracker.wait_seeders(own_ih, 1, timeout=120)
    leech = env.mkdir("leech", mode=0o755)
    leecher = env.aria2_leech(made, leech)
    check_eq(leecher.wait_exit(300), 0,
             "aria2c leecher exit status (log: %s)" % leecher.log)
    check_eq(T.sha1_file(os.path.join(leech, "own.bin")), own_sha,
             "SHA-1 of what aria2c got from tpd (as nobody)")
    check(d.alive(), "tpd (as nobody) died")



def _fds_below(pid, top):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t == top or t.startswith(top + "/"):
            n += 1
    return n


def _nofile_soft(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                v = line.split()[3]
                return None if v == "unlimited" else int(v)
    return None


@test
def test_many_torrents_hold_bounded_descriptors(env):
    torrents = 1500
    d = env.start_daemon()
    soft = _nofile_soft(d.proc.pid)
    bound = 1024 if soft is None else min(1024, soft // 4)
    check(torrents > bound + 200, "the limit (%s) leaves no room to show the bound" % soft)
    with d.patron(timeout=120) as p:
        tags = []
        for i in range(torrents):
            tb = T.make_torrent_bytes("fd%d.bin" % i, b"%d" % i * 10)
            tags.append(p.request("create", torrent=base64.b64encode(tb).decode()))
        for t in tags:
            ev = p.answer(t)
            check_eq(ev.get("type"), "NewTorrentCreated", "create %s" % json.dumps(ev)[:200])

        def checked():
            return all(st.get("state") not in ("checking_resume_data", "checking_files")
                       for st in p.list())
        T.wait_until(checked, 120, "every torrent to be checked")
    top = os.path.realpath(d.downloads)
    last = []

    def within():
        last.append(_fds_below(d.proc.pid, top))
        return last[-1] <= bound + 64
    T.wait_until(within, 30, "at most %d descriptors held below %s" % (bound + 64, top))
    print("  %d torrents checked; descriptors below the download directory: %d "
          "(bound %d, limit %s)" % (torrents, last[-1], bound, soft), flush=True)

if __name__ == "__main__":
    T.main()
