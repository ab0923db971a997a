"""bench - the side-by-side benchmarks of `make bench` (SPEC section 7).

Owns the whole run that bench/run.sh starts: a temporary directory, an
opentracker, tpd daemons, aria2c and plain-libtorrent peers, all on
127.0.0.1, and the table printed at the end.  Each row times tpd and the
alternative on the same work in this same run and prints the ratio; timings
never fail the run.  The exit status is 1 only when something broke (a copy
that differs, a process that failed, a deadline passed).

Rows:
  1. SIZE MiB over loopback through the tracker: tpd->tpd, aria2c->aria2c,
     libtorrent->libtorrent (default settings; skipped without the binding).
  2. tpd downloading from an aria2c seeder, against aria2c from the same one.
  3. Making and seeding SIZE MiB: `tpctl seed` (until NewTorrentCreated)
     against mktorrent -l (v1, same piece size), the file in page cache.
  4. RPC: 64 patrons issuing status/list: requests/s, p50/p99 latency;
     against aria2c's JSON-RPC (tellActive/tellStatus) with the same load.
  5. The scale rows of SPEC section 11, targets printed beside them:
     TORRENTS small .torrent creates pipelined over one connection (at
     most 1024 unanswered), `list` of all, RSS, SIGTERM and restart until
     all are listed, against transmission-daemon's RPC (torrent-add,
     torrent-get) on the same files; TORRENTS magnets over 4 connections;
     the same with BENCH_BIG (100,000) torrents, tpd only by default.
  6-7. Between network-namespace hosts on the defaults (bench/hosts.py):
     SIZE MiB between two hosts, tpd->tpd against aria2c->aria2c; 1 seeder
     + 5 leechers on 100 Mbit/s links (BENCH_SWARM_MIB, 256), tpd against
     aria2c.  Skipped without root or `ip netns`.

Environment: BENCH_SIZE_MIB (1024), BENCH_TORRENTS (10000),
BENCH_PATRONS (64), BENCH_RPC_REQUESTS (requests per patron, 500),
BENCH_KEEP=1 keeps the temporary directory, BENCH_ROWS=4,5 runs only
those rows, BENCH_BIG (100000; 0 = none) the size of the big row of 5,
BENCH_BIG_ALT=1 runs transmission-daemon there too.  Nothing sleeps to
synchronise: every wait is on an event or a polled condition with a deadline.
"""

import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from bencode import bencode  # noqa: E402  (tests/bencode.py; restart.py takes it from here)
from wltracker import WhitelistTracker  # noqa: E402  (tests/wltracker.py)
from filetools import sha1_file, tail  # noqa: E402  (tests/filetools.py)

import hosts  # rows 6 and 7, between network-namespace hosts

SIZE_MIB = int(os.environ.get("BENCH_SIZE_MIB", "1024"))
TORRENTS = int(os.environ.get("BENCH_TORRENTS", "10000"))
BIG = int(os.environ.get("BENCH_BIG", "100000"))  # 0: no 100,000 row
ROWS = os.environ.get("BENCH_ROWS", "")  # e.g. "4,5": only those; default all
PATRONS = int(os.environ.get("BENCH_PATRONS", "64"))
RPC_REQUESTS = int(os.environ.get("BENCH_RPC_REQUESTS", "500"))
RPC_TORRENTS = 5   # aria2c's default max-concurrent-downloads: both list all
LT_PYTHON = "/usr/bin/python3"  # Debian's python3-libtorrent lives there
HERE = os.path.dirname(os.path.abspath(__file__))

# Deadlines, in seconds, scaled with the work.
T_TRANSFER = 60 + SIZE_MIB * 0.6
T_HASH = 60 + SIZE_MIB * 0.3
T_START = 30
T_TORRENTS = 60 + TORRENTS * 0.05


class Broken(Exception):
    """Something did not work (as opposed to being slow)."""


def wait_until(cond, timeout, what, step=0.02):
    """Polls cond() until it is true or timeout seconds pass (then Broken)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except (OSError, ValueError) as e:
            last = e
        time.sleep(step)
    raise Broken("gave up waiting %.0f s for %s%s"
                 % (timeout, what, " (%s)" % last if last else ""))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(sock, req, timeout):
    """req on a fresh connection to sock; returns its answer and when the
    answer had arrived whole (a timing stops there, not after this
    client's parse: json.loads of a `list` of 100,000 takes 2-3 s)."""
    req = dict(req, tag="bench")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock)
        s.sendall(json.dumps(req).encode() + b"\n")
        # Linear in the answer (a `list` of 100,000 is tens of MiB):
        # re-scanning the whole buffer on every recv was quadratic.
        buf = bytearray()
        while True:
            d = s.recv(1 << 22)
            if not d:
                raise OSError("connection closed")
            start = len(buf)
            buf += d
            end = buf.find(b"\n", start)
            while end >= 0:
                at = time.monotonic()
                ev = json.loads(bytes(buf[:end]))
                del buf[:end + 1]
                if ev.get("tag") == "bench":
                    return ev, at
                end = buf.find(b"\n")


def rss_kib(pid):
    """The kernel's VmRSS of process pid, in KiB (0 if it has none)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid, tid=None):
    """User + system CPU seconds of process pid, or of its thread tid."""
    path = "/proc/%d/task/%d/stat" % (pid, tid) if tid else "/proc/%d/stat" % pid
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Run:
    """The temporary directory and every process started in it."""

    def __init__(self, build):
        self.tpd = os.path.abspath(os.path.join(build, "tpd"))
        self.tpctl = os.path.abspath(os.path.join(build, "tpctl"))
        self.rpcload = os.path.abspath(os.path.join(build, "bench", "rpcload"))
        self.dir = tempfile.mkdtemp(prefix="tpd-bench.")
        os.chmod(self.dir, 0o755)  # opentracker drops to nobody
        self.procs = []

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def mkdir(self, *parts):
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        return p

    def spawn(self, argv, log, **kw):
        with open(self.path(log), "ab") as f:
            try:
                p = subprocess.Popen(argv, stdout=kw.pop("stdout", f), stderr=f,
                                     stdin=subprocess.DEVNULL, start_new_session=True, **kw)
            except OSError as e:
                raise Broken("cannot start %s: %s" % (argv[0], e))
        self.procs.append(p)
        return p

    def stop(self, p, grace=30):
        """SIGTERM, then SIGKILL after grace seconds; returns the status."""
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    def close(self):
        for p in list(self.procs):
            self.stop(p, grace=10)
        if os.environ.get("BENCH_KEEP") == "1":
            print("bench: kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Tracker(WhitelistTracker):
    """opentracker on 127.0.0.1 with a whitelist.  restart() gives a tracker
    that has forgotten every peer, on the same port (the .torrent names it)."""

    def __init__(self, run):
        self.run = run
        self.dir = run.mkdir("tracker")
        os.chmod(self.dir, 0o755)
        self._init_whitelist(self.dir)
        self.port = free_port()
        self.proc = None
        self.announce = "http://127.0.0.1:%d/announce" % self.port
        self.start()

    def start(self):
        self.proc = self.run.spawn(
            ["opentracker", "-i", "127.0.0.1", "-p", str(self.port), "-P", str(self.port),
             "-d", self.dir, "-w", "whitelist"], "tracker.log", cwd=self.dir)

        def up():
            if self.proc.poll() is not None:
                raise Broken("opentracker exited: " + tail(self.run.path("tracker.log")))
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        wait_until(up, T_START, "opentracker to listen")

    def restart(self):
        self.run.stop(self.proc)
        self.start()

    def _get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                    timeout=5) as r:
            return r.read()

    def _signal(self, sig):
        self.proc.send_signal(sig)

    def _wait(self, pred, timeout, what):
        return wait_until(pred, max(timeout, T_START), what)

    def seeders(self, hex_hash):
        return self.scrape(hex_hash).get("complete", 0)

    def wait_seeder(self, hex_hash, timeout):
        wait_until(lambda: self.seeders(hex_hash) >= 1, timeout,
                   "the tracker to count a seeder of %s" % hex_hash, step=0.05)


class Tpd:
    """One tpd on a temporary socket, loopback only."""

    def __init__(self, run, name, tracker=None):
        self.run = run
        self.name = name
        self.home = run.mkdir(name)
        self.sock = os.path.join(self.home, "tpd.sock")
        # uTP off: 2.0.8's uTP is slow on loopback (a bug, LIBTORRENT-NOTES),
        # and lt_client.py turns it off alike.  The defaults, uTP included,
        # are measured between namespace hosts (rows 6 and 7, hosts.py).
        self.argv = [run.tpd, "-s", self.sock, "-d", os.path.join(self.home, "state"),
                     "--listen", "127.0.0.1:0", "--no-dht", "--no-lsd", "--no-upnp",
                     "--no-utp"]
        if tracker:
            self.argv += ["--tracker", tracker.announce]
        self.proc = None
        self.start()

    def start(self):
        """Starts the daemon; returns seconds until `info` says loading false."""
        t0 = time.monotonic()
        self.proc = self.run.spawn(self.argv, self.name + ".log")

        def ready():
            if self.proc.poll() is not None:
                raise Broken("%s exited: %s" % (self.name, tail(self.run.path(self.name + ".log"))))
            return self.request({"op": "info"}, timeout=T_TORRENTS)["loading"] is False
        wait_until(ready, T_TORRENTS, "%s to be ready" % self.name)
        return time.monotonic() - t0

    def stop(self, grace=T_TORRENTS):
        """SIGTERM (resume data is saved); returns seconds until it exited."""
        t0 = time.monotonic()
        rc = self.run.stop(self.proc, grace=grace)
        if rc != 0:
            raise Broken("%s exited with %s on SIGTERM: %s"
                         % (self.name, rc, tail(self.run.path(self.name + ".log"))))
        return time.monotonic() - t0

    def request(self, req, timeout=10):
        """One request on a fresh connection; returns the tagged answer."""
        ev, self.answered_at = request(self.sock, req, timeout)
        if ev["type"] in ("Error", "StartFail"):
            raise Broken("%s: %s" % (req["op"], ev.get("reason")))
        return ev

    def rss_kib(self):
        return rss_kib(self.proc.pid)

    def tpctl(self, *args, timeout):
        """Runs tpctl; returns (seconds, stdout)."""
        t0 = time.monotonic()
        try:
            r = subprocess.run([self.run.tpctl, "-s", self.sock] + list(args),
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Broken("tpctl %s: not done within %.0f s" % (args[0], timeout))
        dt = time.monotonic() - t0
        if r.returncode != 0:
            raise Broken("tpctl %s exited %d: %s" % (args[0], r.returncode,
                                                      (r.stderr or r.stdout).strip()[-300:]))
        return dt, r.stdout


ARIA2_BASE = ["aria2c", "--no-conf=true", "--enable-dht=false", "--enable-dht6=false",
              "--enable-peer-exchange=false", "--bt-enable-lpd=false",
              "--interface=127.0.0.1", "--disable-ipv6=true", "--summary-interval=0",
              "--console-log-level=warn", "--file-allocation=falloc",
              "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=10"]


def aria2(run, name, torrent, data_dir, seed, extra=()):
    argv = ARIA2_BASE + ["--listen-port=%d" % free_port(), "--dir=%s" % data_dir,
                         "--stop-with-process=%d" % os.getpid()] + list(extra)
    if seed:
        argv += ["-V", "--seed-ratio=0"]
    else:
        argv += ["--seed-time=0"]
    return run.spawn(argv + [torrent], name + ".log")


def lt_client(run, name, mode, torrent, data_dir):
    return run.spawn([LT_PYTHON, os.path.join(HERE, "lt_client.py"), mode, torrent,
                      data_dir, str(free_port()), str(T_TRANSFER if mode == "leech" else 3600)],
                     name + ".log", stdout=subprocess.PIPE)


def has_libtorrent_binding():
    try:
        return subprocess.run([LT_PYTHON, "-c", "import libtorrent"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Bench:
    def __init__(self, run):
        self.run = run
        self.rows = []     # (row, what, tpd, alternative, unit, ratio text)
        self.broken = []

    def row(self, num, what, tpd, alt, unit, lower_is_better=True, target=""):
        if tpd is None or alt is None or not alt or not tpd:
            ratio = "-"
        elif lower_is_better:
            ratio = "%.2fx" % (tpd / alt)
        else:
            ratio = "%.2fx" % (alt / tpd)
        self.rows.append((num, what, tpd, alt, unit, ratio, target))
        print("  %-42s tpd %s  alt %s  %s  %s" % (what, fmt(tpd, unit), fmt(alt, unit), ratio,
                                                 target), flush=True)

    def fail(self, num, what, e):
        self.broken.append("row %s (%s): %s" % (num, what, e))
        self.rows.append((num, what, None, None, "", "BROKEN", ""))
        print("  %s: BROKEN: %s" % (what, e), flush=True)

    def timed_proc(self, p, timeout, what):
        t0 = time.monotonic()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Broken("%s not done within %.0f s" % (what, timeout))
        dt = time.monotonic() - t0
        if p.returncode != 0:
            raise Broken("%s exited %d" % (what, p.returncode))
        return dt

    def check_copy(self, path, what):
        got = sha1_file(path)
        if got != self.sha1:
            raise Broken("%s: the copy differs (sha1 %s, expected %s)" % (what, got, self.sha1))


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return "%.2f s" % v
    if unit == "ms":
        return "%.2f ms" % v
    if unit == "req/s":
        return "%.0f req/s" % v
    if unit == "KiB":
        return "%d MiB" % (v // 1024)
    if unit == "/s":
        return "%.0f/s" % v
    return str(v)


def make_data(b):
    """SIZE_MIB of random data; its SHA-1, and read once more into cache."""
    data_dir = b.run.mkdir("data")
    path = os.path.join(data_dir, "bench.bin")
    h = hashlib.sha1()
    with open(path, "wb") as f:
        for _ in range(SIZE_MIB):
            chunk = os.urandom(1 << 20)
            h.update(chunk)
            f.write(chunk)
    b.sha1 = h.hexdigest()
    sha1_file(path)  # page cache: both tools of row 3 read a cached file
    return data_dir, path


def piece_size():
    """About 1024 pieces, a power of two of at least 32 KiB (mktorrent's
    smallest): 1 MiB for 1 GiB."""
    p = 1 << 15
    while p * 1024 < SIZE_MIB << 20:
        p <<= 1
    return p


def row3(b, tracker, path):
    """Make and seed: tpctl seed against mktorrent.  Returns the seeding
    daemon, the torrent's id there, its .torrent and its info-hash."""
    p = piece_size()
    seeder = Tpd(b.run, "seeder", tracker)
    out = b.run.path("tpd.torrent")
    t_tpd, stdout = seeder.tpctl("--json", "seed", path, "--torrent-out", out,
                                 "--piece-size", str(p), timeout=T_HASH)
    ev = [json.loads(l) for l in stdout.splitlines() if l.startswith("{")]
    created = [e for e in ev if e.get("type") == "NewTorrentCreated"]
    if not created:
        raise Broken("tpctl seed printed no NewTorrentCreated: %s" % stdout[-300:])
    t0 = time.monotonic()
    try:
        r = subprocess.run(["mktorrent", "-l", str(p.bit_length() - 1), "-a", tracker.announce,
                            "-o", b.run.path("mktorrent.torrent"), path],
                           capture_output=True, timeout=T_HASH)
    except subprocess.TimeoutExpired:
        raise Broken("mktorrent not done within %.0f s" % T_HASH)
    t_mk = time.monotonic() - t0
    if r.returncode != 0:
        raise Broken("mktorrent exited %d: %s" % (r.returncode, r.stderr.decode()[-300:]))
    b.row(3, "make+seed %d MiB (piece %d KiB)" % (SIZE_MIB, p >> 10), t_tpd, t_mk, "s")
    return seeder, created[0]["id"], out, created[0]["info_hash"]


def tpd_leech(b, tracker, torrent, name):
    """A fresh tpd downloads torrent (peers from the tracker only)."""
    leecher = Tpd(b.run, name, tracker)
    dl = b.run.mkdir(name + "-dl")
    try:
        dt, _ = leecher.tpctl("add", torrent, "--dir", dl, "--wait", timeout=T_TRANSFER)
        b.check_copy(os.path.join(dl, "bench.bin"), name)
    finally:
        leecher.stop()
        shutil.rmtree(dl, ignore_errors=True)
    return dt


def aria2_leech(b, torrent, name):
    """aria2c downloads torrent; returns the seconds until its
    --on-bt-download-complete hook ran.  Its process lives on for some
    seconds more (aria2c works in 1 s ticks: a last announce, shutdown), which
    would be unfair to count; that time is printed for reference."""
    dl = b.run.mkdir(name + "-dl")
    mark = b.run.path(name + ".done")
    hook = b.run.path(name + ".hook")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\nexec python3 -c 'import time; print(time.time())' >%s\n" % mark)
    os.chmod(hook, 0o755)
    try:
        t0 = time.time()
        p = aria2(b.run, name, torrent, dl, seed=False,
                  extra=["--on-bt-download-complete=" + hook])
        t_exit = b.timed_proc(p, T_TRANSFER, name)
        with open(mark) as f:
            dt = float(f.read()) - t0
        print("  (%s: complete after %.2f s, process exited after %.2f s)"
              % (name, dt, t_exit))
        b.check_copy(os.path.join(dl, "bench.bin"), name)
    except (OSError, ValueError) as e:
        raise Broken("%s: no completion mark: %s" % (name, e))
    finally:
        shutil.rmtree(dl, ignore_errors=True)
    return dt


def transfers(b, tracker, seeder, seed_id, torrent, ih, data_dir):
    """Rows 1 and 2.  Before each pair the tracker is restarted so that it
    knows only the seeder of that pair."""
    what1 = "%d MiB tpd->tpd vs aria2c->aria2c" % SIZE_MIB
    tracker.allow(ih)
    t_tt = None
    try:
        seeder.request({"op": "reannounce", "id": seed_id})
        tracker.wait_seeder(ih, T_START * 2)
        t_tt = tpd_leech(b, tracker, torrent, "leech-tpd1")
    except Broken as e:
        b.fail(1, what1, e)
    seeder.stop()

    t_aa = t_ta = None
    tracker.restart()
    seed = aria2(b.run, "seed-aria2c", torrent, data_dir, seed=True)
    try:
        tracker.wait_seeder(ih, T_HASH + T_START)
        try:
            t_ta = tpd_leech(b, tracker, torrent, "leech-tpd2")
        except Broken as e:
            b.fail(2, "%d MiB from an aria2c seeder" % SIZE_MIB, e)
        t_aa = aria2_leech(b, torrent, "leech-aria2c")
    except Broken as e:
        b.fail(1, "%d MiB aria2c->aria2c" % SIZE_MIB, e)
    b.run.stop(seed)
    if t_tt is not None:
        b.row(1, what1, t_tt, t_aa, "s")
    if t_ta is not None:
        b.row(2, "%d MiB from aria2c seeder: tpd vs aria2c" % SIZE_MIB, t_ta, t_aa, "s")

    what = "%d MiB tpd->tpd vs libtorrent->libtorrent" % SIZE_MIB
    if not has_libtorrent_binding():
        print("  %s: skipped (no python3-libtorrent for %s)" % (what, LT_PYTHON))
        return
    tracker.restart()
    seed = lt_client(b.run, "seed-lt", "seed", torrent, data_dir)
    try:
        line = seed.stdout.readline()  # "seeding" once checked; EOF if it died
        if line.strip() != b"seeding":
            raise Broken("libtorrent seeder: %s" % tail(b.run.path("seed-lt.log")))
        tracker.wait_seeder(ih, T_START * 2)
        dl = b.run.mkdir("leech-lt-dl")
        leech = lt_client(b.run, "leech-lt", "leech", torrent, dl)
        b.timed_proc(leech, T_TRANSFER + 10, "libtorrent leecher")
        t_ll = float(leech.stdout.read())  # from session start to complete
        b.check_copy(os.path.join(dl, "bench.bin"), "libtorrent leecher")
        shutil.rmtree(dl, ignore_errors=True)
        if t_tt is not None:
            b.row(1, what, t_tt, t_ll, "s")
    except Broken as e:
        b.fail(1, what, e)
    finally:
        b.run.stop(seed)


def rpcload(b, *args, timeout):
    try:
        r = subprocess.run([b.run.rpcload] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Broken("rpcload %s: not done within %.0f s" % (args[0], timeout))
    if r.returncode != 0:
        raise Broken("rpcload %s: %s %s" % (args[0], r.stdout.strip(), r.stderr.strip()[-300:]))
    return {k: float(v) for k, v in (f.split("=") for f in r.stdout.split())}


def aria2_rpc(port, method, params):
    req = json.dumps({"jsonrpc": "2.0", "id": "bench", "method": method, "params": params})
    with urllib.request.urlopen("http://127.0.0.1:%d/jsonrpc" % port, req.encode(),
                                timeout=10) as r:
        return json.loads(r.read())["result"]


def row4(b):
    """64 patrons, status/list alternating, against aria2c's JSON-RPC."""
    what = "RPC: %d patrons, list/status" % PATRONS
    d = Tpd(b.run, "rpc")
    try:
        rpcload(b, "add", d.sock, 1, RPC_TORRENTS, T_START, timeout=T_START + 5)
        r = rpcload(b, "rpc", d.sock, PATRONS, RPC_REQUESTS, 120, "mix", 1, timeout=130)
    finally:
        d.stop()
    a = None
    port = free_port()
    argv = ARIA2_BASE + ["--enable-rpc=true", "--rpc-listen-all=false",
                         "--rpc-listen-port=%d" % port, "--rpc-max-request-size=1M",
                         "--dir=%s" % b.run.mkdir("aria2-rpc"), "--listen-port=%d" % free_port(),
                         "--stop-with-process=%d" % os.getpid()]
    p = b.run.spawn(argv, "aria2-rpc.log")
    try:
        wait_until(lambda: aria2_rpc(port, "aria2.getVersion", []) is not None, T_START,
                   "aria2c's RPC")
        gids = [aria2_rpc(port, "aria2.addUri",
                          [["magnet:?xt=urn:btih:" + os.urandom(20).hex()]])
                for _ in range(RPC_TORRENTS)]
        a = rpcload(b, "aria2", port, PATRONS, RPC_REQUESTS, 120, gids[0], timeout=130)
    except (Broken, OSError, ValueError, KeyError) as e:
        print("  aria2c RPC: not measured: %s" % e)
    finally:
        b.run.stop(p)
    b.row(4, what + ": throughput", r["per_second"], a and a["per_second"], "req/s",
          lower_is_better=False)
    b.row(4, what + ": p50", r["p50_ms"], a and a["p50_ms"], "ms")
    b.row(4, what + ": p99", r["p99_ms"], a and a["p99_ms"], "ms")


def small_torrents(n):
    """n single-file .torrents of one 16 KiB piece, no tracker: base64."""
    out = []
    for i in range(n):
        info = {b"name": b"f%07d.bin" % i, b"length": 16384, b"piece length": 16384,
                b"pieces": hashlib.sha1(b"bench %d %d" % (os.getpid(), i)).digest()}
        out.append(base64.b64encode(bencode({b"info": info})).decode())
    return out


class Transmission:
    """transmission-daemon 3.00 on 127.0.0.1, driven through its RPC (HTTP
    keep-alive, one request at a time: its RPC answers in order anyway)."""

    FIELDS = ["id", "name", "hashString", "status", "percentDone", "rateDownload",
              "rateUpload", "downloadDir"]  # what `list` shows, as near as it has

    def __init__(self, run, name):
        self.run = run
        self.name = name
        self.conf = run.mkdir(name)
        self.port = free_port()
        settings = {"dht-enabled": False, "lpd-enabled": False, "utp-enabled": False,
                    "pex-enabled": False, "port-forwarding-enabled": False,
                    "peer-port": free_port(), "rpc-port": self.port,
                    "rpc-bind-address": "127.0.0.1", "rpc-whitelist-enabled": False,
                    "rpc-host-whitelist-enabled": False,
                    "rpc-authentication-required": False,
                    "download-dir": run.mkdir(name + "-dl"), "message-level": 1}
        with open(os.path.join(self.conf, "settings.json"), "w") as f:
            json.dump(settings, f)
        self.proc = None
        self.conn = None
        self.session = ""

    def start(self, n, timeout):
        """Starts it; returns seconds until torrent-get lists n torrents."""
        t0 = time.monotonic()
        self.proc = self.run.spawn(["transmission-daemon", "-f", "-g", self.conf],
                                   self.name + ".log")

        def listed():
            if self.proc.poll() is not None:
                raise Broken("transmission-daemon exited: "
                             + tail(self.run.path(self.name + ".log")))
            return len(self.call("torrent-get", {"fields": ["id"]})["torrents"]) == n
        wait_until(listed, timeout, "transmission-daemon to list %d torrents" % n, step=0.05)
        return time.monotonic() - t0

    def stop(self, timeout):
        t0 = time.monotonic()
        if self.conn:
            self.conn.close()
            self.conn = None
        self.run.stop(self.proc, grace=timeout)
        return time.monotonic() - t0

    def call(self, method, args):
        body = json.dumps({"method": method, "arguments": args}).encode()
        for _ in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request("POST", "/transmission/rpc", body,
                                  {"X-Transmission-Session-Id": self.session,
                                   "Content-Type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                raise
            if r.status == 409:
                self.session = r.getheader("X-Transmission-Session-Id", "")
                continue
            ans = json.loads(data)
            if ans.get("result") != "success":
                raise Broken("transmission %s: %s" % (method, ans.get("result")))
            return ans["arguments"]
        raise Broken("transmission %s: no session id" % method)

    def rss_kib(self):
        return rss_kib(self.proc.pid)


def scale_rows(b, n, alt):
    """n .torrent creates over one connection (at most 1024 unanswered),
    `list` of all, RSS, restart until listed; transmission-daemon does the
    same work in the same run when alt.  Rows measured before something
    broke are still printed."""
    what = "%d torrents" % n
    deadline = 60 + n * 0.05
    big = n >= 100000
    torrents = small_torrents(n)
    lines = b.run.path("creates-%d.jsonl" % n)
    with open(lines, "w") as f:
        for i, t in enumerate(torrents):
            f.write(json.dumps({"op": "create", "tag": i, "torrent": t, "paused": True}) + "\n")
    t, a = {}, {}

    def emit():
        b.row(5, what + ": .torrent adds/s (1 conn, 1024 window)", t.get("adds"),
              a.get("adds"), "/s", lower_is_better=False,
              target=">= 5,000/s" if big else ">= 5,000/s and >= 3x alt")
        b.row(5, what + ": list (p50 of 5)", t.get("list"), a.get("list"), "ms",
              target="<= 200 ms" if big else "<= 20 ms and <= 0.5x alt")
        b.row(5, what + ": RSS", t.get("rss"), a.get("rss"), "KiB",
              target="per torrent: %.1f KiB" % (t["rss"] / n) if big and t.get("rss")
              else "<= 100 MiB and <= 1.5x alt")
        b.row(5, what + ": SIGTERM to exit", t.get("stop"), a.get("stop"), "s")
        b.row(5, what + ": restart until all listed", t.get("restart"), a.get("restart"), "s",
              target="<= 15 s" if big else "<= 2 s")
        b.row(5, what + ": RSS after restart", t.get("rss2"), a.get("rss2"), "KiB")

    d = Tpd(b.run, "many-%d" % n)
    try:
        r = rpcload(b, "lines", d.sock, lines, 1024, deadline, timeout=deadline + 10)
        got = d.request({"op": "info"})["torrents"]
        if got != n:
            raise Broken("%d torrents in the daemon after adding %d" % (got, n))
        t["adds"] = r["per_second"]
        lst = rpcload(b, "rpc", d.sock, 1, 5, deadline, "list", 1, timeout=deadline + 10)
        t["list"] = lst["p50_ms"]
        t["rss"] = d.rss_kib()
        t["stop"] = d.stop(grace=180)
        t0 = time.monotonic()
        d.start()
        wait_until(lambda: len(d.request({"op": "list"}, timeout=deadline)["torrents"]) == n,
                   deadline, "%d torrents listed after the restart" % n, step=0.05)
        t["restart"] = d.answered_at - t0
        t["rss2"] = d.rss_kib()
    except Broken:
        emit()
        raise
    finally:
        if d.proc.poll() is None:
            b.run.stop(d.proc, grace=60)
    tr = None
    if alt:
        try:
            tr = Transmission(b.run, "transmission-%d" % n)
            tr.start(0, T_START)
            t0 = time.monotonic()
            for x in torrents:
                tr.call("torrent-add", {"metainfo": x, "paused": True})
            a["adds"] = n / (time.monotonic() - t0)
            lat = []
            for _ in range(5):
                t0 = time.monotonic()
                got = len(tr.call("torrent-get", {"fields": Transmission.FIELDS})["torrents"])
                lat.append((time.monotonic() - t0) * 1000)
            if got != n:
                raise Broken("transmission lists %d torrents after adding %d" % (got, n))
            a["list"] = sorted(lat)[2]
            a["rss"] = tr.rss_kib()
            a["stop"] = tr.stop(deadline)
            a["restart"] = tr.start(n, deadline)
            a["rss2"] = tr.rss_kib()
        except (Broken, OSError, ValueError, KeyError, http.client.HTTPException) as e:
            print("  transmission-daemon (%s): not measured: %s" % (what, e), flush=True)
        finally:
            if tr and tr.proc and tr.proc.poll() is None:
                tr.stop(30)
    emit()


def row5(b):
    """The scale rows of SPEC section 11: TORRENTS against transmission,
    magnets over 4 connections, and 100,000 (BENCH_BIG; transmission there
    only with BENCH_BIG_ALT=1, as it takes minutes)."""
    scale_rows(b, TORRENTS, True)
    what = "%d magnets" % TORRENTS
    d = Tpd(b.run, "magnets")
    try:
        r = rpcload(b, "add", d.sock, 4, TORRENTS, T_TORRENTS, timeout=T_TORRENTS + 10)
        b.row(5, what + ": adds/s (4 connections)", r["per_second"], None, "/s",
              target=">= 5,000/s")
    finally:
        if d.proc.poll() is None:
            d.stop()
    if BIG:
        scale_rows(b, BIG, os.environ.get("BENCH_BIG_ALT") == "1")


def table(b):
    print("\n== tpd benchmarks: %d MiB, %d torrents, %d patrons (ratio: tpd time / "
          "alternative time; for req/s alternative / tpd; below 1 = tpd better)"
          % (SIZE_MIB, TORRENTS, PATRONS))
    print("%-4s %-56s %14s %14s %8s  %s" % ("row", "what", "tpd", "alternative", "ratio",
                                             "target (SPEC 11)"))
    for num, what, tpd, alt, unit, ratio, target in b.rows:
        print("%-4s %-56s %14s %14s %8s  %s" % (num, what, fmt(tpd, unit), fmt(alt, unit),
                                                 ratio, target))
    for x in b.broken:
        print("BROKEN: " + x)


def wanted(*nums):
    """BENCH_ROWS (e.g. "4,5") runs only some rows; by default all."""
    return not ROWS or any(str(n) in ROWS.split(",") for n in nums)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: bench.py BUILD_DIR\n")
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run = Run(sys.argv[1])
    b = Bench(run)
    try:
        print("bench: %s, %d MiB, %d torrents" % (run.dir, SIZE_MIB, TORRENTS), flush=True)
        if wanted(1, 2, 3):
            tracker = Tracker(run)
            data_dir, path = make_data(b)
            seeder = None
            try:
                seeder, seed_id, torrent, ih = row3(b, tracker, path)
            except Broken as e:
                b.fail(3, "make+seed", e)
            if seeder:
                try:
                    transfers(b, tracker, seeder, seed_id, torrent, ih, data_dir)
                except Broken as e:
                    b.fail("1-2", "transfers", e)
            os.unlink(path)
        for num, fn in ((4, row4), (5, row5)):
            if not wanted(num):
                continue
            try:
                fn(b)
            except Broken as e:
                b.fail(num, fn.__name__, e)
        if wanted(6, 7):
            hosts.rows(b, SIZE_MIB, T_TRANSFER)
        table(b)
    except KeyboardInterrupt:
        print("\nbench: interrupted, cleaning up")
        return 130
    finally:
        run.close()
    return 1 if b.broken else 0


if __name__ == "__main__":
    sys.exit(main())
