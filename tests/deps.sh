#!/bin/sh
# Installs the Debian packages tpd builds and tests with, only those missing.
# Runs as root or through sudo.  Used by `make deps` (and so by make run,
# make test, make demo, make bench) so a fresh Debian 12 machine needs no
# manual step.
set -eu

PKGS="build-essential pkg-config g++ libtorrent-rasterbar-dev libjson-c-dev
libcurl4-openssl-dev libsystemd-dev libssl-dev libcmocka-dev opentracker
aria2 mktorrent jq valgrind python3 util-linux systemd curl clang
libclang-rt-14-dev man-db python3-libtorrent debootstrap procps
libmicrohttpd-dev transmission-cli chromium chromium-driver python3-selenium
iproute2 transmission-daemon libsqlite3-dev"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "make deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Another apt (a second make in another tree) holds the lock for a while:
# wait for it rather than fail.
LOCK="-o DPkg::Lock::Timeout=900"
# shellcheck disable=SC2086
$SUDO apt-get $LOCK update -q
# shellcheck disable=SC2086
$SUDO apt-get $LOCK install -y -q --no-install-recommends $missing
