"""test_swarm - tpd between real hosts on its real defaults (SPEC 9).

Every test builds its own hosts with tests/swarm: network namespaces on a
private bridge (10.77.0.0/24), nothing routed to this machine's network.
tpd runs there on the product's defaults (0.0.0.0:6881 and [::]:6881, TCP
and uTP, DHT, PEX, LSD, UPnP, encryption preferred, one connection per
address) unless a test says otherwise.  Where namespaces cannot be made
(not root, a container that refuses) every test here is skipped with the
reason, never passed.

What crossed the wire is read from the kernel of the host, not from tpd:
the per-namespace /proc/net/snmp counters (UDP datagrams for uTP, TCP
segments for TCP) and `ss` (who holds a TCP connection to whom).

The data is 64 MiB where issue 9 says 256 MiB: the whole file must stay
within a few minutes on a shared 2-core machine, and 64 MiB already makes
tens of thousands of uTP datagrams.
"""

import base64
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tpdtest as T  # noqa: E402
from tpdtest import check, check_eq, test  # noqa: E402

import swarm  # noqa: E402

SIZE = 64 * T.MIB
T_TRANSFER = 120   # generous: timings never decide a test


def _swarm(env, n):
    try:
        sw = swarm.Swarm(n, env.path("swarm"))
    except swarm.Unavailable as e:
        raise T.TestSkip(str(e))
    # Closed (processes killed, namespaces removed) with the test's Env.
    env.procs.append(("swarm", _SwarmCloser(sw), os.path.join(sw.logs, "none")))
    env.swarm = sw
    return sw


class _SwarmCloser:
    """Looks enough like a Popen for Env.close(): closing it closes the swarm."""

    def __init__(self, sw):
        self.sw = sw

    def poll(self):
        return None if not self.sw.closed else 0

    def send_signal(self, sig):
        self.sw.close()

    def wait(self, timeout=None):
        self.sw.close()
        return 0

    def kill(self):
        self.sw.close()


def _run(fn):
    """Adds the swarm's process logs to a failure's message."""
    def wrapped(env):
        try:
            fn(env)
        except (swarm.Broken, T.TestFailure) as e:
            sw = getattr(env, "swarm", None)
            raise T.TestFailure("%s\n%s" % (e, sw.diagnostics() if sw else ""))
    wrapped.__name__ = fn.__name__
    return wrapped


def _snmp(host):
    """The host's kernel counters: {('Udp','InDatagrams'): n, ...}."""
    r = host.run(["cat", "/proc/net/snmp"])
    out = {}
    lines = r.stdout.splitlines()
    for names, values in zip(lines[0::2], lines[1::2]):
        proto, _, keys = names.partition(":")
        for k, v in zip(keys.split(), values.partition(":")[2].split()):
            out[(proto, k)] = int(v)
    return out


def _delta(before, after, proto, key):
    return after[(proto, key)] - before[(proto, key)]


def _seed(env, d, tracker, name="payload.bin", size=SIZE):
    """Generates a file on d's host and seeds it from d; returns
    (torrent path, info-hash, sha1, data path)."""
    src = env.mkdir("src-" + d.name)
    data = os.path.join(src, name)
    sha = T.write_random_file(data, size)
    torrent = env.path(d.name + "-" + name + ".torrent")
    ev = d.request({"op": "seed", "path": data, "torrent_out": torrent,
                    "trackers": [tracker.announce] if tracker else [],
                    "piece_size": 256 * 1024}, timeout=120)
    check_eq(ev.get("type"), "NewTorrentCreated", "answer to seed: %s" % ev)
    ih = ev["info_hash"]
    if tracker:
        tracker.allow(ih)
        # Whitelisted after tpd's first announce was refused: announce again.
        check_eq(d.request({"op": "reannounce", "id": ev["id"]}).get("type"),
                 "Reannounced", "reannounce of the seed")
        tracker.wait_seeders(ih, 1, timeout=60)
    return torrent, ih, sha, data


def _fetch(env, d, torrent, peers=(), name="payload.bin"):
    """Adds the torrent on d (with peers to dial, if any); returns (id, path)."""
    dl = env.mkdir("dl-" + d.name)
    tid = d.add(torrent, dl, peers=peers)
    return tid, os.path.join(dl, name)


def _pair_transfer(env, extra_a, extra_b):
    """A seeds, B downloads through the tracker on the bridge; returns B's
    kernel counter deltas and the seconds the download took."""
    sw = _swarm(env, 2)
    ha, hb = sw.hosts
    tracker = sw.tracker()
    a = sw.tpd(ha, "a", extra_a)
    b = sw.tpd(hb, "b", extra_b)
    torrent, ih, sha, _ = _seed(env, a, tracker)
    before = _snmp(hb)
    t0 = T.time.monotonic()
    tid, got = _fetch(env, b, torrent)
    b.wait_complete(tid, T_TRANSFER)
    took = T.time.monotonic() - t0
    after = _snmp(hb)
    check_eq(T.sha1_file(got), sha, "SHA-1 of the file B downloaded")
    return after, before, took


@test
@_run
def test_two_hosts_defaults_tcp(env):
    """A on the defaults, B with --no-utp: the bytes come over TCP."""
    after, before, took = _pair_transfer(env, [], ["--no-utp"])
    segs = _delta(before, after, "Tcp", "InSegs")
    dgrams = _delta(before, after, "Udp", "InDatagrams")
    print("  64 MiB over TCP between two hosts: %.2f s (%d TCP segments, "
          "%d UDP datagrams in)" % (took, segs, dgrams), flush=True)
    # 64 MiB in segments of at most 64 KiB (GRO) is at least 1024 of them.
    check(segs >= SIZE // 65536, "only %d TCP segments reached B" % segs)
    check(dgrams < 1000, "%d UDP datagrams reached B with uTP off" % dgrams)


@test
@_run
def test_two_hosts_defaults_utp(env):
    """A on the defaults, B with --no-tcp: the bytes come over uTP."""
    after, before, took = _pair_transfer(env, [], ["--no-tcp"])
    segs = _delta(before, after, "Tcp", "InSegs")
    dgrams = _delta(before, after, "Udp", "InDatagrams")
    print("  64 MiB over uTP between two hosts: %.2f s (%d UDP datagrams, "
          "%d TCP segments in)" % (took, dgrams, segs), flush=True)
    # uTP packets carry at most about 1.4 KiB here (MTU 1500).
    check(dgrams >= SIZE // 1500, "only %d UDP datagrams reached B" % dgrams)
    check(segs < 2000, "%d TCP segments reached B with TCP off" % segs)


if __name__ == "__main__":
    T.main()
