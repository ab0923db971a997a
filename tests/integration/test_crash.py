"""test_crash - kill -9 in the middle of a download loses no verified piece.

tpd downloads a 256 MiB file from an aria2c seeder whose upload is
throttled (--max-overall-upload-limit), is killed with SIGKILL at 30-70 %
and started again on the same state directory, with the default resume
interval (60 s: no resume data has been saved yet, so only the forced
re-check after an unclean stop can find the pieces already on disk).  The
download must finish with the right SHA-1 while the bytes sent to tpd over
both runs stay under 1.25 times the file size.

How the bytes are counted: the aria2c seeder is given a copy of the
.torrent without an announce URL, so nobody learns its address from the
tracker.  The test runs a byte-counting TCP proxy on loopback, forwarding
to aria2c's listen port, and announces the proxy's port to the opentracker
as a seeder.  tpd's .torrent has that tracker, so in both runs tpd finds
exactly one peer, the proxy, and every payload byte it receives passes
through the counter (aria2c -> tpd direction).  No tpctl command adds a peer
to an existing torrent, which is why the tracker, and not `--peer`, brings
tpd to the seeder again after the restart.  As a check on the method, the
count must be at least the file size.
"""

import os
import socket
import threading
import urllib.parse
import urllib.request

import btwire as W
import tpdtest as T
from tpdtest import check, check_eq, test

SIZE = 256 * T.MIB
UPLOAD_LIMIT = "8M"
LOW, HIGH = 0.30, 0.70
MAX_FACTOR = 1.25


class CountingProxy:
    """Accepts on 127.0.0.1:port and relays each connection to target_port,
    counting the bytes that flow from the target back to the client."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.down = 0          # target -> client (what tpd receives)
        self.connections = 0
        self.socks = []
        self.closed = False
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", T.free_port()))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def count(self):
        with self.lock:
            return self.down

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                if self.closed:
                    c.close()
                    u.close()
                    return
                self.connections += 1
                self.socks += [c, u]
            threading.Thread(target=self._pump, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, True), daemon=True).start()

    def _pump(self, src, dst, counted):
        try:
            while True:
                b = src.recv(256 * 1024)
                if not b:
                    break
                if counted:
                    with self.lock:
                        self.down += len(b)
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        with self.lock:
            self.closed = True
            socks = list(self.socks)
        try:
            self.ls.close()
        except OSError:
            pass
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


def _announce_seeder(tracker, hex_hash, port):
    """Registers 127.0.0.1:port with the opentracker as a complete peer."""
    q = ("info_hash=" + urllib.parse.quote(bytes.fromhex(hex_hash))
         + "&peer_id=" + urllib.parse.quote(b"-TPDTEST-proxy000000")
         + "&port=%d&uploaded=0&downloaded=0&left=0&compact=1&numwant=0"
           "&event=completed" % port)
    with urllib.request.urlopen("http://127.0.0.1:%d/announce?%s" % (tracker.port, q),
                                timeout=5) as r:
        ans = T.bdecode(r.read())
    check(b"failure reason" not in ans, "the tracker refused the proxy: %r" % ans)


def _handshake_has_all(port, ih_hex, npieces):
    """True when a BitTorrent peer on port answers our handshake for this
    info-hash and announces every piece (its check of the data is done)."""
    ih = bytes.fromhex(ih_hex)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(5)
        s.sendall(W.handshake(ih))
        if W.handshake_ih(W.read_exact(s, W.HANDSHAKE_LEN)) != ih:
            return False
        while True:
            mid, payload = W.message(s)
            if mid == W.MSG_BITFIELD:
                return all(payload[i // 8] & (0x80 >> (i % 8)) for i in range(npieces))
            if mid == W.MSG_HAVE_ALL:
                return True


def _watch_until(p, tid, pred, timeout, what):
    return p.next(lambda e: e.get("type") == "StatusUpdate" and e.get("id") == tid
                  and pred(e), timeout, what)


@test
def test_kill9_mid_download_keeps_verified_pieces(env):
    tracker = env.start_tracker()
    src = env.mkdir("src")
    data = os.path.join(src, "big.bin")
    sha = T.write_random_file(data, SIZE)
    torrent = env.path("big.torrent")
    ih = env.mktorrent(data, torrent, tracker.announce, 18)
    with open(torrent, "rb") as f:
        tb = f.read()
    meta = T.bdecode(tb)
    npieces = len(meta[b"info"][b"pieces"]) // 20
    # The seeder's copy: same info dict, no tracker.
    quiet = {k: v for k, v in meta.items() if k not in (b"announce", b"announce-list")}
    quiet_path = env.path("big-seeder.torrent")
    with open(quiet_path, "wb") as f:
        f.write(T.bencode(quiet))
    with open(quiet_path, "rb") as f:
        check_eq(T.info_hash(f.read()), ih, "info-hash of the seeder's .torrent copy")
    tracker.allow(ih)

    seed_port = T.free_port()
    log = os.path.join(env.logs, "aria2-seed.log")
    argv = ["aria2c", "--no-conf=true", "--enable-dht=false", "--enable-dht6=false",
            "--enable-peer-exchange=false", "--bt-enable-lpd=false",
            "--interface=127.0.0.1", "--disable-ipv6=true",
            "--listen-port=%d" % seed_port, "--dir=%s" % src,
            "--check-integrity=true", "--bt-seed-unverified=false",
            "--file-allocation=none", "--summary-interval=0",
            "--console-log-level=warn", "--log=%s.detail" % log, "--log-level=info",
            "--stop-with-process=%d" % os.getpid(),
            "--max-overall-upload-limit=%s" % UPLOAD_LIMIT,
            "--max-overall-download-limit=0", "--seed-ratio=0.0", quiet_path]
    seeder = T.spawn(argv, log)
    env.procs.append(("aria2-seed", seeder, log))

    def seeder_ready():
        if seeder.poll() is not None:
            T.fail("aria2c seeder exited with %s:\n%s" % (seeder.returncode, T.tail(log)))
        return _handshake_has_all(seed_port, ih, npieces)
    T.wait_until(seeder_ready, 180, "the aria2c seeder to have every piece", interval=0.2)

    proxy = CountingProxy(seed_port)
    try:
        _announce_seeder(tracker, ih, proxy.port)
        _run(env, tracker, proxy, torrent, ih, sha)
    finally:
        proxy.close()


def _run(env, tracker, proxy, torrent, ih, sha):
    d = env.start_daemon()
    dl = env.mkdir("dl")
    with d.patron(timeout=60) as p:
        ev = p.expect("create", "NewTorrentCreated", path=torrent, save_dir=dl)
        tid = ev["id"]
        check_eq(ev.get("info_hash"), ih, "info_hash of the new torrent")
        mid = _watch_until(p, tid, lambda e: e.get("state") == "downloading"
                           and LOW <= e.get("progress", 0) <= HIGH, 240,
                           "progress between %d %% and %d %%" % (LOW * 100, HIGH * 100))
    d.proc.kill()
    d.proc.wait(timeout=10)
    d.stopped = True
    at_kill = proxy.count()
    check(proxy.connections >= 1, "tpd never connected through the proxy")

    d2 = env.start_daemon("tpd")
    # Hello is answered at once; the saved torrent is back once Info stops
    # saying `loading` (until then its id is not_found).
    T.wait_until(lambda: d2.info().get("loading") is False, 120,
                 "the restarted daemon to finish loading", interval=0.05)
    with d2.patron(timeout=60) as p:
        p.expect("watch", "Watching", ids=[tid])
        done = _watch_until(p, tid, lambda e: e.get("progress") == 1
                            and e.get("state") in ("finished", "seeding"), 600,
                            "the download to finish after the restart")
    check_eq(done.get("done_bytes"), SIZE, "done_bytes at the end")
    got = os.path.join(dl, "big.bin")
    check_eq(T.sha1_file(got), sha, "SHA-1 of the downloaded file")
    total = proxy.count()
    msg = ("bytes sent to tpd: %d before kill -9 (at %.0f %% progress, %d done bytes), "
           "%d in all, file %d (%.2fx)" % (at_kill, 100 * mid["progress"], mid["done_bytes"],
                                         total, SIZE, total / SIZE))
    print("  " + msg, flush=True)
    check(total >= SIZE, "the proxy counted less than the file size: tpd got data "
          "around the proxy, the measure is void; " + msg)
    check(total < MAX_FACTOR * SIZE, "tpd downloaded too much again after the crash "
          "(limit %.2fx): %s" % (MAX_FACTOR, msg))


if __name__ == "__main__":
    T.main()
