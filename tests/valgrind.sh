#!/bin/sh
# valgrind.sh - runs build/tpd under valgrind through a short session and
# fails on any memory error or definite leak.
#
#   sh tests/valgrind.sh [BUILD]        (BUILD defaults to build)
#
# The daemon gets a temporary socket, state and download directory, no
# DHT/LSD/UPnP and a loopback listen address.  A Python patron then sends:
# hello, create magnet, create with bad base64, create with a real .torrent,
# list, watch, unwatch, status, pause, resume, close (both), seed of a small
# file, info; then SIGTERM.  valgrind runs with
# --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99,
# so a definite leak or any error (invalid read/write, uninitialised use,
# bad free) makes the daemon exit 99.  "still reachable" and "possibly lost"
# memory (libtorrent, boost, OpenSSL globals and thread caches) is not an
# error.  The full valgrind report is kept (its path printed) on failure.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
TPD=$BUILD/tpd
if [ ! -x "$TPD" ]; then
	echo "valgrind.sh: $TPD is not built (run make)" >&2
	exit 2
fi
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind.sh: valgrind is not installed" >&2
	exit 2
fi
TMP=$(mktemp -d /tmp/tpd-valgrind.XXXXXX) || exit 1
chmod 755 "$TMP"
mkdir -p "$TMP/state/downloads" "$TMP/data" "$TMP/save"
SOCK=$TMP/tpd.sock
VLOG=$TMP/valgrind.log
DLOG=$TMP/tpd.log

valgrind --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --error-exitcode=99 --num-callers=40 \
	--track-origins=yes --log-file="$VLOG" \
	"$TPD" -s "$SOCK" -d "$TMP/state" --download-dir "$TMP/state/downloads" \
	--listen 127.0.0.1:0 --no-dht --no-lsd --no-upnp --tick 200 \
	--workers 2 --log-level debug >"$DLOG" 2>&1 &
PID=$!

# The session; exit status 0 when every answer was the expected one.
PYTHONPATH=tests python3 - "$SOCK" "$TMP" "$PID" <<'PYEOF'
import base64, hashlib, json, os, select, socket, sys, time
from bencode import bencode  # tests/bencode.py

sock_path, tmp, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 120  # valgrind start-up is slow
while True:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("tpd exited before it was ready")
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
        break
    except (FileNotFoundError, ConnectionRefusedError):
        s.close()
        if time.monotonic() > deadline:
            sys.exit("tpd did not listen within 120 s")
        select.select([], [], [], 0.1)

buf = b""
pending = []

def read_event(limit):
    global buf
    end = time.monotonic() + limit
    while b"\n" not in buf:
        left = end - time.monotonic()
        if left <= 0:
            sys.exit("timed out; events so far: %r" % pending[-5:])
        s.settimeout(left)
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("tpd closed the connection")
        buf += chunk
    line, buf = buf.split(b"\n", 1)
    return json.loads(line)

n = 0
def call(op, want, **fields):
    global n
    n += 1
    tag = "v%d" % n
    msg = {"op": op, "tag": tag}
    msg.update(fields)
    s.sendall((json.dumps(msg) + "\n").encode())
    for ev in pending:
        if ev.get("tag") == tag:
            pending.remove(ev)
            break
    else:
        while True:
            ev = read_event(60)
            if ev.get("tag") == tag:
                break
            pending.append(ev)
    if ev["type"] not in want:
        sys.exit("%s: expected %s, got %r" % (op, want, ev))
    print("%-8s -> %s" % (op, ev["type"]), flush=True)
    return ev

call("hello", ["Hello"], version=1)
m = call("create", ["NewTorrentCreated"],
         magnet="magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=vg")
call("create", ["StartFail"], torrent="not base64!")
call("create", ["StartFail"], torrent=base64.b64encode(b"d4:spam4:eggse").decode())
content = os.urandom(40000)
pieces = b"".join(hashlib.sha1(content[o:o + 16384]).digest()
                  for o in range(0, len(content), 16384))
tb = bencode({"info": {"length": len(content), "name": "vgfile",
                       "piece length": 16384, "pieces": pieces}})
t = call("create", ["NewTorrentCreated"], torrent=base64.b64encode(tb).decode(),
         save_dir=os.path.join(tmp, "save"), paused=True)
call("create", ["AlreadyDownloading"], torrent=base64.b64encode(tb).decode())
call("list", ["List"])
call("watch", ["Watching"])
call("watch", ["Watching"], ids=[m["id"]])
call("status", ["Status"], id=m["id"])
call("status", ["Error"], id=999)
call("pause", ["Paused"], id=m["id"])
call("resume", ["Resumed"], id=m["id"])
call("frobnicate", ["Error"])
call("unwatch", ["Unwatched"], ids=[m["id"]])
call("unwatch", ["Unwatched"])
call("close", ["Closed"], id=m["id"])
call("close", ["Closed"], id=t["id"], delete_files=True)
data = os.path.join(tmp, "data", "small.bin")
with open(data, "wb") as f:
    f.write(os.urandom(100000))
call("seed", ["NewTorrentCreated"], path=data,
     trackers=["http://127.0.0.1:9/announce"],
     torrent_out=os.path.join(tmp, "data", "small.torrent"))
call("seed", ["StartFail"], path=data)  # no tracker and no torrent_out
call("info", ["Info"])
# A second connection that disconnects with a half line and an unread answer.
s2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s2.connect(sock_path)
s2.sendall(b'{"op":"list"}\n{"op":"hel')
s2.close()
call("list", ["List"])
s.close()
PYEOF
session=$?

kill -TERM "$PID" 2>/dev/null
# valgrind's exit (leak check included) can take a while on libtorrent.
wait "$PID"
rc=$?

echo "session exit $session, tpd exit $rc"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable" "$VLOG"
fail=0
if [ "$session" != 0 ]; then
	echo "FAIL: the session did not get the expected answers"
	tail -20 "$DLOG"
	fail=1
fi
if [ "$rc" != 0 ]; then
	echo "FAIL: tpd exited $rc under valgrind (99: errors or definite leaks)"
	# Show each error and definite-leak record with its stack.
	awk '/^==[0-9]+== (Invalid|Conditional|Use of uninit|Mismatched|Syscall param|Source and destination)|definitely lost in/ {p=1}
	     p {print} /^==[0-9]+== $/ {p=0}' "$VLOG" | head -200
	fail=1
fi
if [ "$fail" = 0 ]; then
	rm -rf "$TMP"
	echo "ok valgrind"
else
	echo "valgrind report kept in $VLOG, daemon log in $DLOG"
fi
exit $fail
