"""test_answers - every answer arrives, carries the exact tag, and matches
what was just done.

- Half-close: after `info`, after a pipelined `create` (answered later by
  the engine) and after a last line without its newline, a patron that
  shuts down its sending side gets every answer, then end of stream.
- Tags of 2^64, -10^20, 1e400 and a 10,000-digit integer come back as
  the exact text sent.
- Two pipelined `close` of one id, and `pause`/`resume`/`reannounce`
  behind a pipelined `close`: `not_found`, never `internal`.
- `pause`, then at once `status` and `list` from another connection:
  `paused: true` (and `false` after `resume`).
"""

import json
import os
import socket
import time

import tpdtest as T
from tpdtest import check, check_eq, test


def _magnet(dn="x"):
    h = os.urandom(20).hex()
    return "magnet:?xt=urn:btih:%s&dn=%s" % (h, dn), h


def _half_close(sock, data, timeout=30):
    """Sends data, shuts down the sending side, reads to end of stream.
    Returns the raw lines received (fails if the daemon never closes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        check(left > 0, "no end of stream within %d s after half-close; got %r"
              % (timeout, buf[-2000:]))
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
    s.close()
    check(buf == b"" or buf.endswith(b"\n"), "last line cut: %r" % buf[-300:])
    return [l for l in buf.split(b"\n") if l]


def _events(lines):
    return [json.loads(l.decode("utf-8")) for l in lines]


def _by_tag(evs, tag):
    got = [e for e in evs if "tag" in e and T.same_tag(e["tag"], tag)]
    check_eq(len(got), 1, "answers with tag %r in %s" % (tag, T._short(evs)))
    return got[0]


@test
def test_half_close(env):
    d = env.start_daemon()
    evs = _events(_half_close(d.sock, b'{"op":"info","tag":1}\n'))
    check_eq(_by_tag(evs, 1).get("type"), "Info", "answer to info before half-close")

    m, h = _magnet("half")
    req = [{"op": "create", "tag": "c", "magnet": m},
           {"op": "list", "tag": "l"},
           {"op": "create", "tag": "dup", "magnet": m}]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in req)
    evs = _events(_half_close(d.sock, data))
    c = _by_tag(evs, "c")
    check_eq(c.get("type"), "NewTorrentCreated", "pipelined create before half-close")
    check_eq(c.get("info_hash"), h, "hash of the created torrent")
    check_eq(_by_tag(evs, "l").get("type"), "List", "list before half-close")
    dup = _by_tag(evs, "dup")
    check_eq(dup.get("type"), "AlreadyDownloading", "second create of the same magnet")
    check_eq(dup.get("id"), c["id"], "id named by AlreadyDownloading")

    # A last line without its newline is a request too.
    evs = _events(_half_close(d.sock, b'{"op":"hello","tag":2}\n{"op":"status","tag":3,"id":%d}'
                              % c["id"]))
    check_eq(_by_tag(evs, 2).get("type"), "Hello", "hello before the last line")
    st = _by_tag(evs, 3)
    check_eq(st.get("type"), "Status", "the last line, without its newline")
    check_eq(st.get("id"), c["id"], "id in the Status")
    # Many more lines than the daemon runs in one turn, then the last one
    # without its newline: all answered, in order, before the end.
    data = b"".join(b'{"op":"hello","tag":"h%d"}\n' % i for i in range(200))
    evs = _events(_half_close(d.sock, data + b'{"op":"hello","tag":"last"}'))
    check_eq([e.get("tag") for e in evs], ["h%d" % i for i in range(200)] + ["last"],
             "answers to 201 pipelined lines before a half-close")
    # ... also when it is the only one, with a \r, and a close answered by
    # the engine later.
    evs = _events(_half_close(d.sock, b'{"op":"close","tag":4,"id":%d}\r' % c["id"]))
    check_eq(_by_tag(evs, 4).get("type"), "Closed", "a lone close without its newline")
    # Nothing sent at all: end of stream at once, nothing else.
    check_eq(_half_close(d.sock, b""), [], "answers to an empty half-closed connection")
    # The daemon is still well.
    with d.patron() as p:
        check_eq(p.list(), [], "torrents after the close")


@test
def test_tags_exact(env):
    d = env.start_daemon()
    big = "7" * 10000
    tags = ["18446744073709551616", "-100000000000000000000",
            "-99999999999999999999", "12345678901234567890123", "1e400",
            "-0", "2.50E+3", big]
    with d.patron() as p:
        for t in tags:
            p.s.sendall(b'{"op":"hello","tag":%s}\n' % t.encode())
            while b"\n" not in p.buf:
                p.s.settimeout(20)
                chunk = p.s.recv(65536)
                check(chunk, "daemon closed the connection")
                p.buf += chunk
            line, p.buf = p.buf.split(b"\n", 1)
            want = b'{"type":"Hello","tag":%s,' % t.encode()
            check(line.startswith(want), "tag %s... echoed as %r" % (t[:30], line[:120]))
        # Two tags json-c reads as one value are two answers.
        p.send(b'{"op":"info","tag":18446744073709551616}\n'
               b'{"op":"info","tag":18446744073709551617}\n')
        a = p._read_line(time.monotonic() + 20)
        b = p._read_line(time.monotonic() + 20)
        check_eq((a.get("tag"), b.get("tag")),
                 (18446744073709551616, 18446744073709551617), "two near tags")
        for bad in (b"NaN", b"Infinity", b"-Infinity"):
            p.s.sendall(b'{"op":"hello","tag":%s}\n' % bad)
            ev = p._read_line(time.monotonic() + 20)
            check_eq((ev.get("type"), ev.get("code")), ("Error", "bad_request"),
                     "tag %s" % bad.decode())


@test
def test_lost_race_with_close(env):
    d = env.start_daemon()
    with d.patron() as p:
        for op in ["close", "pause", "resume", "reannounce"]:
            tid = p.expect("create", "NewTorrentCreated", magnet=_magnet(op)[0])["id"]
            t1 = p.request("close", id=tid)
            t2 = p.request(op, id=tid)
            check_eq(p.answer(t1).get("type"), "Closed", "first close")
            ev = p.answer(t2)
            check_eq((ev.get("type"), ev.get("code")), ("Error", "not_found"),
                     "%s behind a pipelined close: %s" % (op, T._short(ev)))
        # Many at once, with deletion too: never internal.
        ids = [p.expect("create", "NewTorrentCreated", magnet=_magnet("m%d" % i)[0])["id"]
               for i in range(10)]
        tags = []
        for tid in ids:
            tags.append((p.request("close", id=tid, delete_files=True), True))
            for op in ["close", "pause", "resume", "reannounce"]:
                tags.append((p.request(op, id=tid), False))
        for tag, first in tags:
            ev = p.answer(tag)
            if first:
                check_eq(ev.get("type"), "Closed", "close")
            else:
                check_eq((ev.get("type"), ev.get("code")), ("Error", "not_found"),
                         "request behind a close: %s" % T._short(ev))


@test
def test_read_your_writes(env):
    d = env.start_daemon(extra=["--tick", "5000"])
    with d.patron() as a, d.patron() as b:
        ids = [a.expect("create", "NewTorrentCreated", magnet=_magnet("r%d" % i)[0])["id"]
               for i in range(5)]
        for round_ in range(10):
            for op, want in (("pause", True), ("resume", False)):
                for tid in ids:
                    a.expect(op, op.capitalize() + "d", id=tid)
                    st = b.expect("status", "Status", id=tid)
                    check_eq(st.get("paused"), want,
                             "paused in status at once after %s (round %d)" % (op, round_))
                    lst = {t["id"]: t for t in b.list()}
                    check_eq(lst[tid].get("paused"), want,
                             "paused in list at once after %s (round %d)" % (op, round_))
                    st = a.expect("status", "Status", id=tid)
                    check_eq(st.get("paused"), want,
                             "paused in status on the same connection after %s" % op)


@test
def test_documented_ordering(env):
    """The ordering rules of PROTOCOL.md: a watch's first StatusUpdates come
    before the answer to a request sent after the watch; a status sent
    right behind a close (one write) still shows the torrent, and once
    Closed is sent it is not_found everywhere; an id not yet announced is
    not_found at once."""
    d = env.start_daemon(extra=["--tick", "5000"])
    with d.patron() as a, d.patron() as b:
        ids = [a.expect("create", "NewTorrentCreated", magnet=_magnet("o%d" % i)[0])["id"]
               for i in range(3)]
        b.send(b'{"op":"watch","tag":"w"}\n{"op":"list","tag":"l"}\n')
        seen = []
        while not any(e.get("tag") == "l" for e in seen):
            seen.append(b._read_line(time.monotonic() + 20))
        types = [(e.get("type"), e.get("tag"), e.get("id")) for e in seen]
        check_eq(types[0][:2], ("Watching", "w"), "first event after watch+list")
        ups = sorted(t[2] for t in types[1:-1] if t[0] == "StatusUpdate")
        check_eq(ups, sorted(ids), "StatusUpdates between Watching and List: %s" % types)
        check_eq(types[-1][:2], ("List", "l"), "last event")

        tid = ids[0]
        a.send(b'{"op":"close","tag":"c","id":%d}\n{"op":"status","tag":"s","id":%d}\n'
               % (tid, tid))
        st = a.answer("s")
        check_eq((st.get("type"), st.get("id")), ("Status", tid),
                 "status right behind an unanswered close")
        check_eq(a.answer("c").get("type"), "Closed", "the close")
        b.expect_error("status", "not_found", id=tid)
        # Pipelined behind the create that will make it: not known yet.
        m, _ = _magnet("ahead")
        a.send(b'%s\n{"op":"status","tag":"ahead","id":%d}\n'
               % (json.dumps({"op": "create", "tag": "mk", "magnet": m}).encode(),
                  max(ids) + 1))
        check_eq(a.answer("ahead").get("code"), "not_found", "status of an id not yet announced")
        check_eq(a.answer("mk").get("id"), max(ids) + 1, "id of the create")


if __name__ == "__main__":
    T.main()
