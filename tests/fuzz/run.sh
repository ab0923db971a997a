#!/bin/sh
# run.sh - runs libFuzzer targets one after another.
#
#   sh tests/fuzz/run.sh OUT SECONDS NAME...
#
# Each OUT/NAME runs for SECONDS (-max_total_time) over a working corpus
# OUT/corpus/NAME seeded from tests/fuzz/corpus/NAME (the checked-in seeds,
# crash regressions included, are never written to).  Any crash, leak,
# timeout or sanitizer report stops the run with a non-zero status; the
# input that caused it is in OUT (crash-*, leak-*, timeout-*, oom-*).
set -u
if [ $# -lt 3 ]; then
	echo "usage: $0 OUT SECONDS NAME..." >&2
	exit 2
fi
OUT=$1
SECS=$2
shift 2
cd "$(dirname "$0")/../.." || exit 1

status=0
for name in "$@"; do
	bin="$OUT/$name"
	seeds="tests/fuzz/corpus/$name"
	work="$OUT/corpus/$name"
	mkdir -p "$work"
	dict=""
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	echo "=== $name: ${SECS} s"
	# -timeout: any single input taking 10 s is a bug (a hang).
	# -rss_limit_mb / -malloc_limit_mb: an input must not make a parser
	# allocate without bound.
	if ! UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$OUT/$name-" $dict "$work" "$seeds" \
		2>"$OUT/$name.log"; then
		echo "FAIL $name: see $OUT/$name.log"
		grep -A40 -m1 'ERROR: \|runtime error\|fuzz_[a-z]*: ' "$OUT/$name.log" | head -60
		ls "$OUT"/"$name"-* 2>/dev/null
		status=1
	else
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$OUT/$name.log" |
			tr '\n' ' '
		echo
		echo "ok $name"
	fi
done
exit $status
