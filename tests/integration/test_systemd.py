"""test_systemd - tpd as systemd runs it, and what `make install` puts down.

- Socket activation: under systemd-socket-activate, tpd serves the socket
  it is handed (and creates none of its own).
- Readiness: with NOTIFY_SOCKET set to a datagram socket bound here, tpd
  sends READY=1 only once it answers on its socket with its saved torrents
  back, STATUS= lines while it runs, and STOPPING=1 on SIGTERM (then exits 0).
- The units pass `systemd-analyze verify` (ExecStart pointed at the built
  binary, since nothing is installed here); the sysusers and tmpfiles
  snippets are accepted by systemd-sysusers and systemd-tmpfiles in a
  scratch root; every key of systemd/tpd.conf.example is accepted by tpd.
- `make install DESTDIR=... PREFIX=/usr` installs the binaries, header,
  library, man pages and systemd files, and `man -l` renders both pages.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time

import tpdtest as T
from tpdtest import Patron, check, check_eq, describe, test

SYSTEMD_DIR = os.path.join(T.REPO, "systemd")


def _tpd_argv(env, state, extra=()):
    return [T.tpd_bin(), "-d", state, "--listen", "127.0.0.1:0",
            "--no-dht", "--no-lsd", "--no-upnp", "--log-level", "debug"] + list(extra)


def _connect_retry(sock_path, proc, log, timeout=30):
    def connect():
        if proc.poll() is not None:
            T.fail("the daemon exited with %s:\n%s" % (proc.returncode, T.tail(log)))
        try:
            return Patron(sock_path, timeout=20)
        except (FileNotFoundError, ConnectionRefusedError):
            return None
    return T.wait_until(connect, timeout, "%s to accept connections" % sock_path,
                        interval=0.02)


def _wait_exit(proc, log, timeout=30):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        T.fail("the daemon did not exit within %d s of SIGTERM:\n%s" % (timeout, T.tail(log)))


@test
def test_socket_activation(env):
    exe = shutil.which("systemd-socket-activate")
    if not exe:
        raise T.TestSkip("systemd-socket-activate is not installed")
    d = env.mkdir("sa")
    sock = os.path.join(d, "tpd.sock")
    default_sock = os.path.join(d, "default.sock")
    state = os.path.join(d, "state")
    log = os.path.join(env.logs, "tpd-activated.log")
    # TPD_SOCKET names where tpd would listen on its own: it must not.
    argv = [exe, "-l", sock, "-E", "TPD_SOCKET=" + default_sock] + _tpd_argv(env, state)
    proc = T.spawn(argv, log)
    env.procs.append(("tpd-activated", proc, log))
    T.wait_until(lambda: os.path.exists(sock) or proc.poll() is not None, 30,
                 "systemd-socket-activate to create %s" % sock)
    check(proc.poll() is None, "systemd-socket-activate exited with %s:\n%s"
          % (proc.returncode, T.tail(log)))
    ino = os.stat(sock).st_ino
    r = env.tpctl("info", sock=sock, json_mode=True)
    check(r.returncode == 0, "tpctl -s %s info through the activated socket: %s"
          % (sock, describe(r)))
    info = [e for e in T.json_lines(r.stdout) if e["type"] == "Info"]
    check_eq(len(info), 1, "Info events from tpctl --json info")
    check_eq(info[0].get("pid"), proc.pid,
             "pid in Info (systemd-socket-activate execs the daemon in place)")
    check(not os.path.exists(default_sock),
          "tpd created its own socket %s although it was handed one" % default_sock)
    check_eq(os.stat(sock).st_ino, ino, "inode of the activated socket (tpd replaced it)")
    # A second patron on the same socket, with the wire protocol.
    with Patron(sock) as p:
        check_eq(p.call("hello", version=1).get("type"), "Hello", "answer to hello")
        magnet = "magnet:?xt=urn:btih:%s&dn=sa" % os.urandom(20).hex()
        p.expect("create", "NewTorrentCreated", magnet=magnet)
    proc.send_signal(signal.SIGTERM)
    rc = _wait_exit(proc, log)
    check_eq(rc, 0, "exit status of the socket-activated tpd after SIGTERM")


class NotifySocket:
    """The receiving end of sd_notify(): an AF_UNIX datagram socket."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.messages = []   # (monotonic time, {key: value}) in arrival order

    def close(self):
        self.s.close()

    def wait_for(self, key, timeout, value=None):
        """Reads datagrams until one has KEY (=value); returns its fields."""
        for _, m in self.messages:
            if key in m and (value is None or m[key] == value):
                return m
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                T.fail("no %s%s from the daemon within %.0f s; got: %s"
                       % (key, "=" + value if value else "", timeout,
                          [m for _, m in self.messages]))
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                continue
            data = self.s.recv(65536).decode("utf-8", "replace")
            fields = {}
            for line in data.split("\n"):
                if "=" in line:
                    k, _, v = line.partition("=")
                    fields[k] = v
            self.messages.append((time.monotonic(), fields))
            if key in fields and (value is None or fields[key] == value):
                return fields


@test
def test_notify_ready_status_stopping(env):
    # Saved torrents first, so that READY=1 has something to wait for.
    d0 = env.start_daemon("first")
    with d0.patron() as p:
        saved = [p.expect("create", "NewTorrentCreated",
                          magnet="magnet:?xt=urn:btih:%s&dn=n%d" % (os.urandom(20).hex(), i))["id"]
                 for i in range(5)]
    problems = d0.stop()
    check(not problems, "; ".join(problems))

    ns = NotifySocket(env.path("notify.sock"))
    try:
        e = dict(os.environ)
        e["NOTIFY_SOCKET"] = ns.path
        log = os.path.join(env.logs, "tpd-notify.log")
        argv = _tpd_argv(env, d0.state, ["-s", d0.sock, "--download-dir", d0.downloads])
        proc = T.spawn(argv, log, env=e)
        env.procs.append(("tpd-notify", proc, log))

        ready = ns.wait_for("READY", 60, "1")
        check(proc.poll() is None, "tpd exited after READY=1")
        # Ready means ready: one connect, no retry.
        try:
            p = Patron(d0.sock, timeout=20)
        except OSError as ex:
            T.fail("READY=1 was sent but connecting to %s fails: %s" % (d0.sock, ex))
        with p:
            check_eq(p.call("hello", version=1).get("type"), "Hello",
                     "answer to hello right after READY=1")
            info = p.expect("info", "Info")
            check_eq(info.get("loading"), False, "Info.loading right after READY=1")
            listed = [t["id"] for t in p.list()]
            check_eq(listed, saved, "torrents listed right after READY=1")
        check_eq(info.get("pid"), proc.pid, "pid in Info")
        if "MAINPID" in ready:
            check_eq(ready["MAINPID"], str(proc.pid), "MAINPID in the READY message")

        status = ns.wait_for("STATUS", 15)
        check(status["STATUS"].strip(), "empty STATUS= line")

        proc.send_signal(signal.SIGTERM)
        ns.wait_for("STOPPING", 30, "1")
        rc = _wait_exit(proc, log)
        check_eq(rc, 0, "exit status after SIGTERM")
        order = [k for _, m in ns.messages for k in m if k in ("READY", "STOPPING")]
        check_eq(order, ["READY", "STOPPING"], "order of READY and STOPPING messages")
    finally:
        ns.close()


def _units_for_verify(env):
    """Copies of the units with ExecStart pointing at the built tpd: verify
    insists that the executable exists, and nothing is installed here."""
    d = env.mkdir("units")
    with open(os.path.join(SYSTEMD_DIR, "tpd.service")) as f:
        svc = f.read()
    check("ExecStart=/usr/sbin/tpd " in svc,
          "tpd.service has no ExecStart=/usr/sbin/tpd")
    with open(os.path.join(d, "tpd.service"), "w") as f:
        f.write(svc.replace("/usr/sbin/tpd", T.tpd_bin()))
    shutil.copy(os.path.join(SYSTEMD_DIR, "tpd.socket"), d)
    return d


def _unit_settings(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


@test
def test_units_verify(env):
    if not shutil.which("systemd-analyze"):
        print("  systemd-analyze is not installed: `systemd-analyze verify` not run",
              flush=True)
        raise T.TestSkip("systemd-analyze is not installed")
    d = _units_for_verify(env)
    # --man=no: the Documentation= pages are checked by the install test.
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", "./tpd.service",
                        "./tpd.socket"], cwd=d, capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    ours = [ln for ln in (r.stdout + r.stderr).splitlines() if "tpd" in ln]
    check(r.returncode == 0 and not ours,
          "systemd-analyze verify tpd.service tpd.socket: " + describe(r))

    svc = _unit_settings(os.path.join(d, "tpd.service"))
    for k, v in (("Type", "notify"), ("User", "tpd"), ("Group", "tpd"),
                 ("StateDirectory", "tpd"), ("RuntimeDirectory", "tpd"),
                 ("ConfigurationDirectory", "tpd"), ("KillSignal", "SIGTERM"),
                 ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                 ("RuntimeDirectoryPreserve", "yes")):
        check_eq(svc.get(k), [v], "%s= in tpd.service" % k)
    check(svc.get("ExecStart", [""])[0].split()[0] == T.tpd_bin(),
          "ExecStart= does not start tpd: %s" % svc.get("ExecStart"))
    sock = _unit_settings(os.path.join(d, "tpd.socket"))
    check_eq(sock.get("ListenStream"), ["/run/tpd/tpd.sock"], "ListenStream= in tpd.socket")
    check_eq(sock.get("SocketMode"), ["0660"], "SocketMode= in tpd.socket")
    check_eq(sock.get("SocketGroup"), ["tpd"], "SocketGroup= in tpd.socket")
    # The -s in ExecStart and the socket unit name the same path.
    check("/run/tpd/tpd.sock" in svc["ExecStart"][0],
          "ExecStart= and ListenStream= name different sockets")


@test
def test_sysusers_and_tmpfiles(env):
    sysusers = shutil.which("systemd-sysusers")
    tmpfiles = shutil.which("systemd-tmpfiles")
    if not sysusers or not tmpfiles:
        raise T.TestSkip("systemd-sysusers or systemd-tmpfiles is not installed")
    root = env.mkdir("root")
    os.makedirs(os.path.join(root, "etc"))
    r = subprocess.run([sysusers, "--root", root, os.path.join(SYSTEMD_DIR, "tpd.sysusers")],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, "systemd-sysusers tpd.sysusers: " + describe(r))
    with open(os.path.join(root, "etc", "passwd")) as f:
        users = [ln.split(":") for ln in f.read().splitlines()]
    tpd = [u for u in users if u[0] == "tpd"]
    check_eq(len(tpd), 1, "tpd lines in the scratch root's /etc/passwd")
    check_eq(tpd[0][5], "/var/lib/tpd", "home of user tpd")
    uid = int(tpd[0][2])
    check(0 < uid < 1000, "user tpd is not a system user: uid %d" % uid)

    r = subprocess.run([tmpfiles, "--root", root, "--create",
                        os.path.join(SYSTEMD_DIR, "tpd.tmpfiles")],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, "systemd-tmpfiles --create tpd.tmpfiles: " + describe(r))
    dl = os.path.join(root, "var", "lib", "tpd", "downloads")
    check(os.path.isdir(dl), "systemd-tmpfiles did not create %s" % dl)
    st = os.stat(dl)
    check_eq(oct(st.st_mode & 0o7777), oct(0o755), "mode of /var/lib/tpd/downloads")
    check_eq(st.st_uid, uid, "owner of /var/lib/tpd/downloads")


@test
def test_config_example_is_accepted(env):
    """Every key of tpd.conf.example, uncommented, is one tpd knows."""
    with open(os.path.join(SYSTEMD_DIR, "tpd.conf.example")) as f:
        text = f.read()
    keys = re.findall(r"^#([a-z][a-z-]*) = (\S.*)$", text, re.M)
    check(len(keys) >= 10, "tpd.conf.example shows only %d settings" % len(keys))
    conf = env.path("tpd.conf")
    with open(conf, "w") as f:
        f.write(re.sub(r"^#([a-z][a-z-]* = )", r"\1", text, flags=re.M))
    # The command line (socket, state, loopback listen, no DHT...) wins.
    d = env.start_daemon(extra=["--config", conf])
    with d.patron() as p:
        check_eq(p.call("hello").get("type"), "Hello", "answer to hello")
    # SIGHUP re-reads the file and keeps the daemon running.
    d.proc.send_signal(signal.SIGHUP)
    T.wait_until(lambda: "SIGHUP" in open(d.log, errors="replace").read(), 20,
                 "the daemon to log the SIGHUP reload")
    check("keeping the old settings" not in open(d.log, errors="replace").read(),
          "SIGHUP rejected the example config:\n" + T.tail(d.log, 10))
    d.wait_ready()


EXPECTED_INSTALL = {
    "usr/sbin/tpd": 0o755,
    "usr/bin/tpctl": 0o755,
    "usr/bin/tpweb": 0o755,
    "usr/share/man/man1/tpweb.1": 0o644,
    "usr/lib/systemd/user/tpweb.service": 0o644,
    "usr/share/tpd/web/index.html": 0o644,
    "usr/share/tpd/web/app.js": 0o644,
    "usr/share/tpd/web/app.css": 0o644,
    "usr/include/tpclient.h": 0o644,
    "usr/lib/libtpclient.a": 0o644,
    "usr/lib/pkgconfig/tpclient.pc": 0o644,
    "usr/share/man/man8/tpd.8": 0o644,
    "usr/share/man/man1/tpctl.1": 0o644,
    "usr/lib/systemd/system/tpd.service": 0o644,
    "usr/lib/systemd/system/tpd.socket": 0o644,
    "usr/lib/sysusers.d/tpd.conf": 0o644,
    "usr/lib/tmpfiles.d/tpd.conf": 0o644,
    "usr/share/doc/tpd/tpd.conf.example": 0o644,
    "usr/share/doc/tpd/PROTOCOL.md": 0o644,
}


@test
def test_make_install(env):
    dest = env.mkdir("destdir")
    r = subprocess.run(["make", "-s", "install", "DESTDIR=" + dest, "PREFIX=/usr",
                        "BUILD=" + T.build_dir()], cwd=T.REPO, capture_output=True,
                       text=True, timeout=600, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, "make install DESTDIR=%s PREFIX=/usr: %s" % (dest, describe(r)))
    missing = []
    for rel, mode in sorted(EXPECTED_INSTALL.items()):
        p = os.path.join(dest, rel)
        if not os.path.isfile(p):
            missing.append(rel)
            continue
        check_eq(oct(os.stat(p).st_mode & 0o777), oct(mode), "mode of " + rel)
    found = sorted(os.path.relpath(os.path.join(dp, f), dest)
                   for dp, _, fs in os.walk(dest) for f in fs)
    check(not missing, "make install did not install %s; it installed %s" % (missing, found))

    with open(os.path.join(dest, "usr/lib/systemd/system/tpd.service")) as f:
        svc = f.read()
    check(re.search(r"@[A-Z_]+@", svc) is None,
          "an unsubstituted @...@ placeholder in the installed tpd.service")
    check(re.search(r"^ExecStart=/usr/sbin/tpd\b", svc, re.M) is not None,
          "the installed tpd.service does not start /usr/sbin/tpd")
    r = subprocess.run([os.path.join(dest, "usr/sbin/tpd"), "--version"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "tpd" in r.stdout, "installed tpd --version: " + describe(r))
    # The installed tpweb looks for its page where make install put it.
    r = subprocess.run([os.path.join(dest, "usr/bin/tpweb"), "--help"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "--web-root /usr/share/tpd/web" in r.stdout,
          "installed tpweb --help does not name /usr/share/tpd/web: " + describe(r))

    if not shutil.which("man"):
        raise T.TestSkip("man is not installed: pages installed but not rendered")
    for rel, name in (("usr/share/man/man8/tpd.8", "tpd"),
                      ("usr/share/man/man1/tpctl.1", "tpctl"),
                      ("usr/share/man/man1/tpweb.1", "tpweb")):
        e = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
        r = subprocess.run(["man", "-l", os.path.join(dest, rel)], capture_output=True,
                           text=True, timeout=60, env=e, stdin=subprocess.DEVNULL)
        check(r.returncode == 0 and not r.stderr.strip(),
              "man -l %s: %s" % (rel, describe(r)))
        check(name.upper() in r.stdout and len(r.stdout.splitlines()) > 20,
              "man -l %s rendered almost nothing: %r" % (rel, r.stdout[:500]))

    # The installed library and header serve a C patron built the way the
    # README says (client/examples/add.c, through pkg-config).
    pc = dict(os.environ, PKG_CONFIG_PATH=os.path.join(dest, "usr/lib/pkgconfig"),
              PKG_CONFIG_SYSROOT_DIR=dest)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "tpclient"], env=pc,
                           capture_output=True, text=True, timeout=30)
    check(flags.returncode == 0, "pkg-config tpclient: " + describe(flags))
    exe = env.path("add")
    # Under `make test-asan` the library is instrumented: link alike.
    san = os.environ.get("SAN", "").split()
    r = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror"] + san
                       + [os.path.join(T.REPO, "client/examples/add.c"), "-o", exe]
                       + flags.stdout.split(), capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "building client/examples/add.c: " + describe(r))
    d = env.start_daemon()
    magnet = "magnet:?xt=urn:btih:%s&dn=example" % os.urandom(20).hex()
    r = subprocess.run([exe, magnet], env=dict(os.environ, TPD_SOCKET=d.sock),
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, "client/examples/add: " + describe(r))
    ev = json.loads(r.stdout)
    check_eq((ev.get("type"), ev.get("name")), ("NewTorrentCreated", "example"),
             "answer printed by client/examples/add")

    # make uninstall takes back every file make install put down.
    r = subprocess.run(["make", "-s", "uninstall", "DESTDIR=" + dest, "PREFIX=/usr",
                        "BUILD=" + T.build_dir()], cwd=T.REPO, capture_output=True,
                       text=True, timeout=120, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, "make uninstall: " + describe(r))
    left = [os.path.join(root, n) for root, _, files in os.walk(dest) for n in files]
    check(not left, "make uninstall left files: %s" % left)


@test
def test_sighup_applies_runtime_settings(env):
    """SIGHUP re-reads the config file: a new default tracker is used by the
    next seed, and a new max-pending is enforced at once."""
    conf = env.path("tpd.conf")
    with open(conf, "w") as f:
        f.write("tracker = http://127.0.0.1:1/announce\n")
    d = env.start_daemon(extra=["--config", conf])
    data = env.path("one.bin")
    T.write_random_file(data, 50000)

    def seed_announce(path, out):
        with d.patron() as p:
            ev = p.call("seed", path=path, torrent_out=out)
        check_eq(ev.get("type"), "NewTorrentCreated", "answer to seed of %s" % path)
        with open(out, "rb") as f:
            return T.bdecode(f.read()).get(b"announce")

    check_eq(seed_announce(data, env.path("one.torrent")),
             b"http://127.0.0.1:1/announce", "announce before SIGHUP")
    with open(conf, "w") as f:
        f.write("tracker = http://127.0.0.1:2/announce\nmax-pending = 1\n")
    d.proc.send_signal(signal.SIGHUP)
    T.wait_until(lambda: "SIGHUP: reloaded" in open(d.log, errors="replace").read(),
                 20, "the daemon to log the SIGHUP reload")
    data2 = env.path("two.bin")
    T.write_random_file(data2, 50000)
    check_eq(seed_announce(data2, env.path("two.torrent")),
             b"http://127.0.0.1:2/announce", "announce after SIGHUP")
    # max-pending 1: a second create sent before the first is answered
    # is refused with busy.
    # The first create stays pending: its URL is a server that never
    # answers (listening, never accepting).
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(1)
    with d.patron() as p:
        p.send({"op": "create", "tag": "a",
                "url": "http://127.0.0.1:%d/x" % mute.getsockname()[1]})
        p.send({"op": "create", "tag": "b", "magnet":
                "magnet:?xt=urn:btih:" + os.urandom(20).hex()})
        b = p.answer("b")
        check_eq((b.get("type"), b.get("code")), ("Error", "busy"),
                 "second pending create after SIGHUP set max-pending 1")
    mute.close()


@test
def test_sighup_names_what_needs_a_restart(env):
    """A reloaded file that changes a setting read only at start (here the
    worker count and the resume interval) says so in the log, by name;
    an unchanged one is not named."""
    conf = env.path("tpd.conf")
    with open(conf, "w") as f:
        f.write("workers = 2\nresume-interval = 30\n")
    d = env.start_daemon(extra=["--config", conf])
    with open(conf, "w") as f:
        f.write("workers = 3\nresume-interval = 30\n")
    d.proc.send_signal(signal.SIGHUP)
    want = "SIGHUP: workers changed; it takes effect at a restart"
    T.wait_until(lambda: want in open(d.log, errors="replace").read(), 20,
                 "the daemon to log %r" % want)
    log = open(d.log, errors="replace").read()
    check("resume-interval changed" not in log,
          "an unchanged setting was named: " + T.tail(d.log, 10))
    check(d.alive(), "tpd died on SIGHUP")


@test
def test_session_set_shows_in_info(env):
    """info shows the switches the engine runs with: what session_set
    changed is there in the next info, on any connection."""
    d = env.start_daemon()
    info = d.info()
    check_eq((info.get("encryption"), info.get("pex"), info.get("utp")),
             ("prefer", True, True), "info's peer side at start")
    with d.patron() as p:
        p.expect("session_set", "Session", encryption="forced", pex=False,
                 utp=False)
    info = d.info()
    check_eq((info.get("encryption"), info.get("pex"), info.get("utp")),
             ("require", False, False), "info's peer side after session_set")


@test
def test_sighup_applies_the_peer_side(env):
    """SIGHUP applies the listen address, encryption, PEX, uTP, the DHT
    bootstrap nodes and the download directory; info then shows them, a
    new torrent goes to the new directory and the new port answers.  A
    key session_set changed keeps its value, and the log says why."""
    conf = env.path("tpd.conf")
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:0\n")
    d = env.start_daemon(extra=["--config", conf], listen=None,
                         download_dir=False)
    info = d.info()
    check_eq((info.get("listen"), info.get("encryption"), info.get("pex"),
              info.get("lsd")), ("127.0.0.1:0", "prefer", True, False),
             "info at start")
    with d.patron() as p:
        p.expect("session_set", "Session", lsd=True)
    port = T.free_port()
    newdir = env.mkdir("elsewhere", mode=0o755)
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:%d\nencryption = require\n"
                "pex = no\nutp = no\ndownload-dir = %s\n"
                "dht-bootstrap = 127.0.0.1:9\n" % (port, newdir))
    d.proc.send_signal(signal.SIGHUP)
    want = {"listen": "127.0.0.1:%d" % port, "listen_port": port,
            "encryption": "require", "pex": False, "utp": False,
            "download_dir": newdir, "lsd": True}

    def applied():
        got = d.info()
        return all(got.get(k) == v for k, v in want.items())
    T.wait_until(applied, 20, "info to show the reloaded settings %r" % want)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.close()
    with d.patron() as p:
        ev = p.expect("create", "NewTorrentCreated", paused=True,
                      magnet="magnet:?xt=urn:btih:" + os.urandom(20).hex())
        st = p.expect("status", "Status", id=ev["id"])
    check_eq(st.get("save_path"), newdir, "a new torrent's directory")
    log = open(d.log, errors="replace").read()
    for line in ("SIGHUP: listen now 127.0.0.1:%d" % port,
                 "SIGHUP: dht-bootstrap now 127.0.0.1:9",
                 "SIGHUP: lsd stays true: session_set changed it"):
        check(line in log, "no %r in the log: %s" % (line, T.tail(d.log, 20)))
    check("changed; it takes effect at a restart" not in log,
          "a setting applied at once was said to need a restart: "
          + T.tail(d.log, 20))


if __name__ == "__main__":
    T.main()
