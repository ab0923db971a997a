"""test_fresh_first - a seed sends every piece once before any piece twice.

tpd seeds 4 pieces; three raw BitTorrent peers written here (loopback,
plain TCP, no library in between) ask it for blocks and read what comes
back, message by message:
  P1 (FAST extension) gets piece 0;
  P2 (FAST) asking for piece 0 gets REJECT_REQUEST (piece 0 went to P1
  and pieces 1-3 have gone to nobody), and the same block asked again is
  served;
  P1 announces piece 1 (HAVE): P2 asking for piece 1 is refused;
  P3 (no FAST extension, so it cannot be refused) gets piece 1;
  P2 gets piece 2, which nobody had; P1 gets piece 3, the last fresh one;
  then P2 gets piece 3: once every piece has gone out, all is served.
After a restart, the restored seed refuses again a piece already sent.
The data of every PIECE is compared with the file.
"""

import os
import socket
import struct

import btwire as W
import seedutil as U
import tpdtest as T
from tpdtest import check, check_eq, test

PIECE = 16384
PIECES = 4


class RawPeer:
    """One BitTorrent connection to 127.0.0.1:port, read message by message."""

    def __init__(self, port, ih, fast, name):
        self.name = name
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.sendall(W.handshake(ih, fast))
        hs = W.read_exact(self.s, W.HANDSHAKE_LEN, "%s: the seed" % name)
        check_eq(W.handshake_ih(hs), ih, "%s: info-hash in the seed's handshake" % name)
        if fast:
            self.send(W.MSG_HAVE_NONE)
        self.send(W.MSG_INTERESTED)
        self.wait_for(W.MSG_UNCHOKE)

    def send(self, msg_id, payload=b""):
        W.send(self.s, msg_id, payload)

    def message(self):
        return W.message(self.s, "%s: the seed" % self.name)

    def wait_for(self, msg_id):
        while True:
            mid, payload = self.message()
            if mid == msg_id:
                return payload

    def ask(self, piece):
        """Requests the whole of `piece` (one block); 'piece' with its
        data or 'reject'."""
        req = struct.pack(">III", piece, 0, PIECE)
        self.send(W.MSG_REQUEST, req)
        while True:
            mid, payload = self.message()
            if mid == W.MSG_PIECE and payload[:8] == req[:8]:
                return "piece", payload[8:]
            if mid == W.MSG_REJECT and payload == req:
                return "reject", None

    def close(self):
        self.s.close()


@test
def test_seed_sends_each_piece_once_first(env):
    tracker = env.start_tracker()
    a = env.start_daemon("seed")
    data = os.path.join(env.mkdir("src"), "four.bin")
    T.write_random_file(data, PIECE * PIECES)
    with open(data, "rb") as f:
        content = f.read()
    _, _, ih_hex = U.seed(env, a, data, tracker.announce, env.path("four.torrent"),
                          piece_size=PIECE)
    ih = bytes.fromhex(ih_hex)
    port = U.listen_port(a)

    def expect(peer, piece, want):
        got, body = peer.ask(piece)
        check_eq(got, want, "%s asking for piece %d" % (peer.name, piece))
        if got == "piece":
            check(body == content[piece * PIECE:(piece + 1) * PIECE],
                  "%s: the data of piece %d is not the file's" % (peer.name, piece))

    p1 = RawPeer(port, ih, True, "P1 (FAST)")
    p2 = RawPeer(port, ih, True, "P2 (FAST)")
    p3 = RawPeer(port, ih, False, "P3 (no FAST)")
    try:
        expect(p1, 0, "piece")
        expect(p2, 0, "reject")
        expect(p2, 0, "piece")          # asked again: served
        # P1's HAVE is read before its next request is answered.
        p1.send(W.MSG_HAVE, struct.pack(">I", 1))
        expect(p1, 0, "piece")
        expect(p2, 1, "reject")
        expect(p3, 1, "piece")
        expect(p2, 2, "piece")
        expect(p1, 3, "piece")
        expect(p2, 3, "piece")          # nothing is fresh any more
    finally:
        for p in (p1, p2, p3):
            p.close()

    # A seed restored at a restart does the same.
    problems = a.stop()
    check(not problems, "; ".join(problems))
    a = env.start_daemon("seed")
    T.wait_until(lambda: U.listed(env, a, ih_hex).get("state") == "seeding", 60,
                 "the restored torrent to be seeding")
    port = U.listen_port(a)
    p1 = RawPeer(port, ih, True, "P1 after the restart")
    p2 = RawPeer(port, ih, True, "P2 after the restart")
    try:
        expect(p1, 2, "piece")
        expect(p2, 2, "reject")
    finally:
        p1.close()
        p2.close()


if __name__ == "__main__":
    T.main()
