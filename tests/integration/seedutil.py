"""seedutil - helpers shared by the seed/URL/pipe/magnet/access tests.

What tpdtest.py lacks for these tests: a local HTTP server with scripted
answers (a .torrent, a 404, an oversize body, a request that is never
answered, a redirect), reading `tpctl` output, comparing directory trees,
and running a small Python patron as another user.  Python 3 standard
library only; nothing here sleeps to synchronise (waits are on events with
deadlines), and only 127.0.0.1 is used.
"""

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading

import tpdtest as T
from tpdtest import check, describe, fail


# --------------------------------------------------------------------------
# A scripted HTTP server on 127.0.0.1

class HttpServer:
    """http.server in a thread, answering each path as scripted.

    Routes (path -> answer):
      ("body", status, bytes)        the bytes with Content-Length
      ("stream", bytes)              200, no Content-Length, closed at the end
      ("redirect", status, location) a redirect
      ("hang",)                      reads the request, never answers until
                                     the server stops
      ("gate", event, bytes)         waits until the test sets `event`, then
                                     answers 200 with the bytes
    Unknown paths are 404.  `hits` counts requests per path; reached(path)
    is an Event set when a request for path arrives."""

    def __init__(self, routes=None):
        self.routes = dict(routes or {})
        self.hits = {}
        self._reached = {}
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.hang_seen = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with outer.lock:
                    outer.hits[path] = outer.hits.get(path, 0) + 1
                    route = outer.routes.get(path)
                outer.reached(path).set()
                try:
                    self._answer(route)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the daemon gave up (size limit, timeout)

            def _answer(self, route):
                if route is None:
                    body = b"not here\n"
                    self.send_response(404)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif route[0] == "body":
                    _, status, body = route
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-bittorrent")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif route[0] == "stream":
                    self.send_response(200)
                    self.end_headers()
                    body = route[1]
                    for o in range(0, len(body), 65536):
                        self.wfile.write(body[o:o + 65536])
                elif route[0] == "redirect":
                    _, status, location = route
                    self.send_response(status)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif route[0] == "hang":
                    outer.hang_seen.set()
                    # Blocks on an event (set when the server stops), not a sleep.
                    outer.release.wait(120)
                elif route[0] == "gate":
                    _, event, body = route
                    # Blocks on the test's event (bounded), not a sleep.
                    if not event.wait(120):
                        return
                    self._answer(("body", 200, body))
                else:
                    raise ValueError("bad route %r" % (route,))

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def reached(self, path):
        with self.lock:
            return self._reached.setdefault(path, threading.Event())

    def wait_reached(self, path, timeout=30):
        if not self.reached(path).wait(timeout):
            fail("no request for %s reached the HTTP server within %d s" % (path, timeout))

    def hit_count(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


# --------------------------------------------------------------------------
# tpctl output and daemon state

NEW_RE = re.compile(r"New torrent (\d+) created in (\S+)")


def new_id(r, what):
    """The id in tpctl's `New torrent ID created in PATH` line."""
    check(r.returncode == 0, "%s: %s" % (what, describe(r)))
    m = NEW_RE.search(r.stdout)
    check(m is not None, "%s did not print 'New torrent ID created in PATH': %s"
          % (what, describe(r)))
    return int(m.group(1))


def listed(env, daemon, ih):
    """The status of the torrent with info-hash ih in `tpctl --json list`."""
    r = env.tpctl("list", daemon=daemon, json_mode=True)
    check(r.returncode == 0, "tpctl --json list: " + describe(r))
    lists = [e for e in T.json_lines(r.stdout) if e["type"] == "List"]
    check(len(lists) == 1, "tpctl --json list printed %d List events" % len(lists))
    found = [t for t in lists[0]["torrents"] if t.get("info_hash") == ih]
    check(len(found) == 1, "%d torrents with info-hash %s in %s's list: %s"
          % (len(found), ih, daemon.name, lists[0]["torrents"]))
    return found[0]


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def listen_port(daemon):
    port = daemon.info().get("listen_port")
    check(isinstance(port, int) and 0 < port < 65536,
          "%s's Info has no usable listen_port: %r" % (daemon.name, port))
    return port


def seed(env, daemon, path, tracker_url, out, piece_size=None, what="tpctl seed"):
    """`tpctl seed` through the daemon; returns (id, .torrent bytes, info-hash)."""
    args = ["seed", path, "--tracker", tracker_url, "--torrent-out", out]
    if piece_size:
        args += ["--piece-size", str(piece_size)]
    r = env.tpctl(*args, daemon=daemon, timeout=300)
    tid = new_id(r, what)
    check(os.path.abspath(out) in r.stdout,
          "%s did not print the path of the .torrent it wrote: %s" % (what, describe(r)))
    check(os.path.isfile(out), "%s did not write %s" % (what, out))
    tb = read_bytes(out)
    return tid, tb, T.info_hash(tb)


# --------------------------------------------------------------------------
# Trees of files

def tree(root):
    """{relative path: ("dir",) | ("file", size, sha1)} of everything under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for d in dirnames:
            out[os.path.normpath(os.path.join(rel, d))] = ("dir",)
        for f in filenames:
            p = os.path.join(dirpath, f)
            out[os.path.normpath(os.path.join(rel, f))] = (
                "file", os.path.getsize(p), T.sha1_file(p))
    return out


def compare_trees(want_root, got_root, what):
    want, got = tree(want_root), tree(got_root)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    if missing or extra or differ:
        fail("%s: %s differs from %s: missing %s, unexpected %s, different %s"
             % (what, got_root, want_root, missing, extra,
                [(k, want[k], got[k]) for k in differ]))


# --------------------------------------------------------------------------
# A patron running as another user

_RAW_PATRON = r"""
import json, socket, sys
sock, req = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
s.connect(sock)
s.sendall(req.encode() + b"\n")
want = json.loads(req).get("tag")
buf = b""
while True:
    nl = buf.find(b"\n")
    if nl >= 0:
        line, buf = buf[:nl], buf[nl + 1:]
        ev = json.loads(line)
        if ev.get("tag") == want and type(ev.get("tag")) is type(want):
            print(line.decode())
            sys.exit(0)
        continue
    chunk = s.recv(65536)
    if not chunk:
        print("EOF", file=sys.stderr)
        sys.exit(3)
    buf += chunk
"""


def raw_request_as(uid, sock, req, timeout=30):
    """Sends one request from a python process running as uid (setpriv) and
    returns its tagged answer as a dict."""
    req = dict(req)
    req.setdefault("tag", "as-%d" % uid)
    cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
           sys.executable, "-c", _RAW_PATRON, sock, json.dumps(req), str(timeout)]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout + 10)
    except subprocess.TimeoutExpired as e:
        fail("the patron running as uid %d did not finish: %r %r" % (uid, e.stdout, e.stderr))
    check(r.returncode == 0, "the patron running as uid %d failed: %s" % (uid, describe(r)))
    return json.loads(r.stdout.strip().splitlines()[-1])


def closed_port():
    """A loopback port nobody listens on (for announce URLs never used)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
