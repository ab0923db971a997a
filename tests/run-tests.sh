#!/bin/sh
# run-tests.sh - runs tpd's test suites and totals their test cases.
#
#   sh tests/run-tests.sh BUILD [unit|integration]
#
# Called by `make test` (BUILD=build) and `make test-asan` (build-asan).
# Unit tests are the cmocka binaries BUILD/tests/test_*; each prints its own
# summary, which is read for the counts.  Integration tests are
# tests/integration/test_*.py, run with TPD_BUILD=BUILD; the harness prints
# one `ok NAME` / `FAIL NAME: reason` line per test case.  Every file runs
# under a timeout; a file that crashes, times out or exits non-zero without
# reporting a failure counts as one failed test.  Daemon logs and test
# directories live under one temporary directory, removed when everything
# passed and kept (its path printed) otherwise.  A test that cannot run here
# (`skip NAME: reason` from the harness, cmocka's SKIPPED) is counted as
# skipped, never as passed, and listed with its reason before the last line,
# which is always `N passed, N failed, N skipped`; the exit status is non-zero
# if any test failed or none passed.  After the integration tests, the
# transfer, seed, move, restart and delete tests run again with tpd as an
# unprivileged user (named NAME[unprivileged]; see below).
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 BUILD [unit|integration]" >&2
	exit 2
fi
BUILD=$1
WHAT=${2:-all}
case "$WHAT" in
all | unit | integration) ;;
*)
	echo "usage: $0 BUILD [unit|integration]" >&2
	exit 2
	;;
esac

cd "$(dirname "$0")/.." || exit 1

UNIT_TIMEOUT=${TPD_UNIT_TIMEOUT:-300}
INTEGRATION_TIMEOUT=${TPD_INTEGRATION_TIMEOUT:-600}

TMP=$(mktemp -d /tmp/tpd-tests.XXXXXX) || exit 1
# Tests switch to user nobody for some checks: the tree must be traversable.
chmod 755 "$TMP"
TPD_TEST_TMP=$TMP
TPD_BUILD=$BUILD
PYTHONDONTWRITEBYTECODE=1
export TPD_TEST_TMP TPD_BUILD PYTHONDONTWRITEBYTECODE

passed=0
failed=0
skipped=0
SKIPS="$TMP/skipped"
: >"$SKIPS"

# Runs "$@" under the timeout, showing its output live and keeping a copy in
# $TMP/$1's name.out; sets $rc and $out.
run_one() {
	name=$1
	limit=$2
	shift 2
	out="$TMP/$name.out"
	rcf="$TMP/$name.rc"
	echo "=== $name"
	{
		timeout -k 20 "$limit" "$@" </dev/null 2>&1
		echo $? >"$rcf"
	} | tee "$out"
	rc=$(cat "$rcf" 2>/dev/null || echo 1)
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "FAIL $name: killed after the ${limit} s timeout"
	fi
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), ..."
# per group; without a summary (a crash) the OK lines are what passed.
count_unit() {
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$out" |
		awk '{ s += $1 } END { print s + 0 }')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s), listed.*/\1/p' "$out" |
		awk '{ s += $1 } END { print s + 0 }')
	if ! grep -q '^\[  PASSED  \]' "$out" && ! grep -q '^\[  FAILED  \] [0-9]* test(s)' "$out"; then
		p=$(grep -c '^\[       OK \]' "$out")
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL $name: exit status $rc"
		f=1
	fi
	# Each skipped case is printed as it runs and again in the summary.
	sed -n "s/^\[  SKIPPED \] \([^ ]*\)\$/$name: \1/p" "$out" | sort -u >>"$SKIPS"
	passed=$((passed + p))
	failed=$((failed + f))
}

count_integration() {
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^FAIL ' "$out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL $name: exit status $rc without a failed test reported"
		f=1
	fi
	if [ "$rc" = 0 ] && [ "$f" != 0 ]; then
		echo "FAIL $name: reported failures but exited 0"
	fi
	sed -n "s/^skip \(.*\)/$name: \1/p" "$out" >>"$SKIPS"
	passed=$((passed + p))
	failed=$((failed + f))
}

if [ "$WHAT" != integration ]; then
	for t in "$BUILD"/tests/test_*; do
		case "$t" in *.o | *.d) continue ;; esac
		if [ ! -f "$t" ] || [ ! -x "$t" ]; then
			continue
		fi
		run_one "$(basename "$t")" "$UNIT_TIMEOUT" "$t"
		count_unit
	done
fi

if [ "$WHAT" != unit ]; then
	for t in tests/integration/test_*.py; do
		[ -f "$t" ] || continue
		run_one "$(basename "$t" .py)" "$INTEGRATION_TIMEOUT" python3 -u "$t"
		count_integration
	done
fi

# The unprivileged pass (issue 13): the transfer, seed, move, restart and
# delete tests once more with every daemon run as a system user of its own
# (tpd-test, made here if missing) through TPD_TEST_DAEMON_USER; the harness
# then speaks as that user too and gives it the directories the tests make.
# Tests about a root daemon by nature skip in this pass, saying why.
UNPRIV_USER=${TPD_TEST_UNPRIV_USER:-tpd-test}
UNPRIV_TESTS="test_transfer test_seed test_move test_restart test_storage"
# Not in the pass: the one test that starts its own daemon as nobody (it
# is the root pass's check of an unprivileged daemon; this pass is that
# check for every test above).
UNPRIV_NOT=test_unprivileged_daemon_downloads_and_seeds
if [ "$WHAT" != unit ]; then
	if [ "$(id -u)" != 0 ]; then
		for t in $UNPRIV_TESTS; do
			echo "$t[unprivileged]: needs root to run tpd as user $UNPRIV_USER" >>"$SKIPS"
		done
	elif ! id -u "$UNPRIV_USER" >/dev/null 2>&1 &&
		! useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --user-group "$UNPRIV_USER"; then
		echo "FAIL unprivileged pass: cannot create user $UNPRIV_USER (useradd)"
		failed=$((failed + 1))
	else
		for t in $UNPRIV_TESTS; do
			run_one "$t[unprivileged]" "$INTEGRATION_TIMEOUT" \
				env TPD_TEST_DAEMON_USER="$UNPRIV_USER" \
				TPD_TEST_NOT="$UNPRIV_NOT" \
				python3 -u "tests/integration/$t.py"
			count_integration
		done
	fi
fi

skipped=$(grep -c . "$SKIPS")
if [ "$skipped" -gt 0 ]; then
	echo "skipped (could not run here):"
	sed 's/^/  /' "$SKIPS"
fi
if [ "$failed" = 0 ] && [ "$passed" -gt 0 ]; then
	rm -rf "$TMP"
else
	echo "test output and logs kept in $TMP"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
