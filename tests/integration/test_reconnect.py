"""test_reconnect - a peer that closed the connection is tried again soon.

When two hosts that listen on the same port connect to each other at the
same moment, libtorrent keeps one of the two connections, chosen by each
end at random; half the time the ends choose differently and both
connections close.  With libtorrent's default (min_reconnect_time 60 s)
the two then stay apart for a minute, which in a 25-second swarm (bench
row 7) is the whole transfer.  tpd tries such a peer again after 10 s.

Here a raw BitTorrent peer written in the test (loopback, plain TCP) is
given to tpd with a magnet; it answers tpd's handshake and closes the
connection.  tpd must come back with a new handshake within 45 s (with
libtorrent's default it would be 60 s or more).
"""

import os
import socket
import threading
import time

import btwire as W
import tpdtest as T
from tpdtest import check, test


class ClosingPeer:
    """Listens on 127.0.0.1; answers each plaintext handshake, then closes.
    An encrypted handshake (which tpd may try first) is closed unanswered
    and not counted."""

    def __init__(self, ih):
        self.ih = ih
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.closed_at = []     # monotonic time of each answered handshake's close
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            with s:
                s.settimeout(10)
                try:
                    hs = W.read_exact(s, W.HANDSHAKE_LEN, "tpd")
                    if W.handshake_ih(hs) != self.ih:
                        continue
                    s.sendall(W.handshake(self.ih))
                except OSError:
                    continue
            with self.lock:
                self.closed_at.append(time.monotonic())

    def handshakes(self):
        with self.lock:
            return list(self.closed_at)

    def close(self):
        self.ls.close()


@test
def test_peer_that_closed_is_tried_again(env):
    d = env.start_daemon()
    ih = os.urandom(20)
    peer = ClosingPeer(ih)
    try:
        with d.patron() as p:
            p.expect("create", "NewTorrentCreated",
                     magnet="magnet:?xt=urn:btih:%s&dn=again" % ih.hex(),
                     peers=["127.0.0.1:%d" % peer.port])
        T.wait_until(lambda: len(peer.handshakes()) >= 1, 30,
                     "tpd's first handshake with the peer it was given")
        first = peer.handshakes()[0]
        T.wait_until(lambda: len(peer.handshakes()) >= 2, 45,
                     "tpd to connect again to the peer that closed its connection",
                     interval=0.1)
        again = peer.handshakes()[1] - first
        check(again < 45, "tpd came back after %.1f s" % again)
    finally:
        peer.close()


if __name__ == "__main__":
    T.main()
