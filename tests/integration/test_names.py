"""test_names - a torrent's name is untrusted input.

User nobody creates a magnet and a .torrent whose names hold 0xFF, an
overlong form (C0 AF), a lone surrogate (ED A0 80), ESC sequences, CR/LF
with a forged log line and a NUL.  Then:
- root's `list` (root sees every torrent) is strict UTF-8 JSON, and the
  magnet's name is exactly the documented repair (proto/PROTOCOL.md,
  "Names"): one U+FFFD per ill-formed subpart, NUL as U+FFFD, control
  characters kept (JSON escapes them);
- `tpctl list`, `status`, `watch` and `explain` print no control byte,
  and one row per torrent;
- no line of the daemon's log begins with the text the name carried.
Needs root (to act as nobody).
"""

import json
import os
import select
import shutil
import signal
import subprocess
import time
import urllib.parse

import tpdtest as T
from tpdtest import NOBODY, Patron, check, check_eq, describe, test

FORGED = "tpd: error: forged"
# Raw bytes of the hostile name: 0xFF, overlong '/', a lone surrogate,
# ESC sequences (clear screen, set title), CR LF and a forged log line, a
# NUL and the tail that a C string would lose.
HOSTILE = (b"\xff" + b"\xc0\xaf" + b"\xed\xa0\x80" + b"\x1b[2J\x1b]0;pwned\x07"
           + b"\r\n" + FORGED.encode() + b"\x00tail")
# What the daemon must show for it: U+FFFD per maximal ill-formed subpart
# (1 + 2 + 3), NUL as U+FFFD, everything well-formed kept.
REPAIRED = ("\ufffd" * 6 + "\x1b[2J\x1b]0;pwned\x07\r\n" + FORGED
            + "\ufffdtail")


def _need_root():
    if not T.is_root():
        raise T.TestSkip("needs root to act as user nobody")


def _open_up(env, d):
    os.chmod(env.dir, 0o755)
    os.chmod(d.dir, 0o755)
    os.chmod(d.sock, 0o666)


def _as_nobody(sock):
    """A Patron whose SO_PEERCRED is nobody's (credentials of connect())."""
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        return Patron(sock)
    finally:
        os.seteuid(0)
        os.setegid(0)


def _hostile_torrent():
    """A multi-file .torrent whose name and a file path are hostile."""
    content = os.urandom(40000)
    pieces = b"".join(T.hashlib.sha1(content[o:o + 16384]).digest()
                      for o in range(0, len(content), 16384))
    info = {"name": HOSTILE + b"-file",
            "piece length": 16384, "pieces": pieces,
            "files": [{"length": 30000, "path": [HOSTILE, b"a\x1b[31m.bin"]},
                      {"length": 10000, "path": [b"plain.bin"]}]}
    return T.bencode({"info": info, "announce": "http://127.0.0.1:9/announce"})


def _no_control(text, what):
    """No C0 control but newline, no DEL, no C1 control, valid UTF-8."""
    try:
        s = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError as e:
        T.fail("%s is not UTF-8: %s" % (what, e))
    for ch in s:
        o = ord(ch)
        check(ch == "\n" or not (o < 0x20 or o == 0x7F or 0x80 <= o <= 0x9F),
              "%s holds control character U+%04X: %r" % (what, o, s[:2000]))
    return s


def _strict_json_lines(raw, what):
    """Each line strict UTF-8 JSON, no lone surrogate after decoding."""
    evs = []
    for line in raw.split(b"\n"):
        if not line:
            continue
        try:
            text = line.decode("utf-8")  # strict: refuses 0xFF, overlongs, surrogates
            ev = json.loads(text)
        except (UnicodeDecodeError, ValueError) as e:
            T.fail("%s is not strict UTF-8 JSON (%s): %r" % (what, e, line[:300]))
        # \\ud800 escapes would decode to a lone surrogate: not UTF-8 either.
        json.dumps(ev, ensure_ascii=False).encode("utf-8")
        evs.append(ev)
    return evs


def _read_until(proc, buf, pred, timeout, what):
    """Reads proc's stdout (raw, so select() sees it) until pred(buf)."""
    deadline = time.monotonic() + timeout
    while not pred(buf[0]):
        left = deadline - time.monotonic()
        check(left > 0, "%s: not seen within %d s; output %r" % (what, timeout, buf[0][-3000:]))
        r, _, _ = select.select([proc.stdout], [], [], left)
        if r:
            chunk = os.read(proc.stdout.fileno(), 65536)
            check(chunk != b"", "%s: tpctl ended early; output %r" % (what, buf[0][-3000:]))
            buf[0] += chunk


@test
def test_hostile_names(env):
    _need_root()
    d = env.start_daemon()
    _open_up(env, d)
    h = os.urandom(20).hex()
    magnet = "magnet:?xt=urn:btih:%s&dn=%s" % (h, urllib.parse.quote(HOSTILE, safe=""))
    tb = _hostile_torrent()
    with _as_nobody(d.sock) as nob:
        ev = nob.expect("create", "NewTorrentCreated", magnet=magnet)
        mid = ev["id"]
        check_eq(ev.get("name"), REPAIRED, "name of the hostile magnet in NewTorrentCreated")
        ev = nob.expect("create", "NewTorrentCreated",
                        torrent=T.base64.b64encode(tb).decode())
        tid = ev["id"]
        tname = ev.get("name")
        check(isinstance(tname, str) and "forged" in tname,
              "the .torrent's name lost its text: %r" % tname)
        check("tail" in tname, "the .torrent's name was cut: %r" % tname)
    ids = sorted([mid, tid])

    # Root's list, read as raw bytes: strict UTF-8 JSON, names as documented.
    with d.patron() as root:
        tag = root.request("list")
        raw = b""
        deadline = time.monotonic() + 20
        while not any(l.startswith(b'{"type":"List","tag":"%s"' % tag.encode())
                      for l in raw.split(b"\n")[:-1]):
            left = deadline - time.monotonic()
            check(left > 0, "no List within 20 s: %r" % raw[-500:])
            root.s.settimeout(left)
            chunk = root.s.recv(1 << 20)
            check(chunk, "daemon closed the connection")
            raw += chunk
        evs = _strict_json_lines(raw, "the daemon's output to root")
        lst = [e for e in evs if e.get("tag") == tag][0]
        byid = {t["id"]: t for t in lst["torrents"]}
        check_eq(sorted(byid), ids, "ids in root's list")
        check_eq(byid[mid]["name"], REPAIRED, "the magnet's name in root's list")
        check_eq(byid[tid]["name"], tname, "the .torrent's name in root's list")

    # tpctl as root: no control byte, one row per torrent.
    r = env.tpctl("list")
    check_eq(r.returncode, 0, "tpctl list (%s)" % describe(r))
    out = _no_control(r.stdout, "tpctl list output")
    rows = out.rstrip("\n").split("\n")
    check_eq(len(rows), 1 + len(ids), "rows of tpctl list (header + one per torrent): %r" % rows)
    for i, row in zip(ids, rows[1:]):
        check(row.split()[0] == str(i), "row of torrent %d: %r" % (i, row))
    check("\\x1B[2J" in out and "\\r\\n" + FORGED in out,
          "tpctl list does not show the escaped name: %r" % out)
    for i in ids:
        r = env.tpctl("status", str(i))
        check_eq(r.returncode, 0, "tpctl status %d (%s)" % (i, describe(r)))
        out = _no_control(r.stdout, "tpctl status %d output" % i)
        names = [l for l in out.splitlines() if l.startswith("name: ")]
        check_eq(len(names), 1, "name lines of tpctl status %d" % i)
        check(not any(l.startswith(FORGED) for l in out.splitlines()),
              "tpctl status %d printed a line the name began: %r" % (i, out))

    # watch (not a terminal): one line per update, each starting with an id.
    proc = subprocess.Popen([T.tpctl_bin(), "-s", d.sock, "watch"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, bufsize=0)
    T._PROCS.append(proc)
    buf = [b""]

    def both_seen(b):
        lines = b.split(b"\n")[:-1]
        return all(any(l.startswith(b"%d " % i) for l in lines) for i in ids)
    _read_until(proc, buf, both_seen, 20, "tpctl watch lines of both torrents")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    out = _no_control(buf[0], "tpctl watch output")
    for line in out.splitlines():
        check(line.split(" ", 1)[0] in {str(i) for i in ids},
              "tpctl watch line that is not a torrent's row: %r" % line)

    # explain: the name appears in "New torrent ... created in DIR/NAME".
    proc = subprocess.Popen([T.tpctl_bin(), "-s", d.sock, "explain"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, bufsize=0)
    T._PROCS.append(proc)
    buf = [b""]
    _read_until(proc, buf, lambda b: b"Torrent %d status" % mid in b, 20,
                "explain's line for the existing torrent")
    h2 = os.urandom(20).hex()
    with _as_nobody(d.sock) as nob:
        third = nob.expect("create", "NewTorrentCreated",
                           magnet="magnet:?xt=urn:btih:%s&dn=%s"
                           % (h2, urllib.parse.quote(HOSTILE, safe="")))["id"]
    _read_until(proc, buf, lambda b: b"New torrent %d created" % third in b, 20,
                "explain's line for the new hostile torrent")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    out = _no_control(buf[0], "tpctl explain output")
    for line in out.splitlines():
        check(line.startswith(("New torrent ", "Torrent ", "Closed torrent ")),
              "tpctl explain printed a line that is not an event: %r" % line)

    # The log: UTF-8, no control byte, and no line the name began.
    d.stop()
    with open(d.log, "rb") as f:
        log = f.read()
    text = _no_control(log, "the daemon's log")
    check("forged" in text, "the log never mentions the hostile torrents")
    for line in text.splitlines():
        check(not line.startswith((FORGED, "tail", "\ufffd")),
              "a log line begins with text from a torrent's name: %r" % line)


@test
def test_nul_in_magnet_name(env):
    """dn=x%00y is not cut at the NUL: it is shown as x U+FFFD y."""
    d = env.start_daemon()
    h = os.urandom(20).hex()
    with d.patron() as p:
        ev = p.expect("create", "NewTorrentCreated",
                      magnet="magnet:?xt=urn:btih:%s&dn=x%%00y" % h)
        check_eq(ev.get("name"), "x\ufffdy", "name of dn=x%00y")
        st = p.expect("status", "Status", id=ev["id"])
        check_eq(st.get("name"), "x\ufffdy", "status name of dn=x%00y")


if __name__ == "__main__":
    T.main()
