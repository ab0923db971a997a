#!/bin/sh
# fresh.sh - the README's `make test`, from a clean clone, in a new minimal
# Debian 12 root: the check that a missing install step cannot hide behind the
# packages this machine already has.  Run by `make test-fresh` (and .ci/run).
#
#   sh tests/fresh.sh [MAKE_TARGET]        (default: test)
#
# 1. A minimal bookworm root (debootstrap --variant=minbase) is made once and
#    kept as a tarball in $TPD_FRESH_CACHE (default /var/cache/tpd-fresh);
#    every run unpacks a new copy of it, so nothing installed by an earlier
#    run is ever there.
# 2. The committed HEAD of this tree is cloned into it (uncommitted changes
#    are not tested: CI sees only commits), and `make` is installed, as a
#    newcomer has it before typing `make test`.
# 3. `make test` runs there as root, in its own mount and PID namespaces:
#    /proc, /sys and /dev exist only inside, every process left behind dies
#    with the namespace, and nothing is mounted on this machine.  The network
#    is this machine's: apt reaches the Debian archive, tests use loopback.
#
# The exit status is make's.  The copy is removed afterwards; with
# TPD_FRESH_KEEP=1 it is kept when the run failed.  Needs root (debootstrap,
# chroot, namespaces) and debootstrap (make deps installs it).
set -eu

TARGET=${1:-test}
SUITE=bookworm
MIRROR=${TPD_FRESH_MIRROR:-http://deb.debian.org/debian}
CACHE=${TPD_FRESH_CACHE:-/var/cache/tpd-fresh}
TARBALL=$CACHE/$SUITE-minbase.tar

cd "$(dirname "$0")/.."
SRC=$(pwd)

if [ "$(id -u)" != 0 ]; then
	echo "fresh.sh: needs root (debootstrap, chroot and namespaces)" >&2
	exit 2
fi
for tool in debootstrap unshare chroot git; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "fresh.sh: $tool is missing (make deps installs it)" >&2
		exit 2
	}
done

start=$(date +%s)
WORK=$(mktemp -d /var/tmp/tpd-fresh.XXXXXX)
ROOT=$WORK/root
ok=0

# Removes the copy, but never while anything is still mounted under it: a
# mount there would mean the namespace leaked, and rm -rf would go through
# it into this machine's /dev or /proc.
cleanup() {
	if grep -q " $ROOT[/ ]" /proc/self/mountinfo 2>/dev/null; then
		echo "fresh.sh: something is still mounted under $ROOT; left in place" >&2
		return
	fi
	if [ "$ok" = 1 ] || [ "${TPD_FRESH_KEEP:-0}" != 1 ]; then
		rm -rf "$WORK"
	else
		echo "fresh.sh: the root is kept in $ROOT"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -s "$TARBALL" ]; then
	echo "fresh.sh: making a minimal $SUITE root from $MIRROR (cached in $CACHE)"
	mkdir -p "$CACHE"
	debootstrap --variant=minbase "$SUITE" "$WORK/boot" "$MIRROR" \
		>"$WORK/debootstrap.log" 2>&1 || {
		tail -n 20 "$WORK/debootstrap.log" >&2
		echo "fresh.sh: debootstrap failed" >&2
		exit 1
	}
	rm -rf "$WORK/boot/var/cache/apt/archives/"*.deb
	tar -C "$WORK/boot" -cf "$TARBALL.tmp" .
	mv "$TARBALL.tmp" "$TARBALL"
	rm -rf "$WORK/boot"
fi

mkdir "$ROOT"
tar -C "$ROOT" -xf "$TARBALL"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# debootstrap leaves no /etc/hosts; Debian's installer writes this one, so
# every installed machine can resolve localhost.
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
	>"$ROOT/etc/hosts"
git clone -q "$SRC" "$ROOT/root/tpd"
echo "fresh.sh: clean clone of $(git -C "$ROOT/root/tpd" rev-parse --short HEAD) in a new $SUITE root ($(($(date +%s) - start)) s)"

# Inside the namespaces: the kernel file systems, then the newcomer's steps.
# The environment is a clean one, as a login on that machine would have.
inner='
set -e
R=$1
# The root a mount point of its own: `ip netns exec` (the swarm tests)
# remounts / and fails on a plain directory.
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/dev/shm"
mount -t tmpfs tmpfs "$R/tmp"
mount -t tmpfs tmpfs "$R/run"
exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 CI="$2" DEBIAN_FRONTEND=noninteractive \
	/bin/sh -c "apt-get -q update >/dev/null &&
		apt-get -q install -y --no-install-recommends make >/dev/null &&
		cd /root/tpd && make $3"
'
set +e
unshare --mount --pid --fork --kill-child --propagation private \
	sh -c "$inner" fresh "$ROOT" "${CI:-}" "$TARGET" </dev/null
rc=$?
set -e
echo "fresh.sh: make $TARGET in a new $SUITE root exited $rc after $(($(date +%s) - start)) s"
[ "$rc" = 0 ] && ok=1
exit "$rc"
