"""test_cli - tpctl's exit codes, help and output (SPEC section 4).

0 success; 1 the daemon answered StartFail or Error; 2 usage; 3
AlreadyDownloading (the existing id printed); 4 cannot reach the daemon.
"""

import os
import re
import select
import signal
import socket
import subprocess
import time

import tpdtest as T
from tpdtest import check, check_eq, describe, test

COMMANDS = ["add", "seed", "close", "pause", "resume", "reannounce", "list",
            "status", "info", "watch", "wait", "pipe", "explain"]


def _magnet(dn="cli"):
    h = os.urandom(20).hex()
    return "magnet:?xt=urn:btih:%s&dn=%s" % (h, dn), h


@test
def test_help(env):
    r = env.tpctl("--help", sock=False)
    check_eq(r.returncode, 0, "exit status of tpctl --help (%s)" % describe(r))
    for c in COMMANDS:
        check(re.search(r"\b%s\b" % c, r.stdout), "tpctl --help does not mention %r: %s"
              % (c, describe(r)))
    r = env.tpctl("add", "--help", sock=False)
    check_eq(r.returncode, 0, "exit status of tpctl add --help (%s)" % describe(r))
    check("--dir" in r.stdout and "--wait" in r.stdout,
          "tpctl add --help does not mention --dir and --wait: " + describe(r))


@test
def test_usage_errors(env):
    d = env.start_daemon()
    for args in [[], ["frobnicate"], ["--no-such-option", "list"], ["close"],
                 ["close", "abc"], ["close", "1", "2"], ["status"], ["pause"],
                 ["add"], ["list", "--no-such-option"], ["seed"]]:
        r = env.tpctl(*args)
        check_eq(r.returncode, 2, "exit status of tpctl %s (%s)" % (" ".join(args), describe(r)))
        check(r.stderr.strip(), "tpctl %s: a usage error must say something on stderr"
              % " ".join(args))
    check(d.alive(), "tpd died")


@test
def test_daemon_unreachable(env):
    missing = env.path("no", "such", "tpd.sock")
    r = env.tpctl("list", sock=missing)
    check_eq(r.returncode, 4, "tpctl with a socket path that does not exist (%s)" % describe(r))
    check(r.stderr.strip(), "tpctl must say why it cannot reach the daemon")
    # A stale socket file: bound once, nobody listening.
    stale = env.path("stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()
    r = env.tpctl("list", sock=stale)
    check_eq(r.returncode, 4, "tpctl with a stale socket file (%s)" % describe(r))
    r = env.tpctl("add", _magnet()[0], sock=missing)
    check_eq(r.returncode, 4, "tpctl add with no daemon (%s)" % describe(r))


@test
def test_add_duplicate_and_failures(env):
    d = env.start_daemon()
    dl = env.mkdir("dl")
    magnet, ih = _magnet("dup")
    r = env.tpctl("add", magnet, "--dir", dl)
    check_eq(r.returncode, 0, "tpctl add magnet (%s)" % describe(r))
    m = re.search(r"New torrent (\d+) created in (\S+)", r.stdout)
    check(m is not None, "tpctl add: expected 'New torrent ID created in PATH': " + describe(r))
    tid = int(m.group(1))

    r = env.tpctl("add", magnet)
    check_eq(r.returncode, 3, "tpctl add of a torrent already there (%s)" % describe(r))
    check(re.search(r"\b%d\b" % tid, r.stdout + r.stderr),
          "tpctl add duplicate does not print the existing id %d: %s" % (tid, describe(r)))

    r = env.tpctl("add", magnet, json_mode=True)
    check_eq(r.returncode, 3, "tpctl --json add duplicate (%s)" % describe(r))
    evs = T.json_lines(r.stdout)
    ads = [e for e in evs if e["type"] == "AlreadyDownloading"]
    check(len(ads) == 1 and ads[0].get("id") == tid,
          "tpctl --json add duplicate: expected AlreadyDownloading id %d: %s" % (tid, describe(r)))

    # --peer takes host names: tpctl looks them up (the daemon wants IPs).
    # localhost comes from /etc/hosts: no query leaves the machine.
    magnet2, _ = _magnet("named-peer")
    r = env.tpctl("add", magnet2, "--dir", dl, "--peer", "localhost:9")
    check_eq(r.returncode, 0, "tpctl add --peer localhost:9 (%s)" % describe(r))

    # StartFail -> 1
    garbage = env.path("garbage.torrent")
    with open(garbage, "wb") as f:
        f.write(os.urandom(512))
    r = env.tpctl("add", garbage)
    check_eq(r.returncode, 1, "tpctl add of a garbage .torrent (%s)" % describe(r))
    check(r.stderr.strip() or r.stdout.strip(), "tpctl must give the StartFail reason")
    r = env.tpctl("add", "magnet:?xt=urn:btih:nothex&dn=x")
    check_eq(r.returncode, 1, "tpctl add of a magnet without a valid hash (%s)" % describe(r))
    # Error -> 1
    r = env.tpctl("close", "99999")
    check_eq(r.returncode, 1, "tpctl close of an unknown id (%s)" % describe(r))
    r = env.tpctl("status", "99999", json_mode=True)
    check_eq(r.returncode, 1, "tpctl --json status of an unknown id (%s)" % describe(r))
    errs = [e for e in T.json_lines(r.stdout) if e["type"] == "Error"]
    check(len(errs) == 1 and errs[0].get("code") == "not_found",
          "tpctl --json status 99999: expected Error not_found: " + describe(r))


@test
def test_commands_on_a_torrent(env):
    d = env.start_daemon()
    magnet, ih = _magnet("cmds")
    r = env.tpctl("add", magnet, json_mode=True)
    check_eq(r.returncode, 0, "tpctl --json add (%s)" % describe(r))
    evs = T.json_lines(r.stdout)
    ntc = [e for e in evs if e["type"] == "NewTorrentCreated"]
    check(len(ntc) == 1 and ntc[0].get("info_hash") == ih,
          "tpctl --json add: expected one NewTorrentCreated for %s: %s" % (ih, describe(r)))
    tid = ntc[0]["id"]
    for args in [["status", str(tid)], ["pause", str(tid)], ["resume", str(tid)],
                 ["reannounce", str(tid)], ["list"], ["info"]]:
        r = env.tpctl(*args)
        check_eq(r.returncode, 0, "tpctl %s (%s)" % (" ".join(args), describe(r)))
    r = env.tpctl("info", json_mode=True)
    infos = [e for e in T.json_lines(r.stdout) if e["type"] == "Info"]
    check(len(infos) == 1 and isinstance(infos[0].get("listen_port"), int)
          and infos[0]["listen_port"] > 0,
          "tpctl --json info: expected an Info with a listen_port: " + describe(r))
    r = env.tpctl("status", str(tid), json_mode=True)
    sts = [e for e in T.json_lines(r.stdout) if e["type"] == "Status"]
    check(len(sts) == 1 and sts[0].get("id") == tid and sts[0].get("info_hash") == ih,
          "tpctl --json status: " + describe(r))
    # $TPD_SOCKET is used when -s is not given.
    r = env.tpctl("list", sock=False, json_mode=True,
                  env=dict(os.environ, TPD_SOCKET=d.sock))
    check_eq(r.returncode, 0, "tpctl list with $TPD_SOCKET (%s)" % describe(r))
    lists = [e for e in T.json_lines(r.stdout) if e["type"] == "List"]
    check(len(lists) == 1 and [t["id"] for t in lists[0]["torrents"]] == [tid],
          "tpctl --json list with $TPD_SOCKET: " + describe(r))
    r = env.tpctl("close", str(tid))
    check_eq(r.returncode, 0, "tpctl close (%s)" % describe(r))
    r = env.tpctl("status", str(tid))
    check_eq(r.returncode, 1, "tpctl status of a closed torrent (%s)" % describe(r))


@test
def test_one_daemon_per_socket(env):
    """A second tpd on a live daemon's socket exits with an error and leaves
    the first one serving; a stale socket file is replaced."""
    d = env.start_daemon()
    second = subprocess.run(
        [T.tpd_bin(), "-s", d.sock, "-d", env.mkdir("state2"), "--listen",
         "127.0.0.1:0", "--no-dht", "--no-lsd", "--no-upnp"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    check_eq(second.returncode, 1, "exit status of a second tpd on a live socket (%s)"
             % describe(second))
    check("already listening" in second.stderr,
          "the second tpd must say another one is running: " + describe(second))
    with d.patron() as p:
        check_eq(p.call("hello").get("type"), "Hello", "the first daemon after the second left")

    # A socket file with nobody behind it (a daemon killed with -9).
    stale = env.path("stale-daemon.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    d2 = env.start_daemon("on-stale", extra=["-s", stale], wait=False)

    def hello_on_stale():
        check(d2.alive(), "tpd on a stale socket file exited:\n" + T.tail(d2.log))
        with T.Patron(stale) as p:
            return p.call("hello").get("type") == "Hello"
    T.wait_until(hello_on_stale, 30, "a daemon started on a stale socket file to answer")
    check("removed stale socket" in open(d2.log, errors="replace").read(),
          "the daemon must log that it replaced the stale socket")


@test
def test_explain(env):
    """`tpctl explain` speaks the seed's BasicTorrentExplainer: a status line
    per integer percent, a line when a torrent appears, and when it closes."""
    d = env.start_daemon()
    with d.patron() as p:
        old = p.expect("create", "NewTorrentCreated", magnet=_magnet("old")[0])["id"]
    proc = subprocess.Popen([T.tpctl_bin(), "-s", d.sock, "explain"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, bufsize=0)
    T._PROCS.append(proc)
    seen = []
    buf = [b""]

    def line_matching(pattern, what):
        # Raw reads: a buffered reader would hide lines from select().
        deadline = time.monotonic() + 20
        while True:
            while b"\n" in buf[0]:
                line, buf[0] = buf[0].split(b"\n", 1)
                seen.append(line.decode())
                if re.fullmatch(pattern, seen[-1]):
                    return seen[-1]
            left = deadline - time.monotonic()
            check(left > 0, "tpctl explain never printed %s; it printed %r" % (what, seen))
            r, _, _ = select.select([proc.stdout], [], [], left)
            if r:
                chunk = os.read(proc.stdout.fileno(), 65536)
                check(chunk != b"", "tpctl explain ended early; it printed %r" % seen)
                buf[0] += chunk

    line_matching(r"Torrent %d status : 0%%" % old, "the status of the existing torrent")
    data = env.path("song.ogg")
    T.write_random_file(data, 30000)
    with d.patron() as p:
        ev = p.call("seed", path=data, trackers=["http://127.0.0.1:9/announce"],
                    torrent_out=env.path("song.torrent"))
        check_eq(ev.get("type"), "NewTorrentCreated", "seed")
        new = ev["id"]
        line_matching(r"New torrent %d created in %s" % (new, re.escape(data)),
                      "the new torrent's line")
        line_matching(r"Torrent %d status : 100%%" % new, "the new torrent at 100%")
        p.expect("close", "Closed", id=new)
        line_matching(r"Closed torrent %d" % new, "the close")
    proc.send_signal(signal.SIGINT)
    check_eq(proc.wait(timeout=20), 0, "exit status of tpctl explain after Ctrl-C")
    check(not any("New torrent %d " % old in l for l in seen),
          "explain announced the torrent that existed before it started: %r" % seen)


@test
def test_timeout(env):
    """A daemon that accepts and never answers: tpctl gives up with exit 4
    after --timeout, and after 30 s by default for a single request; wait,
    watch and explain wait for ever unless --timeout is given."""
    mute = env.path("mute.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(mute)
    ls.listen(64)  # the kernel accepts connections; nobody ever answers
    try:
        for args in (["list"], ["status", "1"], ["pause", "1"], ["info"],
                     ["wait", "1"], ["watch"], ["explain"],
                     ["add", _magnet()[0]]):
            t0 = time.monotonic()
            r = env.tpctl("--timeout", "0.5", *args, sock=mute, timeout=30)
            dt = time.monotonic() - t0
            check_eq(r.returncode, 4, "tpctl --timeout 0.5 %s on a mute daemon (%s)"
                     % (args[0], describe(r)))
            check(dt < 15, "tpctl --timeout 0.5 %s took %.1f s" % (args[0], dt))
            check("timeout" in r.stderr, "tpctl %s does not say it timed out: %r"
                  % (args[0], r.stderr))
        # The option after the command name works too.
        r = env.tpctl("list", "--timeout", "0.5", sock=mute, timeout=30)
        check_eq(r.returncode, 4, "tpctl list --timeout 0.5 (%s)" % describe(r))
        r = env.tpctl("--timeout", "0", "list", sock=mute, timeout=30)
        check_eq(r.returncode, 2, "tpctl --timeout 0 (%s)" % describe(r))
        # The default for a single request: 30 s.
        t0 = time.monotonic()
        r = env.tpctl("list", sock=mute, timeout=120)
        dt = time.monotonic() - t0
        check_eq(r.returncode, 4, "tpctl list on a mute daemon (%s)" % describe(r))
        check(29 <= dt < 90, "tpctl list gave up after %.1f s, not 30" % dt)
        # watch has no default limit: still running after 3 s.
        proc = subprocess.Popen([T.tpctl_bin(), "-s", mute, "watch"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        T._PROCS.append(proc)
        try:
            proc.wait(timeout=3)
            T.fail("tpctl watch on a mute daemon exited by itself (%s)" % proc.returncode)
        except subprocess.TimeoutExpired:
            pass
        proc.kill()
        proc.wait(timeout=10)
    finally:
        ls.close()
    # Against a real daemon, --timeout does not get in the way.
    d = env.start_daemon()
    r = env.tpctl("--timeout", "20", "list")
    check_eq(r.returncode, 0, "tpctl --timeout 20 list (%s)" % describe(r))


if __name__ == "__main__":
    T.main()
