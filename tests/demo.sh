#!/bin/sh
# make demo: a whole swarm on this machine.
#
# Where network namespaces can be made (root and `ip netns`), the demo runs
# on two namespace hosts with their own addresses (tests/demo_hosts.py) and
# tpd on its default network settings.  Elsewhere it runs here, on
# loopback, and says why.  On loopback:
# a tracker (opentracker) and two daemons run in a temporary directory.
# Daemon A publishes a generated file with `tpctl seed`; daemon B downloads
# it with `tpctl add --wait` (a progress bar on a terminal); the SHA-1 of
# both copies is compared.  Everything is stopped and removed at the end,
# also on Ctrl-C.
set -eu

BUILD=${1:-build}
SIZE_MIB=${DEMO_SIZE_MIB:-256}

# 77 from demo_hosts.py: no namespaces here (it printed why); anything
# else is its verdict.
rc=0
python3 "$(dirname "$0")/demo_hosts.py" "$BUILD" || rc=$?
if [ "$rc" -ne 77 ]; then
	exit "$rc"
fi
echo "demo: running on loopback instead (127.0.0.1, one machine)"

TPD=$(realpath "$BUILD/tpd")
TPCTL=$(realpath "$BUILD/tpctl")

TMP=$(mktemp -d /tmp/tpd-demo.XXXXXX)
chmod 755 "$TMP"
PIDS=""
cleanup() {
	trap - EXIT INT TERM
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up"; exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to $2 tenths of a second for the command $1 to succeed.
wait_for() {
	n=0
	until sh -c "$1" >/dev/null 2>&1; do
		n=$((n + 1))
		if [ "$n" -ge "$2" ]; then
			echo "demo: gave up waiting for: $1" >&2
			return 1
		fi
		sleep 0.1
	done
}

step() { printf '\n== %s\n' "$*"; }

TRACKER_PORT=$(free_port)
ANNOUNCE="http://127.0.0.1:$TRACKER_PORT/announce"
: >"$TMP/whitelist"
chmod 644 "$TMP/whitelist"

step "tracker: opentracker on 127.0.0.1:$TRACKER_PORT"
opentracker -i 127.0.0.1 -p "$TRACKER_PORT" -P "$TRACKER_PORT" \
	-w "$TMP/whitelist" >"$TMP/tracker.log" 2>&1 &
TRACKER_PID=$!
PIDS="$PIDS $TRACKER_PID"

for d in A B; do
	mkdir -p "$TMP/$d"
	"$TPD" -s "$TMP/$d/tpd.sock" -d "$TMP/$d/state" \
		--listen 127.0.0.1:0 --no-dht --no-lsd --no-upnp \
		--tracker "$ANNOUNCE" --tick 250 2>"$TMP/$d/tpd.log" &
	PIDS="$PIDS $!"
done
wait_for "'$TPCTL' -s '$TMP/A/tpd.sock' info" 100
wait_for "'$TPCTL' -s '$TMP/B/tpd.sock' info" 100
PORT_A=$("$TPCTL" -s "$TMP/A/tpd.sock" --json info | jq -r .listen_port)
echo "daemon A: $TMP/A/tpd.sock (BitTorrent port $PORT_A)"
echo "daemon B: $TMP/B/tpd.sock"

step "A: make a $SIZE_MIB MiB file and publish it"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom >"$TMP/A/demo.bin"
(cd "$TMP" && "$TPCTL" -s "$TMP/A/tpd.sock" seed A/demo.bin \
	--torrent-out "$TMP/demo.torrent" --wait-seeding)
HASH=$("$TPCTL" -s "$TMP/A/tpd.sock" --json list | jq -r '.torrents[0].info_hash')
ID_A=$("$TPCTL" -s "$TMP/A/tpd.sock" --json list | jq -r '.torrents[0].id')

step "tracker: allow info-hash $HASH"
echo "$HASH" >>"$TMP/whitelist"
kill -HUP "$TRACKER_PID"
"$TPCTL" -s "$TMP/A/tpd.sock" reannounce "$ID_A" >/dev/null
SCRAPE="http://127.0.0.1:$TRACKER_PORT/scrape?info_hash=$(printf '%s' "$HASH" | sed 's/../%&/g')"
# The tracker counts A as a seeder once A's announce went through.
wait_for "curl -fs '$SCRAPE' | grep -q '8:completei[1-9]'" 300 ||
	echo "demo: the tracker has not seen A yet; B gets A's address directly"

step "B: download it through the tracker"
"$TPCTL" -s "$TMP/B/tpd.sock" add "$TMP/demo.torrent" --dir "$TMP/B" \
	--peer "127.0.0.1:$PORT_A" --wait

step "compare"
SUM_A=$(sha1sum <"$TMP/A/demo.bin" | cut -d' ' -f1)
SUM_B=$(sha1sum <"$TMP/B/demo.bin" | cut -d' ' -f1)
echo "A: $SUM_A"
echo "B: $SUM_B"
"$TPCTL" -s "$TMP/B/tpd.sock" list
if [ "$SUM_A" != "$SUM_B" ]; then
	echo "demo: the copies differ" >&2
	exit 1
fi
echo
echo "demo: B has an identical copy. Cleaning up."
