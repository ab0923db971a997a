"""swarm - hosts in network namespaces, for tests and benchmarks.

Owns a private network made of Linux network namespaces: one namespace for
a bridge and one per host, each host joined to the bridge by a veth pair,
each with its own address in 10.77.0.0/24 and its loopback up.  Nothing is
created in, or routed to, the namespace this program runs in: the veth
pairs are made inside the bridge's namespace and their far ends moved
straight into the hosts, so a swarm can only ever speak to itself.

    sw = swarm.Swarm(3, workdir)          # hosts sw.hosts[0..2], sw.bridge
    sw.shape(sw.hosts[0], "100mbit")      # optional tbf, both directions
    t = sw.tracker(sw.bridge)             # opentracker, whitelist-only
    d = sw.tpd(sw.hosts[0], "seed")       # build/tpd on its defaults
    a = sw.aria2c(sw.hosts[1], "a", torrent, data_dir, seed=False)
    ...
    sw.close()                            # kills them, removes namespaces

Namespaces are named tpsw-PID-N-ROLE (PID: the creating process).  They are
removed by close(), at interpreter exit (atexit) and on SIGTERM/SIGINT/
SIGHUP; a run killed with SIGKILL leaves them behind, and the next Swarm
removes every tpsw-* namespace whose PID is gone (with whatever still runs
in it).  Where namespaces cannot be made (not root, no `ip`, a kernel or
container that refuses) the constructor raises Unavailable with the reason;
test files turn it into a skip.

Shaping is tc's tbf (netem does not exist in every kernel): a host's egress
on its own veth end, its ingress on the bridge's end.

Runs in the test's (or the benchmark's) main thread; Python 3 standard
library only, so bench/bench.py can import it without the test harness.
Nothing here sleeps to synchronise: every wait polls a condition until a
deadline.
"""

import atexit
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

# tests/ itself: whoever imports this package put it on sys.path.
from wltracker import WhitelistTracker  # noqa: E402
from filetools import sha1_file, tail  # noqa: E402,F401

PREFIX = "tpsw"
SUBNET = "10.77.0"
BRIDGE_ADDR = SUBNET + ".254"
TRACKER_PORT = 6969
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


class Unavailable(Exception):
    """Network namespaces cannot be made here; the reason is the message."""


class Broken(Exception):
    """Something in the swarm did not work (a process died, a deadline
    passed); the message says what."""


def wait_until(pred, timeout, what, interval=0.05):
    """Polls pred() until true, at most timeout seconds, else Broken."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise Broken("timed out after %.0f s waiting for %s%s"
                         % (timeout, what, " (last error: %s)" % last if last else ""))
        select.select([], [], [], interval)


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise Broken("ip %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def _netns_list():
    r = _ip("netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_netns(name):
    """Kills what runs in the namespace, then deletes it."""
    r = _ip("netns", "pids", name, check=False)
    for tok in r.stdout.split():
        try:
            os.kill(int(tok), signal.SIGKILL)
        except (ValueError, OSError):
            pass
    _ip("netns", "del", name, check=False)


def cleanup_stale():
    """Removes the namespaces of dead runs (tpsw-PID-... whose PID is gone)."""
    for name in _netns_list():
        parts = name.split("-")
        if len(parts) < 3 or parts[0] != PREFIX or not parts[1].isdigit():
            continue
        if not _pid_alive(int(parts[1])):
            _remove_netns(name)


_LIVE = []  # every Swarm not yet closed, for atexit and signals
_COUNTER = [0]


def _close_all():
    for sw in list(_LIVE):
        sw.close()


def _on_signal(signum, frame):
    _close_all()
    # The default action after the clean-up: the caller's own handler (the
    # test harness unwinds on SIGTERM) or death by the signal.
    prev = _PREV_HANDLERS.get(signum)
    if callable(prev):
        prev(signum, frame)
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


_PREV_HANDLERS = {}
atexit.register(_close_all)


def _install_handlers():
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        cur = signal.getsignal(s)
        if cur is _on_signal:
            continue
        _PREV_HANDLERS[s] = cur if cur not in (signal.SIG_IGN, None) else None
        if s == signal.SIGINT and cur is signal.default_int_handler:
            _PREV_HANDLERS[s] = cur
        signal.signal(s, _on_signal)


class Host:
    """One namespace: its name, its address, and processes run in it."""

    def __init__(self, swarm, ns, addr, index, bridge_if=None):
        self.swarm = swarm
        self.ns = ns
        self.addr = addr
        self.index = index
        self.bridge_if = bridge_if  # its veth end in the bridge namespace
        self.name = "h%d" % index if index >= 0 else "bridge"

    def argv(self, argv):
        return ["ip", "netns", "exec", self.ns] + list(argv)

    def run(self, argv, timeout=60, check=True, **kw):
        """Runs argv inside the namespace to completion (text output)."""
        r = subprocess.run(self.argv(argv), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise Broken("%s on %s: exit %d: %s" % (" ".join(argv), self.name,
                                                      r.returncode, r.stderr.strip()[-500:]))
        return r

    def spawn(self, argv, name, env=None, cwd=None):
        """Starts argv inside the namespace; output goes to logs/NAME.log."""
        return self.swarm.spawn(self, argv, name, env=env, cwd=cwd)

    def http_get(self, url, timeout=5):
        """GET from inside the namespace (the test's own namespace cannot
        reach the swarm): the body as bytes."""
        r = subprocess.run(self.argv(["curl", "-sS", "--max-time", str(timeout),
                                      "-o", "-", url]),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout + 10)
        if r.returncode != 0:
            raise OSError("curl %s: %s" % (url, r.stderr.decode(errors="replace").strip()))
        return r.stdout

    def tcp_peers(self, port=None):
        """Remote addresses of this host's established TCP connections
        (optionally only those on local port `port`), from the kernel."""
        r = self.run(["ss", "-Htn", "state", "established"], timeout=20)
        out = set()
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) < 4:
                continue
            local, remote = f[-2], f[-1]
            if port is not None and not local.endswith(":%d" % port):
                continue
            out.add(remote.rsplit(":", 1)[0].strip("[]"))
        return out

    def link(self, up):
        """Sets this host's link (its veth end on the bridge) up or down."""
        self.swarm.bridge_ip("link", "set", self.bridge_if, "up" if up else "down")


class Proc:
    """A process started in a host, with its log."""

    def __init__(self, host, name, popen, log):
        self.host = host
        self.name = name
        self.p = popen
        self.log = log
        # A daemon (tpd) must exit 0 on SIGTERM when the swarm closes;
        # done: the caller already stopped or killed it on purpose.
        self.graceful = False
        self.done = False

    def alive(self):
        return self.p.poll() is None

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Broken("%s on %s did not exit within %.0f s:\n%s"
                         % (self.name, self.host.name, timeout, tail(self.log)))

    def stop(self, grace=15):
        """SIGTERM, then SIGKILL after `grace` s; the exit status."""
        self.done = True
        if self.p.poll() is None:
            try:
                self.p.send_signal(signal.SIGTERM)
                return self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.p.kill()
            except ProcessLookupError:
                pass
        try:
            return self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None

    def kill9(self):
        self.done = True
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(timeout=10)


class Swarm:
    """N hosts on a bridge, each in its own network namespace."""

    def __init__(self, n, workdir, build=None):
        if os.geteuid() != 0:
            raise Unavailable("network namespaces need root (ip netns)")
        if shutil.which("ip") is None:
            raise Unavailable("the ip command (iproute2) is not installed")
        self.workdir = workdir
        self.logs = os.path.join(workdir, "logs")
        os.makedirs(self.logs, exist_ok=True)
        b = build or os.environ.get("TPD_BUILD", "build")
        self.build = b if os.path.isabs(b) else os.path.join(REPO, b)
        self.procs = []
        self.namespaces = []
        self.closed = False
        self.problems = []  # daemons that died, or did not exit 0 on SIGTERM
        cleanup_stale()
        _COUNTER[0] += 1
        base = "%s-%d-%d" % (PREFIX, os.getpid(), _COUNTER[0])
        _install_handlers()
        _LIVE.append(self)
        try:
            br_ns = base + "-br"
            r = _ip("netns", "add", br_ns, check=False)
            if r.returncode != 0:
                raise Unavailable("ip netns add is not permitted here: %s"
                                  % r.stderr.strip())
            self.namespaces.append(br_ns)
            self.bridge = Host(self, br_ns, BRIDGE_ADDR, -1)
            self.bridge_ip("link", "set", "lo", "up")
            self.bridge_ip("link", "add", "br0", "type", "bridge")
            self.bridge_ip("addr", "add", BRIDGE_ADDR + "/24", "dev", "br0")
            self.bridge_ip("link", "set", "br0", "up")
            self.hosts = []
            for i in range(1, n + 1):
                self.hosts.append(self._add_host(base, i))
        except BaseException:
            self.close()
            raise

    def bridge_ip(self, *args):
        return _ip("-n", self.bridge.ns, *args)

    def _add_host(self, base, i):
        ns = "%s-h%d" % (base, i)
        _ip("netns", "add", ns)
        self.namespaces.append(ns)
        addr = "%s.%d" % (SUBNET, i)
        vb = "v%d" % i
        # Both ends are made in the bridge's namespace; the host's end
        # moves straight into the host: the caller's namespace never holds
        # either.
        self.bridge_ip("link", "add", vb, "type", "veth", "peer", "name", "eth0",
                       "netns", ns)
        self.bridge_ip("link", "set", vb, "master", "br0")
        self.bridge_ip("link", "set", vb, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "addr", "add", addr + "/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        # Multicast (local peer discovery, UPnP's SSDP) goes out on the
        # bridge; without a route the kernel refuses to send it.  There is
        # no default route: nothing can leave the swarm.
        _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        return Host(self, ns, addr, i, bridge_if=vb)

    def shape(self, host, rate, burst="64kb", latency="50ms"):
        """tbf at `rate` (tc syntax, e.g. 100mbit) on both directions of a
        host's link.

        The defaults model a real 100 Mbit/s link fairly: a 64 KiB bucket
        is about 5 ms of traffic (a burst a switch port passes at line
        rate), and 50 ms of queue (tbf's latency, here about 625 KB) is
        what a home router or a switch buffers.  A much smaller queue makes
        TCP lose packets and back off on every burst of several flows; a
        much larger one adds hundreds of milliseconds of round trip that a
        BitTorrent request pipeline then has to cover.  Measured with these
        values, six hosts, 256 MiB: 0 to about 3,000 packets dropped per
        host link over the whole transfer, of 100,000-330,000 sent."""
        for ns, dev in ((host.ns, "eth0"), (self.bridge.ns, host.bridge_if)):
            r = subprocess.run(["tc", "-n", ns, "qdisc", "replace", "dev", dev, "root",
                                "tbf", "rate", rate, "burst", burst, "latency", latency],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=30)
            if r.returncode != 0:
                raise Broken("tc tbf on %s: %s" % (host.name, r.stderr.strip()))

    def spawn(self, host, argv, name, env=None, cwd=None):
        log = os.path.join(self.logs, name + ".log")
        with open(log, "ab") as f:
            p = subprocess.Popen(host.argv(argv), stdin=subprocess.DEVNULL,
                                 stdout=f, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        proc = Proc(host, name, p, log)
        self.procs.append(proc)
        return proc

    # ---------------------------------------------------------------- peers

    def tracker(self, host=None, addr=None):
        """opentracker on host (the bridge by default), on its address or
        on addr (e.g. 127.0.0.1: reachable only inside that host)."""
        return Tracker(self, host or self.bridge, addr)

    def tpd(self, host, name, extra=(), wait=True):
        return Tpd(self, host, name, list(extra), wait)

    def aria2c(self, host, name, torrent, data_dir, seed, extra=()):
        """aria2c on a host: a seeder (checks the data, seeds until
        stopped) or a leecher (exits 0 when done)."""
        argv = ["aria2c", "--no-conf=true", "--enable-dht=false",
                "--enable-dht6=false", "--bt-enable-lpd=false",
                "--disable-ipv6=true", "--listen-port=6881",
                "--dir=%s" % data_dir, "--check-integrity=true",
                "--bt-seed-unverified=false", "--file-allocation=none",
                "--summary-interval=0", "--console-log-level=warn",
                "--log=%s" % os.path.join(self.logs, name + ".detail"),
                "--log-level=info", "--stop-with-process=%d" % os.getpid(),
                "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=10"]
        argv += ["--seed-ratio=0.0"] if seed else ["--seed-time=0"]
        argv += list(extra) + [torrent]
        return self.spawn(host, argv, name)

    def libtorrent(self, host, name, mode, torrent, data_dir, seconds=600):
        """Plain libtorrent (lt_peer.py, system python) seeding or leeching;
        it prints "seeding" / "complete" to its log when there."""
        return self.spawn(host, ["/usr/bin/python3", os.path.join(HERE, "lt_peer.py"),
                                 mode, torrent, data_dir, str(seconds)], name)

    def transmission(self, host, name):
        return Transmission(self, host, name)

    def diagnostics(self, n=25):
        return "\n".join("--- %s on %s (%s) ---\n%s" % (p.name, p.host.name, p.log,
                                                        tail(p.log, n))
                         for p in self.procs)

    def close(self):
        """Stops every process, then removes every namespace (idempotent)."""
        if self.closed:
            return
        self.closed = True
        # Daemons first, politely: each must exit 0 (resume data saved,
        # and under ASan no leak reported).
        for p in self.procs:
            if p.graceful and not p.done:
                if not p.alive():
                    self.problems.append("%s on %s had died (exit status %s)"
                                         % (p.name, p.host.name, p.p.returncode))
                    continue
                rc = p.stop(grace=20)
                if rc != 0:
                    self.problems.append("%s on %s exited with %s on SIGTERM"
                                         % (p.name, p.host.name, rc))
        for p in self.procs:
            if p.alive():
                try:
                    p.p.kill()
                except OSError:
                    pass
        for p in self.procs:
            try:
                p.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for ns in reversed(self.namespaces):
            _remove_netns(ns)
        if self in _LIVE:
            _LIVE.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


class Tracker(WhitelistTracker):
    """opentracker on a host (by default the bridge), port 6969, with its
    whitelist (Debian's build is whitelist-only; it chroots into its
    directory and, started as root, drops to nobody)."""

    def __init__(self, swarm, host, addr=None):
        self.host = host
        addr = addr or host.addr
        self.dir = os.path.join(swarm.workdir, "tracker-" + host.name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self._init_whitelist(self.dir)
        self.url = "http://%s:%d" % (addr, TRACKER_PORT)
        self.announce = self.url + "/announce"
        self.proc = host.spawn(["opentracker", "-i", addr, "-p", str(TRACKER_PORT),
                                "-P", str(TRACKER_PORT), "-d", self.dir, "-w", "whitelist"],
                               "opentracker-" + host.name, cwd=self.dir)
        wait_until(self._up, 15, "opentracker on %s" % host.name)

    def _up(self):
        if not self.proc.alive():
            raise Broken("opentracker exited:\n" + tail(self.proc.log))
        self.host.http_get(self.url + "/stats", timeout=2)
        return True

    def _get(self, path):
        return self.host.http_get(self.url + path)

    def _signal(self, sig):
        self.proc.p.send_signal(sig)

    def _wait(self, pred, timeout, what):
        return wait_until(pred, timeout, what, interval=0.1)

    def wait_seeders(self, hex_hash, n=1, timeout=60):
        return wait_until(lambda: self.scrape(hex_hash).get("complete", 0) >= n,
                          timeout, "the tracker to count %d seeder(s)" % n, interval=0.2)


class Transmission:
    """transmission-daemon on a host, driven by transmission-remote inside
    the same namespace (its RPC listens there on 9091, peers on 51413; no
    DHT, LPD or port mapping: it finds peers through the tracker)."""

    RPC = "127.0.0.1:9091"

    def __init__(self, swarm, host, name):
        self.host = host
        self.name = name
        self.dir = os.path.join(swarm.workdir, name)
        self.config = os.path.join(self.dir, "config")
        self.downloads = os.path.join(self.dir, "downloads")
        os.makedirs(self.config, exist_ok=True)
        os.makedirs(self.downloads, exist_ok=True)
        self.proc = host.spawn(["transmission-daemon", "-f", "-g", self.config,
                                "-w", self.downloads, "-p", "9091", "-T", "-P", "51413",
                                "--no-dht", "--no-lpd", "-M", "-a", "127.0.0.1",
                                "--log-info"], name)
        wait_until(self._up, 30, "%s to answer RPC" % name, interval=0.2)

    def _up(self):
        if not self.proc.alive():
            raise Broken("%s exited:\n%s" % (self.name, tail(self.proc.log)))
        return self.remote("-l", check=False).returncode == 0

    def remote(self, *args, check=True):
        return self.host.run(["transmission-remote", self.RPC] + list(args),
                             timeout=30, check=check)

    def add(self, torrent, data_dir):
        """Adds a .torrent to download into (or seed from) data_dir."""
        r = self.remote("-a", torrent, "-w", data_dir)
        if "success" not in r.stdout:
            raise Broken("transmission-remote -a: %s %s" % (r.stdout, r.stderr))

    def percent(self):
        """Percent done of the (single) torrent, from `-t all -i`."""
        r = self.remote("-t", "all", "-i")
        for line in r.stdout.splitlines():
            line = line.strip()
            if line.startswith("Percent Done:"):
                v = line.split(":", 1)[1].strip().rstrip("%")
                return float(v) if v not in ("", "nan") else 0.0
        return 0.0

    def wait_done(self, timeout):
        return wait_until(lambda: self.percent() >= 100.0, timeout,
                          "%s to complete" % self.name, interval=0.3)


class Tpd:
    """build/tpd on a host with the product's network defaults (nothing
    but the socket, the state directory and the tick is set unless `extra`
    says so).  Patrons reach it through its Unix socket, which lives in the
    file system and so is reachable from outside the namespace."""

    def __init__(self, swarm, host, name, extra, wait):
        self.swarm = swarm
        self.host = host
        self.name = name
        self.dir = os.path.join(swarm.workdir, name)
        self.state = os.path.join(self.dir, "state")
        self.downloads = os.path.join(self.state, "downloads")
        os.makedirs(self.downloads, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "tpd.sock")
        self.extra = extra
        self.argv = [os.path.join(swarm.build, "tpd"), "-s", self.sock, "-d", self.state,
                     "--download-dir", self.downloads, "--tick", "200",
                     "--log-level", "info"] + extra
        self.start(wait)

    def start(self, wait=True):
        self.proc = self.host.spawn(self.argv, self.name)
        self.proc.graceful = True
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=30):
        def ready():
            if not self.proc.alive():
                raise Broken("%s exited with %s:\n%s" % (self.name, self.proc.p.returncode,
                                                        tail(self.proc.log)))
            return self.request({"op": "hello", "version": 1}, timeout=5)
        return wait_until(ready, timeout, "%s to answer hello" % self.name)

    def request(self, req, timeout=20):
        """Sends one request, returns its direct answer (a dict)."""
        req = dict(req)
        req.setdefault("tag", "sw%d" % id(req))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.sock)
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while True:
                nl = buf.find(b"\n")
                if nl >= 0:
                    ev = json.loads(buf[:nl])
                    buf = buf[nl + 1:]
                    if ev.get("tag") == req["tag"]:
                        return ev
                    continue
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("%s closed the connection" % self.name)
                buf += chunk

    def status(self, tid):
        ev = self.request({"op": "status", "id": tid})
        if ev.get("type") != "Status":
            raise Broken("status %d on %s: %s" % (tid, self.name, ev))
        return ev

    def tpctl(self, *args, timeout=60):
        return subprocess.run([os.path.join(self.swarm.build, "tpctl"), "-s", self.sock]
                              + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def add(self, torrent_path, save_dir, peers=()):
        """Adds a .torrent file (its bytes) or a magnet; returns the id."""
        import base64
        req = {"op": "create", "save_dir": save_dir}
        if torrent_path.startswith("magnet:"):
            req["magnet"] = torrent_path
        else:
            with open(torrent_path, "rb") as f:
                req["torrent"] = base64.b64encode(f.read()).decode()
        if peers:
            req["peers"] = list(peers)
        ev = self.request(req, timeout=60)
        if ev.get("type") != "NewTorrentCreated":
            raise Broken("create on %s: %s" % (self.name, ev))
        return ev["id"]

    def wait_complete(self, tid, timeout):
        def done():
            st = self.status(tid)
            if st.get("state") == "error":
                raise Broken("torrent %d on %s: %s" % (tid, self.name, st.get("error")))
            return st if st.get("progress") == 1 and st.get("state") in (
                "seeding", "finished") else None
        return wait_until(done, timeout, "torrent %d on %s to complete" % (tid, self.name),
                          interval=0.2)

    def kill9(self):
        self.proc.kill9()

    def stop(self):
        return self.proc.stop(grace=20)


def write_random_file(path, size, chunk=16 << 20):
    """Writes `size` pseudo-random bytes (fast: SHA-256 counter stream is
    too slow for 1 GiB, so os.urandom); returns their hex SHA-1."""
    h = hashlib.sha1()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            b = os.urandom(min(chunk, left))
            h.update(b)
            f.write(b)
            left -= len(b)
    return h.hexdigest()

