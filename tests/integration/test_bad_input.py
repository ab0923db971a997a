"""test_bad_input - every bad line gets the Error proto/PROTOCOL.md names.

Malformed JSON, non-objects, a missing or non-string op, unknown ops, wrong
field types, missing fields, relative paths, unknown ids and an oversize
line: each is answered with the exact `type` and `code`, echoing the tag
whenever the line carried one that could be read.  After each, the same
connection (except after too_large, which closes it) and another connection
opened before the bad input still answer a list.
"""

import json
import os
import threading

import tpdtest as T
from tpdtest import Patron, check, check_eq, test

LIMIT = 16 * T.MIB


def _error_for(p, raw, code, tag=None, has_tag=True):
    """Sends a raw line; the next tagged-or-Error event must be Error CODE."""
    p.send(raw)
    ev = p.next(lambda e: e["type"] == "Error" or "tag" in e, 20,
                "the answer to %r" % raw[:120])
    check(ev["type"] == "Error" and ev.get("code") == code,
          "line %r: expected Error %s, got %s" % (raw[:120], code, T._short(ev)))
    check(isinstance(ev.get("reason"), str) and ev["reason"],
          "Error without a reason for %r: %s" % (raw[:120], T._short(ev)))
    if has_tag:
        check("tag" in ev and T.same_tag(ev["tag"], tag),
              "line %r: tag %r not echoed: %s" % (raw[:120], tag, T._short(ev)))
    return ev


def _still_serving(bad, other):
    other.list()
    if bad is not None:
        bad.list()


def _line(obj):
    return json.dumps(obj) + "\n"


@test
def test_malformed_lines(env):
    d = env.start_daemon()
    with d.patron() as other, d.patron() as bad:
        other.expect("hello", "Hello")
        for raw in ['{"op":"list","tag":5\n', "not json at all\n", "{\n",
                    '{"op":"list"}}\n', '{"op":"list",}\n', '{"op":"list"\x00}\n']:
            _error_for(bad, raw, "bad_request", has_tag=False)
            _still_serving(bad, other)
        for raw in ["[1,2,3]\n", '"list"\n', "42\n", "null\n", "true\n"]:
            _error_for(bad, raw, "bad_request", has_tag=False)
            _still_serving(bad, other)


@test
def test_op_missing_or_unknown(env):
    d = env.start_daemon()
    with d.patron() as other, d.patron() as bad:
        _error_for(bad, _line({"tag": "no-op"}), "bad_request", "no-op")
        _still_serving(bad, other)
        for i, op in enumerate([5, None, ["list"], {"x": 1}, True]):
            _error_for(bad, _line({"op": op, "tag": "op%d" % i}), "bad_request", "op%d" % i)
            _still_serving(bad, other)
        for i, op in enumerate(["frobnicate", "LIST", "", "list ", "create2"]):
            _error_for(bad, _line({"op": op, "tag": i}), "unknown_op", i)
            _still_serving(bad, other)
        # A tag that is not a scalar is itself bad.
        _error_for(bad, _line({"op": "list", "tag": [1]}), "bad_request", has_tag=False)
        _error_for(bad, _line({"op": "list", "tag": {"a": 1}}), "bad_request", has_tag=False)
        _still_serving(bad, other)


@test
def test_tags_echoed_unchanged(env):
    d = env.start_daemon()
    with d.patron() as p:
        for tag in ["s", "", "ü☃ \"q\"", 0, -7, 12345678901, 2.5, True, False, None]:
            p.send(_line({"op": "hello", "tag": tag}))
            ev = p.next(lambda e: "tag" in e, 5, "the answer to tag %r" % (tag,))
            check_eq(ev["type"], "Hello", "answer to hello with tag %r" % (tag,))
            check(T.same_tag(ev["tag"], tag), "tag %r came back as %r" % (tag, ev["tag"]))
        # Without a tag, the answer has none.
        p.send(_line({"op": "hello"}))
        ev = p.next(lambda e: e["type"] == "Hello", 20, "Hello")
        check("tag" not in ev, "answer to an untagged request has a tag: %s" % T._short(ev))


@test
def test_wrong_types_and_missing_fields(env):
    d = env.start_daemon()
    src = env.mkdir("x")
    cases = [
        {"op": "close", "id": "1"},
        {"op": "close", "id": 1.5},
        {"op": "close", "id": None},
        {"op": "close", "id": 1, "delete_files": "yes"},
        {"op": "close"},
        {"op": "status"},
        {"op": "status", "id": [1]},
        {"op": "pause"},
        {"op": "resume", "id": "x"},
        {"op": "reannounce"},
        {"op": "watch", "ids": "1"},
        {"op": "watch", "ids": [1, "2"]},
        {"op": "unwatch", "ids": 3},
        {"op": "hello", "version": "one"},
        {"op": "create"},
        {"op": "create", "save_dir": src},
        {"op": "create", "magnet": 5},
        {"op": "create", "torrent": 123},
        {"op": "create", "path": ["/tmp/x.torrent"]},
        {"op": "create", "url": False},
        {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "a" * 40,
         "torrent": "ZGU="},
        {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "b" * 40,
         "url": "http://127.0.0.1:9/x.torrent"},
        {"op": "create", "path": "relative/x.torrent"},
        {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "c" * 40,
         "save_dir": "relative/dir"},
        {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "d" * 40, "save_dir": 7},
        {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "e" * 40, "peers": "127.0.0.1:1"},
        {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "f" * 40, "paused": "no"},
        {"op": "seed"},
        {"op": "seed", "path": 3},
        {"op": "seed", "path": "relative/file"},
        {"op": "seed", "path": src, "trackers": "http://127.0.0.1:1/announce"},
        {"op": "seed", "path": src, "piece_size": "big"},
        {"op": "seed", "path": src, "private": "yes"},
    ]
    with d.patron() as other, d.patron() as bad:
        for i, c in enumerate(cases):
            tag = "w%d" % i
            _error_for(bad, _line(dict(c, tag=tag)), "bad_request", tag)
            _still_serving(bad, other)
        # None of these may have created anything.
        check_eq(other.list(), [], "torrents after malformed creates")


@test
def test_unknown_ids(env):
    d = env.start_daemon()
    with d.patron() as other, d.patron() as bad:
        for op in ["close", "status", "pause", "resume", "reannounce"]:
            for tid in [99999, 1 << 40]:
                tag = "%s-%d" % (op, tid)
                _error_for(bad, _line({"op": op, "id": tid, "tag": tag}), "not_found", tag)
                _still_serving(bad, other)
        # An id that existed and was closed is unknown afterwards.
        ev = bad.expect("create", "NewTorrentCreated",
                        magnet="magnet:?xt=urn:btih:%s&dn=gone" % os.urandom(20).hex())
        bad.expect("close", "Closed", id=ev["id"])
        bad.expect_error("close", "not_found", id=ev["id"])
        bad.expect_error("status", "not_found", id=ev["id"])
        _still_serving(bad, other)


@test
def test_split_and_pipelined_lines(env):
    d = env.start_daemon()
    with d.patron() as p:
        # One request in pieces, then many in one write.
        p.send('{"op":"li')
        p.send('st","tag":"split"}')
        p.send("\n")
        check_eq(p.answer("split")["type"], "List", "answer to a request sent in pieces")
        p.send("".join(_line({"op": "hello", "tag": "m%d" % i}) for i in range(50))
               + "garbage\n" + _line({"op": "list", "tag": "after"}))
        for i in range(50):
            check_eq(p.answer("m%d" % i)["type"], "Hello", "pipelined hello %d" % i)
        check_eq(p.answer("after")["type"], "List", "answer after a garbage line")
        # A large but legal line: unknown fields are ignored.
        big = _line({"op": "list", "tag": "big", "pad": "A" * T.MIB})
        p.send(big)
        check_eq(p.answer("big")["type"], "List", "answer to a 1 MiB line")


@test
def test_pipelining_patron_shares_the_daemon(env):
    """A patron that sends thousands of requests in one write does not
    hold the others behind all of them: the daemon runs a few of a
    connection's lines a turn (SERVER_LINES_PER_TURN) and keeps the rest.
    Seen through `info`'s count of connections: another patron connects
    right after the write, and most of the pipelined answers count it (all
    of them counted one connection fewer when the daemon ran every line it
    had read before it accepted the next connection)."""
    d = env.start_daemon()
    n = 3000
    with d.patron(timeout=60) as a:
        alone = a.call("info")["connections"]
        a.send("".join(_line({"op": "info", "tag": "i%d" % i}) for i in range(n)))
        with d.patron() as b:
            check_eq(b.call("hello")["type"], "Hello", "the other patron's hello")
            counts = [a.answer("i%d" % i, 60)["connections"] for i in range(n)]
    later = sum(1 for c in counts if c == alone + 1)
    check(later >= n // 2, "only %d of %d pipelined answers were made after the "
          "other patron connected (connections: %d alone)" % (later, n, alone))


@test
def test_oversize_line(env):
    d = env.start_daemon()
    with d.patron() as other, d.patron(timeout=60) as bad:
        other.expect("hello", "Hello")
        line = ('{"op":"list","tag":"huge","pad":"' + "A" * (LIMIT + 4096) + '"}\n').encode()
        send_err = []

        def sender():
            try:
                bad.s.sendall(line)
            except OSError as e:  # the daemon may close before reading it all
                send_err.append(e)
        t = threading.Thread(target=sender)
        t.start()
        ev = bad.next(lambda e: True, 60, "the answer to an oversize line")
        check(ev["type"] == "Error" and ev.get("code") == "too_large",
              "oversize line: expected Error too_large, got %s" % T._short(ev))
        bad.expect_eof(30)
        t.join(timeout=60)
        check(not t.is_alive(), "sending the oversize line never ended")
        _still_serving(None, other)
        # The daemon accepts new connections afterwards.
        with d.patron() as fresh:
            fresh.list()


if __name__ == "__main__":
    T.main()
