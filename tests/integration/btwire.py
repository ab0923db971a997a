"""btwire - the BitTorrent wire (BEP 3, BEP 6), as much of it as the tests
speak with no library in between: tests that must see exactly what a peer
sends, or send what no library would.

A closed connection raises ConnectionError (an OSError), which
tpdtest.wait_until treats as "not yet"."""

import os
import struct

PROTOCOL = b"\x13BitTorrent protocol"
HANDSHAKE_LEN = 68
FAST = 0x04          # BEP 6: bit of the last reserved byte

MSG_UNCHOKE = 1
MSG_INTERESTED = 2
MSG_HAVE = 4
MSG_BITFIELD = 5
MSG_REQUEST = 6
MSG_PIECE = 7
MSG_HAVE_ALL = 14
MSG_HAVE_NONE = 15
MSG_REJECT = 16


def handshake(ih, fast=False, peer_id=None):
    """The 68 bytes of a handshake for info-hash ih (20 bytes)."""
    reserved = bytearray(8)
    if fast:
        reserved[7] |= FAST
    return PROTOCOL + bytes(reserved) + ih + (peer_id or os.urandom(20))


def handshake_ih(hs):
    """The info-hash of a handshake, or None if it is not one."""
    if len(hs) < HANDSHAKE_LEN or not hs.startswith(PROTOCOL):
        return None
    return hs[28:48]


def read_exact(sock, n, who="the peer"):
    buf = b""
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise ConnectionError("%s closed the connection" % who)
        buf += d
    return buf


def message(sock, who="the peer"):
    """(id, payload) of the next message; keep-alives are skipped."""
    while True:
        (n,) = struct.unpack(">I", read_exact(sock, 4, who))
        if n:
            body = read_exact(sock, n, who)
            return body[0], body[1:]


def send(sock, msg_id, payload=b""):
    sock.sendall(struct.pack(">IB", 1 + len(payload), msg_id) + payload)
