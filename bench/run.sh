#!/bin/sh
# make bench: the side-by-side benchmarks of SPEC sections 7 and 11.
#
# Builds the load generator (bench/rpcload.c) next to the daemon, then runs
# bench/bench.py, which owns the rows, the processes and the table; see the
# top of that file.  Everything runs on 127.0.0.1 in a temporary directory
# that is removed at the end, also on Ctrl-C or when the overall deadline
# (BENCH_TIMEOUT seconds, default 2700) passes.  Exit status: 0 when every
# row ran, 1 when something broke (a copy differs, a process failed, a
# deadline passed); timings never fail the run.
#
#   BENCH_SIZE_MIB=64 BENCH_TORRENTS=500 sh bench/run.sh build
set -eu

BUILD=${1:-build}
HERE=$(dirname "$0")
for tool in opentracker aria2c mktorrent transmission-daemon; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "bench: $tool is missing (make deps installs it)" >&2
		exit 1
	}
done
mkdir -p "$BUILD/bench"
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -pthread \
	-o "$BUILD/bench/rpcload" "$HERE/rpcload.c"
# timeout sends SIGTERM to bench.py, which stops its processes and removes
# its directory; -k is the backstop if even that hangs.
exec timeout --foreground -k 60 "${BENCH_TIMEOUT:-2700}" python3 "$HERE/bench.py" "$BUILD"
