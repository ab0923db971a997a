"""demo_hosts - `make demo` on two network-namespace hosts.

Owns the namespace half of the demo (tests/demo.sh runs it first and falls
back to loopback when it exits 77).  Two hosts, 10.77.0.1 and 10.77.0.2,
each in its own network namespace on a private bridge built by tests/swarm
(nothing reaches this machine's own network), with opentracker on the
bridge.  tpd runs on both hosts with the defaults users get (TCP and uTP,
DHT, PEX, LSD, encryption preferred, one connection per address): A
publishes a generated file with `tpctl seed`, B downloads it with
`tpctl add --wait` (a progress bar on a terminal), and the SHA-1 of both
copies is compared.  The namespaces and the files are removed at the end,
also on Ctrl-C.

Exit status: 0 the copies match; 1 something failed (the reason and the
daemons' logs are printed); 77 namespaces cannot be made here (the reason
on stderr), so the caller runs the loopback demo instead.

Runs in one thread; nothing sleeps to synchronise (tests/swarm waits on
conditions with deadlines; tpctl --wait follows the daemon's events).
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import swarm  # noqa: E402

UNAVAILABLE = 77
# Deadlines, generous for a loaded machine: the download itself has none
# (the user watches its progress bar and can press Ctrl-C).
SEED_TIMEOUT = 300


def step(text):
    print("\n== %s" % text, flush=True)


def tpctl(build, sock, *args, check=True):
    """Runs tpctl against a daemon's socket (outside the namespaces: the
    socket is a file), its output going to this terminal."""
    r = subprocess.run([os.path.join(build, "tpctl"), "-s", sock] + list(args),
                       stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise swarm.Broken("tpctl %s exited with %d" % (" ".join(args), r.returncode))
    return r


def demo(build, size_mib, workdir):
    try:
        sw = swarm.Swarm(2, workdir, build=build)
    except swarm.Unavailable as e:
        print("demo: no namespace hosts here (%s)" % e, file=sys.stderr)
        return UNAVAILABLE
    with sw:
        ha, hb = sw.hosts
        print("demo: two network-namespace hosts on a private bridge: "
              "A %s, B %s (tpd on its default network settings)"
              % (ha.addr, hb.addr), flush=True)
        step("tracker: opentracker on the bridge, %s" % swarm.BRIDGE_ADDR)
        tracker = sw.tracker()
        a = sw.tpd(ha, "A", ["--tracker", tracker.announce])
        b = sw.tpd(hb, "B")
        print("daemon A: %s on %s" % (a.sock, ha.addr))
        print("daemon B: %s on %s" % (b.sock, hb.addr))

        step("A: make a %d MiB file and publish it" % size_mib)
        data_dir = os.path.join(workdir, "A-data")
        os.makedirs(data_dir)
        data = os.path.join(data_dir, "demo.bin")
        sha_a = swarm.write_random_file(data, size_mib << 20)
        torrent = os.path.join(workdir, "demo.torrent")
        tpctl(build, a.sock, "seed", data, "--torrent-out", torrent, "--wait-seeding")
        info = a.request({"op": "list"})
        t = info["torrents"][0]

        step("tracker: allow info-hash %s" % t["info_hash"])
        tracker.allow(t["info_hash"])
        a.request({"op": "reannounce", "id": t["id"]})
        tracker.wait_seeders(t["info_hash"], 1, SEED_TIMEOUT)

        step("B (%s): download it through the tracker from A (%s)" % (hb.addr, ha.addr))
        b_dir = os.path.join(workdir, "B-data")
        os.makedirs(b_dir)
        tpctl(build, b.sock, "add", torrent, "--dir", b_dir, "--wait")
        tpctl(build, b.sock, "list")

        step("compare")
        sha_b = swarm.sha1_file(os.path.join(b_dir, "demo.bin"))
        print("A: %s\nB: %s" % (sha_a, sha_b))
        if sha_a != sha_b:
            print("demo: the copies differ", file=sys.stderr)
            return 1
        print("\ndemo: B has an identical copy, received over the bridge. Cleaning up.")
        sw.close()
        if sw.problems:
            print("demo: %s" % "; ".join(sw.problems), file=sys.stderr)
            return 1
        return 0


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    size_mib = int(os.environ.get("DEMO_SIZE_MIB", "256"))
    workdir = tempfile.mkdtemp(prefix="tpd-demo-hosts.")
    os.chmod(workdir, 0o755)
    sw_logs = os.path.join(workdir, "logs")
    try:
        return demo(build, size_mib, workdir)
    except (swarm.Broken, subprocess.SubprocessError, OSError, KeyError) as e:
        print("demo: %s" % e, file=sys.stderr)
        for name in sorted(os.listdir(sw_logs)) if os.path.isdir(sw_logs) else []:
            print("--- %s ---\n%s" % (name, swarm.tail(os.path.join(sw_logs, name), 15)),
                  file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
