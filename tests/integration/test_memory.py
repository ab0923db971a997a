"""test_memory - memory after load comes back.

Identical storms of many patrons in a row: each of 128 connections
pipelines a hello, 8 magnet creates, a create of a 100 KB .torrent, a list
and a watch, reads every answer, then closes every torrent it made and
disconnects.  WARM_UP storms bring the daemon to its working size.  Then
STORMS more, with the daemon's memory read after each from `info`.

A leak per patron or per torrent grows the allocator's bytes in use
(`heap_bytes`) in every storm by the same amount.  The resident size is
not the measure: it moves with how glibc keeps freed space (arenas,
trims), by several MiB up and down between identical storms (CI saw
+8 MiB once, and +5 MiB then -5 MiB in the next).  Heap bytes move with
what tpd and libtorrent hold: here steps of about +1.1 MiB, once or twice
in the first storms (a table reaching a new size), and a few KiB a storm
otherwise.  So the test judges the median of the heap's growths between
consecutive storms: at most GROWTH_BOUND a storm (1152 torrents a storm:
a leak of about 114 bytes a torrent), which three such steps cannot
fail.  And the resident size, which users see, must
come back: after the last storm at most RSS_BOUND times the first.
Bounded in time: each storm must finish within 300 s.

Under `make test-asan` the test is skipped, by name: AddressSanitizer's
allocator keeps freed blocks in a quarantine of up to 256 MiB and returns
nothing to the system, so the memory there measures the sanitizer.  Leaks
are also what LeakSanitizer (that run) and valgrind (`make test-valgrind`)
look for.
"""

import base64
import hashlib
import json
import os
import select
import socket
import time

import tpdtest as T
from tpdtest import check, test

PATRONS = 128
CREATES = 8
WARM_UP = 2
STORMS = 8
GROWTH_BOUND = 128 * 1024
RSS_BOUND = 1.50
STORM_SECONDS = 300


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    T.fail("no VmRSS for pid %d" % pid)


def _pump(socks, out, want, bufs, on_event, deadline):
    """Sends what is queued and reads until every wanted tag has come."""
    while any(want[s] for s in socks) or any(out[s] for s in socks):
        left = deadline - time.monotonic()
        check(left > 0, "storm not answered within %d s (%d patrons still waiting)"
              % (STORM_SECONDS, sum(1 for s in socks if want[s])))
        r, w, _ = select.select([s for s in socks if want[s]],
                                [s for s in socks if out[s]], [], left)
        for s in w:
            n = s.send(out[s][:65536])
            out[s] = out[s][n:]
        for s in r:
            data = s.recv(1 << 20)
            check(data, "the daemon closed a storm patron's connection")
            bufs[s] += data
            *lines, bufs[s] = bufs[s].split(b"\n")
            for line in lines:
                ev = json.loads(line.decode("utf-8"))
                tag = ev.get("tag")
                if tag in want[s]:
                    want[s].discard(tag)
                    on_event(s, ev)


def _storm(sock, torrents):
    deadline = time.monotonic() + STORM_SECONDS
    socks, out, want, bufs = [], {}, {}, {}
    for i in range(PATRONS):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.setblocking(False)
        socks.append(s)
        reqs = [{"op": "hello", "tag": "h"}]
        for j in range(CREATES):
            h = hashlib.sha1(b"storm-%d-%d" % (i, j)).hexdigest()
            reqs.append({"op": "create", "tag": "c%d" % j,
                         "magnet": "magnet:?xt=urn:btih:%s&dn=storm%d_%d" % (h, i, j)})
        reqs.append({"op": "create", "tag": "big", "torrent": torrents[i]})
        reqs.append({"op": "list", "tag": "l"})
        reqs.append({"op": "watch", "tag": "w"})
        out[s] = b"".join(json.dumps(r).encode() + b"\n" for r in reqs)
        want[s] = {r["tag"] for r in reqs}
        bufs[s] = b""
    made = {s: [] for s in socks}

    def created(s, ev):
        if ev.get("type") == "NewTorrentCreated":
            made[s].append(ev["id"])
        elif ev.get("tag", "").startswith("c") or ev.get("tag") == "big":
            T.fail("a storm create was answered %s" % T._short(ev))
    _pump(socks, out, want, bufs, created, deadline)
    total = sum(len(v) for v in made.values())
    check(total == PATRONS * (CREATES + 1), "torrents made in the storm: %d" % total)
    for s in socks:
        out[s] = b"".join(json.dumps({"op": "close", "tag": "x%d" % i, "id": i}).encode()
                          + b"\n" for i in made[s])
        want[s] = {"x%d" % i for i in made[s]}

    def closed(s, ev):
        check(ev.get("type") == "Closed", "a storm close was answered %s" % T._short(ev))
    _pump(socks, out, want, bufs, closed, deadline)
    for s in socks:
        s.close()


@test
def test_repeated_storms(env):
    if "asan" in os.path.basename(T.build_dir()):
        raise T.TestSkip("memory under AddressSanitizer is its quarantine's, not tpd's")
    d = env.start_daemon(extra=["--log-level", "info"])
    # The same torrents in every storm: the storms are identical.
    torrents = [base64.b64encode(T.make_torrent_bytes("storm%d.bin" % i, os.urandom(100000)))
                .decode() for i in range(PATRONS)]
    for _ in range(WARM_UP):
        _storm(d.sock, torrents)  # to the working size
    heap, rss = [], []
    for n in range(1, STORMS + 1):
        t0 = time.monotonic()
        _storm(d.sock, torrents)
        with d.patron() as p:
            check(p.list() == [], "torrents left after storm %d" % n)
        info = d.info()
        for k in ("heap_bytes", "rss_bytes"):
            check(isinstance(info.get(k), int) and info[k] > 0,
                  "Info without a positive %s: %s" % (k, T._short(info)))
        heap.append(info["heap_bytes"])
        rss.append(info["rss_bytes"])
        check(abs(rss[-1] - _rss_kib(d.proc.pid) * 1024) < rss[-1] // 4,
              "Info's rss_bytes %d is not the kernel's VmRSS" % rss[-1])
        print("  storm %d: %.1f s, then heap %d KiB, RSS %d KiB"
              % (n, time.monotonic() - t0, heap[-1] >> 10, rss[-1] >> 10), flush=True)
    growths = sorted(b - a for a, b in zip(heap, heap[1:]))
    median = growths[len(growths) // 2]
    check(median <= GROWTH_BOUND,
          "the heap grew by a median of %d bytes a storm (%s after each), more than %d"
          % (median, heap, GROWTH_BOUND))
    check(rss[-1] <= rss[0] * RSS_BOUND,
          "RSS after the last storm is %d KiB, more than %.1f times %d KiB after the first"
          % (rss[-1] >> 10, RSS_BOUND, rss[0] >> 10))


if __name__ == "__main__":
    T.main()
