"""test_hostile - a corpus of hostile request lines, each with its answer.

Malformed JSON, deep nesting, huge numbers, wrong types, NUL bytes, invalid
UTF-8, base64 garbage, bencode bombs, bad magnets, negative and huge ids:
each line gets the answer proto/PROTOCOL.md and common/proto.c give it (an
Error with the right code, or StartFail for a create whose content is bad),
echoing the tag whenever the line had a readable one.  Throughout, a
well-behaved patron on its own connection does `list` every few ms and
must get every answer within 2 s.

Path traversal: torrents whose file names are "../evil", ["..","..","evil"]
and an absolute path are created into a save_dir nested in the test's
directory, and a small BitTorrent peer in this file (TCP on 127.0.0.1)
serves their data, so the daemon really writes the files.  The daemon must
either refuse such a torrent (StartFail) or complete it with every file
inside save_dir; no "evil" or absolute-path file may appear anywhere else.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import threading
import time

import btwire as W
import tpdtest as T
from tpdtest import Patron, bencode, check, check_eq, fail, test

NOTAG = object()  # the answer must carry no tag
LIST_DEADLINE = 2.0


# --------------------------------------------------------------------------
# Torrents built by hand

def _pieces(content, plen):
    return b"".join(hashlib.sha1(content[o:o + plen]).digest()
                    for o in range(0, max(len(content), 1), plen))


def _single(name, content, plen=16384):
    info = {"length": len(content), "name": name, "piece length": plen,
            "pieces": _pieces(content, plen)}
    return bencode({"info": info}), info


def _multi(name, files, plen=16384):
    """files: list of (path list, bytes)."""
    content = b"".join(data for _, data in files)
    info = {"name": name, "piece length": plen, "pieces": _pieces(content, plen),
            "files": [{"length": len(data), "path": path} for path, data in files]}
    return bencode({"info": info}), info, content


def _b64(b):
    return base64.b64encode(b).decode()


# --------------------------------------------------------------------------
# A minimal seeding peer (BitTorrent peer wire protocol over TCP, no
# extensions): handshake, bitfield, unchoke, then a piece for each request.

class _Seeder:
    def __init__(self):
        self.torrents = {}  # info-hash bytes -> (piece length, content)
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.served = 0
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def add(self, info, content):
        h = hashlib.sha1(bencode(info)).digest()
        self.torrents[h] = (info["piece length"], content)
        return h.hex()

    def close(self):
        self.closing = True
        try:
            self.srv.close()
        except OSError:
            pass

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(60)
        try:
            hs = W.read_exact(c, W.HANDSHAKE_LEN)
            h = W.handshake_ih(hs)
            if h not in self.torrents:
                return
            plen, content = self.torrents[h]
            npieces = max(1, (len(content) + plen - 1) // plen)
            c.sendall(W.handshake(h, peer_id=b"-TT0001-" + os.urandom(12)))
            bits = bytearray((npieces + 7) // 8)
            for i in range(npieces):
                bits[i // 8] |= 0x80 >> (i % 8)
            W.send(c, W.MSG_BITFIELD, bytes(bits))
            W.send(c, W.MSG_UNCHOKE)
            while True:
                mid, payload = W.message(c)
                if mid == W.MSG_REQUEST and len(payload) == 12:
                    idx, begin, length = struct.unpack(">III", payload)
                    off = idx * plen + begin
                    block = content[off:off + length]
                    W.send(c, W.MSG_PIECE, struct.pack(">II", idx, begin) + block)
                    self.served += len(block)
        except (OSError, struct.error):
            pass
        finally:
            c.close()


# --------------------------------------------------------------------------
# The corpus

def _j(obj):
    return json.dumps(obj).encode()


def _corpus(env, magnet_hash):
    """(what, raw line without newline, expected type, code, tag)."""
    C = []

    def add(what, raw, typ, code=None, tag=NOTAG):
        C.append((what, raw if isinstance(raw, bytes) else raw.encode(), typ, code, tag))

    def err(what, obj_or_raw, code, tag=NOTAG):
        raw = _j(obj_or_raw) if isinstance(obj_or_raw, dict) else obj_or_raw
        add(what, raw, "Error", code, tag)

    def startfail(what, obj):
        add(what, _j(obj), "StartFail", None, obj["tag"])

    # Malformed JSON and non-objects: no readable tag.
    err("unterminated object", b'{"op":"list","tag":1', "bad_request")
    err("lone brace", b"{", "bad_request")
    err("trailing comma", b'{"op":"list","tag":1,}', "bad_request")
    err("single quotes", b"{'op':'list'}", "bad_request")
    err("garbage after the object", b'{"op":"list","tag":1} x', "bad_request")
    err("two objects", b'{"op":"list"}{"op":"list"}', "bad_request")
    err("bare number", b"12345678901234567890123456789", "bad_request")
    err("bare 1e999", b"1e999", "bad_request")
    err("array", b'[{"op":"list"}]', "bad_request")
    err("deep arrays (1000)", b"[" * 1000 + b"]" * 1000, "bad_request")
    err("deep objects (100)", b'{"a":' * 100 + b"1" + b"}" * 100, "bad_request")
    err("deep nesting inside a request (40)",
        b'{"op":"list","tag":1,"x":' + b"[" * 40 + b"]" * 40 + b"}", "bad_request")
    err("raw NUL byte", b'{"op":"list","tag":"a\x00b"}', "bad_request")
    err("invalid UTF-8 byte", b'{"op":"list","tag":"\xff"}', "bad_request")
    err("overlong UTF-8", b'{"op":"list","tag":"\xc0\xaf"}', "bad_request")
    err("UTF-8 surrogate", b'{"op":"list","tag":"\xed\xa0\x80"}', "bad_request")
    err("truncated UTF-8", b'{"op":"list","tag":"\xe2\x82"}', "bad_request")
    err("code point above U+10FFFF", b'{"op":"list","tag":"\xf4\x90\x80\x80"}', "bad_request")
    err("NaN tag", b'{"op":"list","tag":NaN}', "bad_request")
    # A number tag is echoed as the text sent (1e999 parses as inf here).
    add("huge number tag", b'{"op":"list","tag":1e999}', "List", None, float("inf"))
    err("array tag", {"op": "list", "tag": [1]}, "bad_request")
    err("object tag", {"op": "list", "tag": {"t": 1}}, "bad_request")
    # Shape errors with a readable tag.
    err("no op", {"tag": "h1"}, "bad_request", "h1")
    err("numeric op", {"op": 7, "tag": "h2"}, "bad_request", "h2")
    err("null op", {"op": None, "tag": "h3"}, "bad_request", "h3")
    err("unknown op", {"op": "frobnicate", "tag": "h4"}, "unknown_op", "h4")
    err("op with an escaped NUL", {"op": "list\u0000x", "tag": "h5"}, "unknown_op", "h5")
    err("1 MB op name", {"op": "x" * (1 << 20), "tag": "h6"}, "unknown_op", "h6")
    err("hello version string", {"op": "hello", "version": "1", "tag": "h7"}, "bad_request", "h7")
    err("status id string", {"op": "status", "id": "1", "tag": "h8"}, "bad_request", "h8")
    err("status id float", {"op": "status", "id": 1.5, "tag": "h9"}, "bad_request", "h9")
    err("status id null", {"op": "status", "id": None, "tag": "h10"}, "bad_request", "h10")
    err("status id bool", {"op": "status", "id": True, "tag": "h11"}, "bad_request", "h11")
    err("status id 1e400", b'{"op":"status","tag":"h12","id":1e400}', "bad_request", "h12")
    err("status id 2^64", b'{"op":"status","tag":"h13","id":18446744073709551616}',
        "bad_request", "h13")
    err("status id 10^30", b'{"op":"status","tag":"h14","id":1000000000000000000000000000000}',
        "bad_request", "h14")
    err("status id INT64_MIN", b'{"op":"status","tag":"h15","id":-9223372036854775808}',
        "bad_request", "h15")
    err("status id -1", {"op": "status", "id": -1, "tag": "h16"}, "not_found", "h16")
    err("status id 0", {"op": "status", "id": 0, "tag": "h17"}, "not_found", "h17")
    err("status id INT64_MAX", {"op": "status", "id": 2 ** 63 - 1, "tag": "h18"},
        "not_found", "h18")
    err("pause id -5", {"op": "pause", "id": -5, "tag": "h19"}, "not_found", "h19")
    err("close huge id", {"op": "close", "id": 2 ** 62, "tag": "h20"}, "not_found", "h20")
    err("close without id", {"op": "close", "tag": "h21"}, "bad_request", "h21")
    err("close delete_files 1", {"op": "close", "id": 1, "delete_files": 1, "tag": "h22"},
        "bad_request", "h22")
    err("watch ids with a string", {"op": "watch", "ids": [1, "2"], "tag": "h23"},
        "bad_request", "h23")
    err("watch ids object", {"op": "watch", "ids": {"1": 1}, "tag": "h24"}, "bad_request", "h24")
    err("watch unknown id", {"op": "watch", "ids": [987654], "tag": "h25"}, "not_found", "h25")
    err("watch negative id", {"op": "watch", "ids": [-1], "tag": "h26"}, "not_found", "h26")
    err("create without a source", {"op": "create", "tag": "c1"}, "bad_request", "c1")
    err("create with two sources", {"op": "create", "magnet": "magnet:?x", "url": "http://127.0.0.1/",
                                    "tag": "c2"}, "bad_request", "c2")
    err("create torrent number", {"op": "create", "torrent": 12, "tag": "c3"}, "bad_request", "c3")
    err("create torrent array", {"op": "create", "torrent": ["QQ=="], "tag": "c4"},
        "bad_request", "c4")
    err("create relative path", {"op": "create", "path": "x.torrent", "tag": "c5"},
        "bad_request", "c5")
    err("create path with an escaped NUL", {"op": "create", "path": "/etc/passwd\u0000.torrent",
                                            "tag": "c6"}, "bad_request", "c6")
    err("create relative save_dir", {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "1" * 40,
                                     "save_dir": "../x", "tag": "c7"}, "bad_request", "c7")
    err("create peers not strings", {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "2" * 40,
                                     "peers": [1], "tag": "c8"}, "bad_request", "c8")
    err("create paused string", {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "3" * 40,
                                 "paused": "yes", "tag": "c9"}, "bad_request", "c9")
    err("seed relative path", {"op": "seed", "path": "data", "tag": "s1"}, "bad_request", "s1")
    err("seed piece_size 1000", {"op": "seed", "path": "/tmp", "piece_size": 1000, "tag": "s2"},
        "bad_request", "s2")
    err("seed piece_size -16384", {"op": "seed", "path": "/tmp", "piece_size": -16384,
                                   "tag": "s3"}, "bad_request", "s3")
    err("seed version v3", {"op": "seed", "path": "/tmp", "version": "v3", "tag": "s4"},
        "bad_request", "s4")
    # Content errors: a well-formed create gets StartFail.
    startfail("base64 garbage", {"op": "create", "torrent": "!!!!not*base64", "tag": "b1"})
    startfail("base64 wrong length", {"op": "create", "torrent": "QUJDRA=", "tag": "b2"})
    startfail("base64 with whitespace", {"op": "create", "torrent": "QUJD RA==", "tag": "b3"})
    startfail("base64 padding inside", {"op": "create", "torrent": "QQ==QQ==", "tag": "b4"})
    startfail("empty torrent", {"op": "create", "torrent": "", "tag": "b5"})
    startfail("not bencode", {"op": "create", "torrent": _b64(b"this is not bencode"), "tag": "b6"})
    startfail("bencode bomb: 100000 nested lists",
              {"op": "create", "torrent": _b64(b"d4:info" + b"l" * 100000 + b"e" * 100000 + b"e"),
               "tag": "b7"})
    startfail("bencode bomb: nested dicts",
              {"op": "create", "torrent": _b64(b"d4:info" + b"d1:a" * 50000 + b"i1e" + b"e" * 50001),
               "tag": "b8"})
    startfail("bencode huge string length",
              {"op": "create", "torrent": _b64(b"d4:infod6:pieces99999999999999999999:abce4:name1:xe"),
               "tag": "b9"})
    startfail("bencode huge length value",
              {"op": "create", "torrent": _b64(bencode({"info": {
                  "length": 2 ** 62, "name": "x", "piece length": 16384,
                  "pieces": b"\0" * 20}})), "tag": "b10"})
    startfail("bencode negative length",
              {"op": "create", "torrent": _b64(bencode({"info": {
                  "length": -1, "name": "x", "piece length": 16384,
                  "pieces": b"\0" * 20}})), "tag": "b11"})
    startfail("bencode integer beyond int64",
              {"op": "create", "torrent": _b64(b"d4:infod6:lengthi99999999999999999999999999e"
                                               b"4:name1:x12:piece lengthi16384e6:pieces20:"
                                               + b"\0" * 20 + b"ee"), "tag": "b12"})
    startfail("info is an integer", {"op": "create", "torrent": _b64(b"d4:infoi1ee"), "tag": "b13"})
    startfail("pieces not a multiple of 20",
              {"op": "create", "torrent": _b64(bencode({"info": {
                  "length": 10, "name": "x", "piece length": 16384,
                  "pieces": b"\0" * 7}})), "tag": "b14"})
    startfail("magnet with a short hash", {"op": "create", "magnet": "magnet:?xt=urn:btih:abcd",
                                           "tag": "m1"})
    startfail("magnet with a non-hex hash",
              {"op": "create", "magnet": "magnet:?xt=urn:btih:" + "z" * 40, "tag": "m2"})
    startfail("magnet without xt", {"op": "create", "magnet": "magnet:?dn=x", "tag": "m3"})
    startfail("empty magnet", {"op": "create", "magnet": "", "tag": "m4"})
    startfail("magnet that is a URL", {"op": "create", "magnet": "http://127.0.0.1/x", "tag": "m5"})
    startfail("bad peer address", {"op": "create", "magnet": "magnet:?xt=urn:btih:" + magnet_hash,
                                   "peers": ["not-an-address"], "tag": "m6"})
    startfail("peer port out of range", {"op": "create", "magnet": "magnet:?xt=urn:btih:" + magnet_hash,
                                         "peers": ["127.0.0.1:99999"], "tag": "m7"})
    startfail("missing .torrent file", {"op": "create", "path": env.path("nope.torrent"), "tag": "p1"})
    startfail("directory as .torrent", {"op": "create", "path": env.dir, "tag": "p2"})
    startfail("url with file scheme", {"op": "create", "url": "file:///etc/passwd", "tag": "u1"})
    startfail("url with ftp scheme", {"op": "create", "url": "ftp://127.0.0.1/x.torrent", "tag": "u2"})
    startfail("seed without tracker and torrent_out", {"op": "seed", "path": env.dir, "tag": "s5"})
    # Things that are fine: unknown fields, blank-padded, 31 levels deep.
    add("unknown fields ignored", _j({"op": "list", "tag": "ok1", "zzz": [1, {"a": None}]}),
        "List", None, "ok1")
    add("blanks around the object", b' \t{"op":"list","tag":"ok2"}\t \r', "List", None, "ok2")
    add("nesting within the limit",
        b'{"op":"list","tag":"ok3","x":' + b"[" * 20 + b"]" * 20 + b"}", "List", None, "ok3")
    add("float tag", b'{"op":"list","tag":1.5e300}', "List", None, 1.5e300)
    add("huge integer tag", b'{"op":"list","tag":-9223372036854775807}', "List", None,
        -9223372036854775807)
    return C


def _answer_of(p, what):
    """The next event that is not a status push."""
    return p.next(lambda e: e["type"] not in ("StatusUpdate", "Closed") or "tag" in e, 30,
                  "the answer to %s" % what)


def _run_corpus(p, corpus):
    for what, raw, typ, code, tag in corpus:
        p.send(raw + b"\n")
        if tag is NOTAG:
            ev = _answer_of(p, what)
        else:
            ev = p.answer(tag, 30)
        got = (ev.get("type"), ev.get("code"))
        if got != (typ, code):
            fail("%s (%r): expected %s %s, got %s"
                 % (what, raw[:100], typ, code or "", T._short(ev)))
        if tag is NOTAG:
            check("tag" not in ev, "%s: answer has a tag: %s" % (what, T._short(ev)))
        else:
            check("tag" in ev and T.same_tag(ev["tag"], tag),
                  "%s: tag %r not echoed: %s" % (what, tag, T._short(ev)))
        if typ in ("Error", "StartFail"):
            check(isinstance(ev.get("reason"), str) and ev["reason"],
                  "%s: %s without a reason" % (what, typ))
    # Nothing extra was answered: a final list is the next tagged answer.
    tag = p.request("list")
    ev = _answer_of(p, "the final list")
    check(ev.get("tag") == tag and ev["type"] == "List",
          "an extra answer arrived after the corpus: %s" % T._short(ev))


@test
def test_hostile_corpus(env):
    d = env.start_daemon()
    lister = T.Lister(d.sock, LIST_DEADLINE)
    lister.start()
    corpus = _corpus(env, "4" * 40)
    check(len(corpus) >= 40, "corpus too small (%d)" % len(corpus))
    try:
        with d.patron(timeout=30) as p:
            _run_corpus(p, corpus)
            # No torrent came out of it: every create above was refused.
            check_eq(p.list(), [], "torrents after the hostile corpus")
        # Blank lines are keep-alives: no answer at all.
        with d.patron(timeout=30) as p:
            p.send(b"\n\r\n\n")
            tag = p.request("hello")
            ev = _answer_of(p, "hello after blank lines")
            check(ev.get("tag") == tag, "blank lines were answered: %s" % T._short(ev))
    finally:
        lister.finish()
    check(d.alive(), "the daemon died")


@test
def test_many_files_torrent(env):
    """A torrent of 10,000 one-byte files: created (or refused) promptly,
    while a well-behaved patron keeps its 2 s deadline."""
    d = env.start_daemon()
    lister = T.Lister(d.sock, LIST_DEADLINE)
    lister.start()
    try:
        files = [(["d%02d" % (i // 1000), "f%05d" % i], bytes([i % 256])) for i in range(10000)]
        tb, info, _ = _multi("many", files)
        save = env.mkdir("save")
        with d.patron(timeout=60) as p:
            t0 = time.monotonic()
            ev = p.call("create", torrent=_b64(tb), save_dir=save, paused=True)
            dt = time.monotonic() - t0
            check(ev["type"] in ("NewTorrentCreated", "StartFail"),
                  "10,000-file create answered %s" % T._short(ev))
            check(dt < 30, "10,000-file create took %.1f s" % dt)
            if ev["type"] == "NewTorrentCreated":
                st = p.expect("status", "Status", id=ev["id"])
                check_eq(st.get("name"), "many", "name of the 10,000-file torrent")
                p.expect("close", "Closed", id=ev["id"])
            # Past the daemon's cap (200,000 files) the answer is a
            # StartFail that says why, not a daemon holding it all.
            files = [(["d%03d" % (i // 1000), "%d" % i], b"x") for i in range(200001)]
            tb, _, _ = _multi("toomany", files)
            ev = p.call("create", torrent=_b64(tb), save_dir=save, paused=True)
            check_eq(ev["type"], "StartFail", "200,001-file create")
            check("200001 files" in ev.get("reason", ""),
                  "reason for 200,001 files: %r" % ev.get("reason"))
    finally:
        lister.finish()


def _escapes(env, save, markers):
    """Files named like a marker anywhere outside save (the test's tree, the
    ancestors of save, the root)."""
    found = []
    save_real = os.path.realpath(save)
    for root, dirs, files in os.walk(env.dir):
        r = os.path.realpath(root)
        if r == save_real or r.startswith(save_real + os.sep):
            continue
        for n in files + dirs:
            if any(m in n for m in markers):
                found.append(os.path.join(root, n))
    anc = os.path.dirname(save_real)
    while True:
        for m in markers:
            if os.path.lexists(os.path.join(anc, m)):
                found.append(os.path.join(anc, m))
        if anc == "/":
            break
        anc = os.path.dirname(anc)
    return sorted(set(found))


@test
def test_path_traversal_torrents(env):
    d = env.start_daemon()
    seeder = _Seeder()
    tag = os.urandom(4).hex()
    evil = "evil" + tag
    absname = "/tpdabs" + tag
    save = env.mkdir("deep", "a", "b", "save")
    try:
        c1 = os.urandom(30000)
        t1, i1 = _single("../" + evil, c1)
        files = [(["..", "..", evil + "m"], os.urandom(20000)),
                 ([absname], os.urandom(5000)),
                 (["ok", "fine.txt"], os.urandom(7000))]
        t2, i2, c2 = _multi("multi" + tag, files)
        c3 = os.urandom(9000)
        t3, i3 = _single("/abs1" + tag, c3)
        hashes = [seeder.add(i1, c1), seeder.add(i2, c2), seeder.add(i3, c3)]
        peer = "127.0.0.1:%d" % seeder.port
        created = {}
        with d.patron(timeout=60) as p:
            for tb, h in zip((t1, t2, t3), hashes):
                ev = p.call("create", torrent=_b64(tb), save_dir=save, peers=[peer])
                check(ev["type"] in ("NewTorrentCreated", "StartFail"),
                      "create of a traversal torrent answered %s" % T._short(ev))
                if ev["type"] == "NewTorrentCreated":
                    check_eq(ev.get("info_hash"), h, "info_hash")
                    check_eq(os.path.realpath(ev.get("save_path", "")), os.path.realpath(save),
                             "save_path")
                    created[ev["id"]] = h

            def done():
                sts = {s["id"]: s for s in p.list()}
                return all(sts[i]["progress"] >= 1.0 for i in created)

            if created:
                T.wait_until(done, 60, "the traversal torrents to complete from the local peer")
            bad = _escapes(env, save, [evil, "tpdabs" + tag, "abs1" + tag])
            check(not bad, "files written outside save_dir: %s" % bad)
            # Whatever was written is inside save_dir, under sanitized names.
            inside = []
            for root, _, fs in os.walk(save):
                for n in fs:
                    inside.append(os.path.relpath(os.path.join(root, n), save))
            for rel in inside:
                real = os.path.realpath(os.path.join(save, rel))
                check(real.startswith(os.path.realpath(save) + os.sep),
                      "file %s escapes save_dir" % rel)
            if created:
                check(inside, "the torrents completed but no file is in save_dir")
            print("  %d of 3 traversal torrents created; files in save_dir: %s"
                  % (len(created), sorted(inside)), flush=True)
            for i in created:
                p.expect("close", "Closed", id=i, delete_files=True)
            check(not _escapes(env, save, [evil, "tpdabs" + tag, "abs1" + tag]),
                  "files outside save_dir after close")
    finally:
        seeder.close()


if __name__ == "__main__":
    T.main()
