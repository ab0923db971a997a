"""tpdtest - the shared harness of tpd's integration tests.

Owns everything a test needs around the daemon: temporary directories, a
real tpd on a temporary socket, a Patron speaking the wire protocol
(proto/PROTOCOL.md) directly, tpctl runs, an opentracker on loopback, aria2c
seeders and leechers, mktorrent, a bencode codec and generated data.  Every
process a test starts is killed when the test ends, pass or fail.

Rules kept here: nothing sleeps to synchronise.  We wait on an event with a
deadline: a socket read with a timeout, a process exit with a timeout, or a
condition polled (a tracker scrape, a file's state) until a deadline.  Only
127.0.0.1 is used.

A test file defines functions decorated with @test and ends with
`tpdtest.main()`, which runs them in order and prints one line per test:
`ok NAME`, `FAIL NAME: reason` or `skip NAME: reason`; tests/run-tests.sh
totals these lines.  Python 3 standard library only.
"""

import atexit
import base64
import collections
import hashlib
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests"))
import bencode as bencode_mod  # noqa: E402  (tests/bencode.py)
import wltracker  # noqa: E402  (tests/wltracker.py)
from filetools import sha1_file, tail  # noqa: E402,F401  (tests/filetools.py)
NOBODY = 65534
MIB = 1 << 20


def _daemon_user():
    """TPD_TEST_DAEMON_USER=NAME|UID: the user every daemon runs as unless a
    test says otherwise (tests/run-tests.sh's unprivileged pass); None: root,
    i.e. whoever runs the tests."""
    v = os.environ.get("TPD_TEST_DAEMON_USER", "").strip()
    if not v:
        return None
    try:
        return int(v) if v.isdigit() else pwd.getpwnam(v).pw_uid
    except KeyError:
        sys.exit("TPD_TEST_DAEMON_USER=%s: no such user" % v)


def gid_of(uid):
    """UID's primary group (its own number when it has no passwd entry)."""
    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        return uid


# The uid daemons run as by default (None: the test runner's own).
DAEMON_USER = _daemon_user()


def unprivileged_pass():
    """True in the pass where every daemon runs as TPD_TEST_DAEMON_USER."""
    return DAEMON_USER is not None


def as_daemon_user(cmd):
    """CMD (an argv) run as the daemon's user in the unprivileged pass (a
    daemon not run as root acts for no one else); CMD as is otherwise."""
    if not DAEMON_USER:
        return list(cmd)
    return ["setpriv", "--reuid=%d" % DAEMON_USER,
            "--regid=%d" % gid_of(DAEMON_USER), "--clear-groups"] + list(cmd)


def root_daemon_only(why):
    """Skips a test that is about a root daemon by nature in the
    unprivileged pass, saying why; the root pass runs it."""
    if unprivileged_pass():
        raise TestSkip("tpd runs as uid %d in this pass; %s" % (DAEMON_USER, why))


class TestFailure(AssertionError):
    """A test's outcome was not the expected one."""


class TestSkip(Exception):
    """The test cannot run here (e.g. it needs root); it neither passes nor fails."""


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_eq(got, want, what):
    if got != want:
        raise TestFailure("%s: expected %r, got %r" % (what, want, got))


def build_dir():
    b = os.environ.get("TPD_BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def tpd_bin():
    return os.path.join(build_dir(), "tpd")


def tpctl_bin():
    return os.path.join(build_dir(), "tpctl")


# --------------------------------------------------------------------------
# Waiting with deadlines

def wait_until(pred, timeout, what, interval=0.02):
    """Polls pred() until it returns a true value, at most `timeout` seconds.

    For conditions that have no event to block on (a tracker's counts, a
    file appearing).  Returns pred()'s value; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except (OSError, ValueError) as e:
            last_exc = e
        if time.monotonic() >= deadline:
            extra = " (last error: %s)" % last_exc if last_exc else ""
            fail("timed out after %.0f s waiting for %s%s" % (timeout, what, extra))
        # Bounded wait between polls of a condition that has no event.
        select.select([], [], [], interval)


def free_port():
    """A TCP and UDP port on 127.0.0.1 that was free a moment ago."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            t.close()
            u.close()
        return port
    fail("no free port found")


# --------------------------------------------------------------------------
# Bencode: tests/bencode.py, re-exported so that tests say T.bdecode etc.

bdecode, bencode, info_hash = bencode_mod.bdecode, bencode_mod.bencode, bencode_mod.info_hash


def make_torrent_bytes(name, content, announce=None, piece_length=16384):
    """A single-file v1 .torrent for `content`, built here (no file needed)."""
    pieces = b"".join(hashlib.sha1(content[o:o + piece_length]).digest()
                      for o in range(0, max(len(content), 1), piece_length))
    meta = {"info": {"length": len(content), "name": name,
                     "piece length": piece_length, "pieces": pieces}}
    if announce:
        meta["announce"] = announce
    return bencode(meta)


# --------------------------------------------------------------------------
# Data

def write_random_file(path, size, chunk=64 * MIB):
    """Writes `size` random bytes; returns their hex SHA-1."""
    h = hashlib.sha1()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            b = os.urandom(min(chunk, left))
            h.update(b)
            f.write(b)
            left -= len(b)
    return h.hexdigest()


# --------------------------------------------------------------------------
# Processes

_PROCS = []  # every process started by the harness, killed at exit


def _kill(proc, grace=5.0):
    """SIGTERM, wait up to `grace` s for the exit, then SIGKILL. Returns rc."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            return proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        return None


def _kill_all():
    for p in _PROCS:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass


atexit.register(_kill_all)


def _on_sigterm(signum, frame):
    # The runner's timeout sends SIGTERM: unwind so finally blocks clean up.
    raise KeyboardInterrupt("signal %d" % signum)


def spawn(argv, log_path, cwd=None, env=None):
    logf = open(log_path, "ab")
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT, cwd=cwd, env=env)
    finally:
        logf.close()
    _PROCS.append(p)
    return p


# --------------------------------------------------------------------------
# The protocol

def same_tag(a, b):
    # 1 == True in Python; tags of different JSON types are different tags.
    return type(a) is type(b) and a == b


class Patron:
    """One protocol connection: send objects as JSON lines, read events.

    Events read while waiting for something else are kept in `pending`, in
    arrival order, so nothing is lost."""

    _tags = 0
    _tag_lock = threading.Lock()
    _as_lock = threading.Lock()

    def __init__(self, sock_path, timeout=20.0):
        self.timeout = timeout
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self._connect(sock_path)
        self.buf = b""
        self.pending = collections.deque()
        self.eof = False

    def _connect(self, sock_path):
        """In the unprivileged pass the test speaks as the daemon's own user
        (a daemon not run as root acts for no one else): the peer
        credentials tpd reads are those of connect(), so the effective ids
        are that user's just around it.  A test that switched its ids
        itself (euid not 0) keeps them."""
        if DAEMON_USER is None or os.geteuid() != 0:
            self.s.connect(sock_path)
            return
        with Patron._as_lock:
            os.setegid(gid_of(DAEMON_USER))
            os.seteuid(DAEMON_USER)
            try:
                self.s.connect(sock_path)
            finally:
                os.seteuid(0)
                os.setegid(0)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    @classmethod
    def new_tag(cls):
        with cls._tag_lock:
            cls._tags += 1
            return "t%d" % cls._tags

    def send(self, obj):
        """Sends a dict as one JSON line, or raw bytes as they are."""
        if isinstance(obj, dict):
            data = (json.dumps(obj) + "\n").encode()
        elif isinstance(obj, str):
            data = obj.encode()
        else:
            data = obj
        self.s.sendall(data)

    def _read_line(self, deadline):
        """Next event from the socket; None at end of stream."""
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                try:
                    ev = json.loads(line.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as e:
                    fail("daemon sent a line that is not JSON (%s): %r" % (e, line[:200]))
                if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
                    fail("daemon sent an event without a string type: %r" % line[:200])
                return ev
            if self.eof:
                if self.buf:
                    fail("daemon closed the connection mid-line: %r" % self.buf[:200])
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                raise TimeoutError
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
            self.buf += chunk

    def next(self, pred, timeout=None, what="an event"):
        """The first event (pending or new) for which pred(ev) is true."""
        for ev in list(self.pending):
            if pred(ev):
                self.pending.remove(ev)
                return ev
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                ev = self._read_line(deadline)
            except TimeoutError:
                fail("timed out waiting for %s; events seen meanwhile: %s"
                     % (what, _short(list(self.pending))))
            if ev is None:
                fail("daemon closed the connection while we waited for %s" % what)
            if pred(ev):
                return ev
            self.pending.append(ev)

    def answer(self, tag, timeout=None):
        return self.next(lambda e: "tag" in e and same_tag(e["tag"], tag),
                         timeout, "the answer to tag %r" % (tag,))

    def request(self, op, **fields):
        """Sends a request with a fresh tag; returns the tag."""
        tag = fields.pop("tag", None) or Patron.new_tag()
        msg = {"op": op, "tag": tag}
        msg.update(fields)
        self.send(msg)
        return tag

    def call(self, op, timeout=None, **fields):
        """Sends a request and returns its direct answer."""
        return self.answer(self.request(op, **fields), timeout)

    def expect(self, op, want_type, timeout=None, **fields):
        ev = self.call(op, timeout, **fields)
        if ev.get("type") != want_type:
            fail("%s %s: expected %s, got %s" % (op, _short(fields), want_type, _short(ev)))
        return ev

    def expect_error(self, op, code, **fields):
        ev = self.call(op, **fields)
        if ev.get("type") != "Error" or ev.get("code") != code:
            fail("%s %s: expected Error %s, got %s" % (op, _short(fields), code, _short(ev)))
        check(isinstance(ev.get("reason"), str) and ev["reason"],
              "Error %s without a reason: %s" % (code, _short(ev)))
        return ev

    def expect_eof(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                ev = self._read_line(deadline)
            except TimeoutError:
                fail("the daemon did not close the connection")
            if ev is None:
                return
            self.pending.append(ev)

    def list(self):
        ev = self.expect("list", "List")
        check(isinstance(ev.get("torrents"), list), "List without torrents: %s" % _short(ev))
        return ev["torrents"]


class Lister(threading.Thread):
    """A well-behaved patron: `list` every `pace` seconds on its own
    connection, each answer due within `deadline` seconds.  finish() stops
    it and fails the test if an answer was late, wrong or missing."""

    def __init__(self, sock, deadline=2.0, pace=0.005):
        super().__init__(daemon=True)
        self.p = Patron(sock, timeout=deadline)
        self.deadline = deadline
        self.pace = pace
        self.stop_ev = threading.Event()
        self.error = None
        self.count = 0
        self.worst = 0.0

    def run(self):
        try:
            while not self.stop_ev.is_set():
                t0 = time.monotonic()
                ev = self.p.call("list", timeout=self.deadline)
                self.worst = max(self.worst, time.monotonic() - t0)
                if ev.get("type") != "List":
                    raise TestFailure("list answered with %s" % _short(ev))
                self.count += 1
                self.stop_ev.wait(self.pace)  # pacing, not synchronisation
        except Exception as e:  # reported by finish()
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self.p.close()

    def finish(self):
        self.stop_ev.set()
        self.join(10)
        check(not self.is_alive(), "the listing patron did not stop")
        check(self.error is None,
              "well-behaved patron (list every %.3f s, %d answers, worst %.2f s): %s"
              % (self.pace, self.count, self.worst, self.error))
        check(self.count > 0, "the listing patron got no answer at all")


def json_lines(text, what="tpctl --json output"):
    """Parses text that must be JSON objects, one a line, each with a type."""
    evs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            fail("%s has a line that is not JSON: %r" % (what, line[:300]))
        if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
            fail("%s has a line that is not an event: %r" % (what, line[:300]))
        evs.append(ev)
    return evs


def describe(r):
    """A CompletedProcess in one line, for failure messages."""
    return "exit %s, stdout %r, stderr %r" % (r.returncode, r.stdout[-800:], r.stderr[-800:])


def _short(x, n=600):
    s = json.dumps(x, default=repr) if not isinstance(x, str) else x
    return s if len(s) <= n else s[:n] + "..."


# --------------------------------------------------------------------------
# The environment of one test: a temp dir and the processes in it

class Env:
    """A test's temporary directory, its daemons, tracker and peers."""

    def __init__(self, name):
        base = os.environ.get("TPD_TEST_TMP") or None
        self.dir = tempfile.mkdtemp(prefix=name + ".", dir=base or "/tmp")
        if DAEMON_USER is not None:
            # The daemon user's, as a user's home is: it writes the
            # .torrent files and directories the tests name in it.
            os.chmod(self.dir, 0o755)
            os.chown(self.dir, DAEMON_USER, gid_of(DAEMON_USER))
        self.logs = os.path.join(self.dir, "logs")
        os.mkdir(self.logs)
        self.daemons = []
        self.procs = []  # (name, Popen, log path)
        self.tracker = None

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def mkdir(self, *parts, mode=0o755):
        """Makes a directory of the test; in the unprivileged pass it is the
        daemon user's, as a user's own directory is when tpd runs as root
        (a test that needs a directory tpd cannot write makes it root's
        afterwards, or chowns it to whom it means)."""
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        if DAEMON_USER is not None:
            os.chown(p, DAEMON_USER, gid_of(DAEMON_USER))
        return p

    def give(self, path):
        """In the unprivileged pass, hands PATH (a tree the test made) to the
        daemon user so tpd can use it as root would; no-op otherwise."""
        if DAEMON_USER is None:
            return path
        for root, dirs, files in os.walk(path):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.lchown(n, DAEMON_USER, gid_of(DAEMON_USER))
        return path

    def start_daemon(self, name="tpd", extra=(), wait=True,
                     listen="127.0.0.1:0", download_dir=True, user=None):
        d = Daemon(self, name, list(extra), listen=listen,
                   download_dir=download_dir, user=user)
        self.daemons.append(d)
        if wait:
            d.wait_ready()
        return d

    def start_tracker(self):
        self.tracker = Tracker(self)
        return self.tracker

    def aria2_seed(self, torrent, data_dir, name="aria2-seed"):
        return Aria2(self, name, torrent, data_dir, seed=True)

    def aria2_leech(self, torrent, data_dir, name="aria2-leech"):
        return Aria2(self, name, torrent, data_dir, seed=False)

    def mktorrent(self, target, out, announce, piece_log2=18):
        r = subprocess.run(["mktorrent", "-a", announce, "-l", str(piece_log2),
                            "-o", out, target], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "mktorrent failed (%d): %s" % (r.returncode, r.stderr))
        with open(out, "rb") as f:
            return info_hash(f.read())

    def tpctl(self, *args, daemon=None, sock=None, user=None, timeout=120,
              stdin_text=None, json_mode=False, exe=None, env=None):
        """Runs tpctl -s SOCK [--json] ARGS; returns CompletedProcess (text).

        sock=False leaves -s out; user=UID runs it through setpriv (by
        default DAEMON_USER in the unprivileged pass: see Patron._connect;
        user=0 keeps the runner's own)."""
        if sock is None:
            sock = (daemon or self.daemons[0]).sock
        exe = exe or tpctl_bin()
        cmd = [exe]
        if sock is not False:
            cmd += ["-s", sock]
        if json_mode:
            cmd.append("--json")
        cmd += list(args)
        if user is None:
            user = DAEMON_USER
        if user:
            cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % gid_of(user),
                   "--clear-groups"] + cmd
        try:
            return subprocess.run(cmd, input=stdin_text, env=env,
                                  stdin=None if stdin_text is not None else subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            fail("tpctl %s did not finish within %d s; stdout %r stderr %r"
                 % (" ".join(args), timeout, e.stdout, e.stderr))

    def diagnostics(self):
        out = []
        for d in self.daemons:
            out.append("--- tail of %s (%s) ---\n%s" % (d.name, d.log, tail(d.log)))
        for name, _, log in self.procs:
            out.append("--- tail of %s (%s) ---\n%s" % (name, log, tail(log, 15)))
        return "\n".join(out)

    def close(self, passed):
        """Stops everything; keeps only the logs of a failed test.

        Returns a list of problems found while stopping (a daemon that had
        died, or did not exit 0 on SIGTERM): they fail the test."""
        problems = []
        for d in self.daemons:
            problems += d.stop()
        for name, p, _ in self.procs:
            _kill(p)
        if self.tracker:
            self.tracker.stop()
        if passed and not problems:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            for e in os.listdir(self.dir):
                if e != "logs":
                    p = self.path(e)
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        try:
                            os.unlink(p)
                        except OSError:
                            pass
        return problems


class Daemon:
    """A real build/tpd on a temporary socket and state directory."""

    def __init__(self, env, name, extra, listen="127.0.0.1:0",
                 download_dir=True, user=None):
        self.env = env
        self.name = name
        self.dir = env.mkdir(name, mode=0o755)
        self.sock = os.path.join(self.dir, "tpd.sock")
        self.state = os.path.join(self.dir, "state")
        self.downloads = os.path.join(self.state, "downloads")
        os.makedirs(self.downloads, exist_ok=True)
        self.log = os.path.join(env.logs, name + ".log")
        exe = tpd_bin()
        check(os.access(exe, os.X_OK), "%s is not built" % exe)
        # user=UID: tpd runs as that user (setpriv), owning its socket's
        # directory and its state directory.  user=None: DAEMON_USER (the
        # unprivileged pass) or the runner's own; user=0: root even then.
        if user is None:
            user = DAEMON_USER
        elif user == 0 and not is_root():
            user = None
        prefix = []
        if user:
            for root, dirs, files in os.walk(self.dir):
                for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                    os.chown(n, user, gid_of(user))
            prefix = ["setpriv", "--reuid=%d" % user, "--regid=%d" % gid_of(user),
                      "--clear-groups"]
        # listen=None leaves --listen to the config file (which the
        # command line would override).
        # download_dir=False leaves it to the config file too (the
        # default, STATE/downloads, is the same directory).
        self.argv = prefix + [exe, "-s", self.sock, "-d", self.state] + \
            (["--download-dir", self.downloads] if download_dir else []) + \
            (["--listen", listen] if listen else []) + \
            ["--no-dht", "--no-lsd", "--no-upnp", "--tick", "200",
             "--log-level", "debug"] + extra
        self.proc = spawn(self.argv, self.log)
        self.stopped = False

    def alive(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout=30):
        """Retries connect every 20 ms until the daemon answers hello."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                fail("%s exited with %s before it was ready:\n%s"
                     % (self.name, self.proc.returncode, tail(self.log)))
            try:
                with Patron(self.sock, timeout=max(1.0, deadline - time.monotonic())) as p:
                    ev = p.call("hello", version=1)
                    check_eq(ev.get("type"), "Hello", "answer to hello")
                    return ev
            except (FileNotFoundError, ConnectionRefusedError):
                pass
            if time.monotonic() >= deadline:
                fail("%s did not accept connections within %d s:\n%s"
                     % (self.name, timeout, tail(self.log)))
            select.select([], [], [], 0.02)

    def patron(self, timeout=20.0):
        return Patron(self.sock, timeout)

    def info(self):
        with self.patron() as p:
            return p.expect("info", "Info")

    def stop(self):
        """SIGTERM, then the exit code must be 0 (SPEC 3). Returns problems."""
        if self.stopped:
            return []
        self.stopped = True
        if not self.alive():
            return ["%s had died during the test (exit status %s)"
                    % (self.name, self.proc.returncode)]
        rc = _kill(self.proc, grace=20)
        if rc != 0:
            return ["%s exited with %s on SIGTERM (expected 0)" % (self.name, rc)]
        return []


class Tracker(wltracker.WhitelistTracker):
    """opentracker on 127.0.0.1 with its whitelist (Debian builds it
    whitelist-only).  Started as root it drops to nobody, so its directory
    and whitelist are world-readable; it chroots into its -d directory."""

    def __init__(self, env):
        self.env = env
        self.dir = env.mkdir("tracker", mode=0o755)
        self._init_whitelist(self.dir)
        self.log = os.path.join(env.logs, "opentracker.log")
        for _ in range(5):
            self.port = free_port()
            self.proc = spawn(["opentracker", "-i", "127.0.0.1", "-p", str(self.port),
                               "-P", str(self.port), "-d", self.dir, "-w", "whitelist"],
                              self.log, cwd=self.dir)
            try:
                wait_until(self._up, 10, "opentracker to listen")
                break
            except TestFailure:
                if self.proc.poll() is None:
                    raise
                # lost the port race: try another
        else:
            fail("opentracker would not start:\n" + tail(self.log))
        self.announce = "http://127.0.0.1:%d/announce" % self.port
        env.procs.append(("opentracker", self.proc, self.log))

    def _up(self):
        if self.proc.poll() is not None:
            raise TestFailure("opentracker exited: " + tail(self.log))
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def stop(self):
        _kill(self.proc)

    def _get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                    timeout=5) as r:
            return r.read()

    def _signal(self, sig):
        self.proc.send_signal(sig)

    def _wait(self, pred, timeout, what):
        return wait_until(pred, timeout, what)

    def wait_seeders(self, hex_hash, n=1, timeout=60):
        return wait_until(lambda: self.scrape(hex_hash).get("complete", 0) >= n,
                          timeout, "the tracker to count %d seeder(s) of %s" % (n, hex_hash))


class Aria2:
    """aria2c as a foreign peer on 127.0.0.1: a seeder (checks the data
    with -V, then seeds until stopped) or a leecher (exits when done)."""

    def __init__(self, env, name, torrent, data_dir, seed):
        self.env = env
        self.name = name
        self.port = free_port()
        self.log = os.path.join(env.logs, name + ".log")
        argv = ["aria2c", "--no-conf=true", "--enable-dht=false", "--enable-dht6=false",
                "--enable-peer-exchange=false", "--bt-enable-lpd=false",
                "--interface=127.0.0.1", "--disable-ipv6=true",
                "--listen-port=%d" % self.port, "--dir=%s" % data_dir,
                "--check-integrity=true", "--bt-seed-unverified=false",
                "--file-allocation=none", "--summary-interval=0",
                "--console-log-level=warn", "--log=%s.detail" % self.log,
                "--log-level=info", "--stop-with-process=%d" % os.getpid(),
                "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=10",
                "--max-overall-upload-limit=0", "--max-overall-download-limit=0"]
        if seed:
            argv += ["--seed-ratio=0.0"]
        else:
            argv += ["--seed-time=0"]
        argv.append(torrent)
        self.proc = spawn(argv, self.log)
        env.procs.append((name, self.proc, self.log))

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("%s did not finish within %d s:\n%s\n%s"
                 % (self.name, timeout, tail(self.log), tail(self.log + ".detail", 20)))

    def stop(self):
        return _kill(self.proc, grace=15)


# --------------------------------------------------------------------------
# Running a file's tests

_TESTS = []


def test(fn):
    _TESTS.append(fn)
    return fn


def is_root():
    return os.geteuid() == 0


def main():
    """Runs every @test of the calling file; exit status 1 if any failed."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    only = set(sys.argv[1:])
    # TPD_TEST_NOT: tests that are not part of this run at all (the
    # unprivileged pass leaves out the test that starts its own
    # unprivileged daemon); run-tests.sh says which.
    left_out = set(filter(None, os.environ.get("TPD_TEST_NOT", "").split(",")))
    failed = 0
    for fn in _TESTS:
        name = fn.__name__
        if (only and name not in only) or name in left_out:
            continue
        env = Env(name)
        passed = False
        reason = None
        t0 = time.monotonic()
        try:
            fn(env)
            passed = True
        except TestSkip as e:
            env.close(True)
            print("skip %s: %s" % (name, e), flush=True)
            continue
        except TestFailure as e:
            reason = str(e)
        except KeyboardInterrupt as e:
            reason = "interrupted (%s)" % e
        except Exception:
            reason = "exception:\n" + traceback.format_exc()
        diag = env.diagnostics() if not passed else ""
        problems = env.close(passed)
        if passed and problems:
            passed = False
            reason = "; ".join(problems)
            diag = env.diagnostics()
        dt = time.monotonic() - t0
        if passed:
            print("ok %s (%.1f s)" % (name, dt), flush=True)
        else:
            failed += 1
            first, _, rest = reason.partition("\n")
            print("FAIL %s: %s" % (name, first), flush=True)
            if rest:
                print(rest, flush=True)
            if problems and reason != "; ".join(problems):
                print("also: " + "; ".join(problems), flush=True)
            print("logs kept in %s\n%s" % (env.logs, diag), flush=True)
        if reason and reason.startswith("interrupted"):
            break
    sys.exit(1 if failed else 0)
