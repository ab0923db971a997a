"""inmem - the daemon's in-memory costs at scale (issue 12), outside `make bench`.

One tpd on a temporary socket, loopback only; N torrents added pipelined
over one connection (magnets with random info-hashes, or with KIND
"torrents" tiny single-file .torrents of random content whose data is not
on disk), then:
  - RSS (VmRSS) with N torrents;
  - `list` of all N from one patron: p50 and max of LIST_REQUESTS;
  - one `status` from 64 patrons in a CLOSED loop (each sends the next as
    soon as its answer came), idle and while another ADD_MORE magnets are
    added: a throughput figure; its p99 is about 64 times one request's
    cost, queueing among the patrons rather than the daemon's stalls;
  - one `status` from 64 patrons in an OPEN loop, as users see it: each
    sends one every PACE_MS, staggered, latency counted from when it was
    due; idle, then while another connection pipelines OPEN_ADDS .torrent
    creates (at most 1024 unanswered).  This is the SPEC 11 row "status
    under 64 patrons while 10,000 are added" (target p99 <= 0.5 ms).
With KIND "adds", only the main thread's costs while adding: N .torrent
creates pipelined over one connection (at most 1024 unanswered, as row 5
of bench.py), then the open loop above.  With KIND "list", only N magnets
and the `list` of all of them (the 100,000 row's `list`, alone).
Timings are printed, never judged.  Usage (after `make all`):

    python3 bench/inmem.py build [N [magnets|torrents|adds|list]]   # 10000 magnets
"""

import base64
import json
import os
import socket
import subprocess
import time
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Run, Tpd, rpcload)
from bench import bencode  # noqa: E402  (tests/bencode.py)

LIST_REQUESTS = 20
PATRONS = 64
STATUS_REQUESTS = 500   # per patron
ADD_MORE = 5000
WINDOW = 256            # unanswered creates at most, as rpcload's
PACE_MS = 32            # open loop: each patron's period
OPEN_SECONDS = 3        # open loop, idle: how long
OPEN_ADDS = 10000       # open loop: .torrent creates pipelined meanwhile


def tiny_torrent(i):
    """64 KiB in 4 pieces of random hashes: the data exists nowhere."""
    return bencode({"announce": "http://127.0.0.1:9/announce",
                    "info": {"name": "tiny-%d.bin" % i, "length": 65536,
                             "piece length": 16384, "pieces": os.urandom(80)}})


def add_torrents(sock, n, deadline_s):
    """n tiny .torrents over one connection; returns seconds taken."""
    reqs = [json.dumps({"op": "create", "tag": i,
                        "torrent": base64.b64encode(tiny_torrent(i)).decode()}) + "\n"
            for i in range(n)]
    t0 = time.monotonic()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(deadline_s)
        s.connect(sock)
        sent = answered = 0
        buf = b""
        while answered < n:
            while sent < n and sent - answered < WINDOW:
                s.sendall(reqs[sent].encode())
                sent += 1
            d = s.recv(1 << 20)
            if not d:
                raise bench.Broken("the daemon closed the connection")
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                ev = json.loads(line)
                if "tag" not in ev:
                    continue
                if ev["type"] != "NewTorrentCreated":
                    raise bench.Broken("create %s: %s" % (ev["tag"], ev))
                answered += 1
    return time.monotonic() - t0


def open_loop(b, d, t):
    """64 patrons each sending `status` every PACE_MS, idle and while
    OPEN_ADDS .torrent creates are pipelined over another connection."""
    n = int(OPEN_SECONDS * 1000 / PACE_MS)
    st = bench.rpcload(b, "rpc", d.sock, PATRONS, n, 60, "status", 1, PACE_MS, timeout=70)
    print("status, %d patrons open loop (every %d ms), idle: p50 %.3f ms, p99 %.3f ms, "
          "max %.3f ms (%d answers)" % (PATRONS, PACE_MS, st["p50_ms"], st["p99_ms"],
                                        st["max_ms"], st["answers"]))
    lines = b.run.path("open-creates.jsonl")
    with open(lines, "w") as f:
        for i, x in enumerate(bench.small_torrents(OPEN_ADDS)):
            f.write(json.dumps({"op": "create", "tag": i, "torrent": x, "paused": True}) + "\n")
    adding = {}

    def add():
        adding["r"] = bench.rpcload(b, "lines", d.sock, lines, 1024, t, timeout=t + 10)
        adding["end"] = time.monotonic()
    th = threading.Thread(target=add)
    t0 = time.monotonic()
    th.start()
    # Enough periods to cover the adds; only the answers due while the
    # adds ran are counted (rpcload's trace gives each one's due time).
    n = int(8 * 1000 / PACE_MS)
    trace = b.run.path("open-trace.txt")
    os.environ["RPCLOAD_TRACE"] = trace
    try:
        bench.rpcload(b, "rpc", d.sock, PATRONS, n, 60, "status", 1, PACE_MS, timeout=70)
    finally:
        del os.environ["RPCLOAD_TRACE"]
    th.join()
    with open(trace) as f:
        lat = sorted(float(lt) for due, lt in (x.split() for x in f)
                     if t0 <= float(due) <= adding["end"])
    if not lat:
        raise bench.Broken("no status was due while the creates ran")
    print("status, %d patrons open loop (every %d ms), while adding %d .torrents: "
          "p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d answers due during the %.1f s of "
          "adds, %.0f/s)"
          % (PATRONS, PACE_MS, OPEN_ADDS, lat[len(lat) // 2], lat[len(lat) * 99 // 100],
             lat[-1], len(lat), adding["end"] - t0, adding["r"]["per_second"]))


def row5_adds(b, d, n, t):
    """n .torrent creates over one connection, as bench.py's row 5."""
    lines = b.run.path("row5-creates.jsonl")
    with open(lines, "w") as f:
        # Past the open loop's OPEN_ADDS, which would be duplicates.
        for i, x in enumerate(bench.small_torrents(OPEN_ADDS + n)[OPEN_ADDS:]):
            f.write(json.dumps({"op": "create", "tag": i, "torrent": x, "paused": True}) + "\n")
    main0, all0 = cpu_seconds(d.proc.pid)
    r = bench.rpcload(b, "lines", d.sock, lines, 1024, t, timeout=t + 10)
    main1, all1 = cpu_seconds(d.proc.pid)
    # CPU time, unlike the rate, hardly depends on what else the machine
    # runs: the main (epoll) thread's is what stalls every patron.
    print("add %d .torrents, 1 connection, 1024 window: %.2f s, %.0f/s; CPU: main "
          "thread %.1f s (%.0f us an add), whole daemon %.1f s"
          % (n, r["seconds"], r["per_second"], main1 - main0,
             (main1 - main0) * 1e6 / n, all1 - all0))


def cpu_seconds(pid):
    """(the main thread's, the whole process's) user + system CPU seconds."""
    return bench.cpu_seconds(pid, pid), bench.cpu_seconds(pid)


class B:
    def __init__(self, run):
        self.run = run


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    kind = sys.argv[3] if len(sys.argv) > 3 else "magnets"
    os.makedirs(os.path.join(build, "bench"), exist_ok=True)
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-pthread", "-o",
                    os.path.join(build, "bench", "rpcload"),
                    os.path.join(os.path.dirname(__file__), "rpcload.c")], check=True)
    run = bench.Run(build)
    b = B(run)
    try:
        d = bench.Tpd(run, "inmem")
        rss0 = d.rss_kib()
        t = 60 + n * 0.05
        if kind == "adds":
            row5_adds(b, d, n, t)
            open_loop(b, d, t)
            d.stop()
            return
        if kind == "torrents":
            secs = add_torrents(d.sock, n, t)
            r = {"seconds": secs, "per_second": n / secs}
        else:
            r = bench.rpcload(b, "add", d.sock, 1, n, t, timeout=t + 10)
        print("add %d %s: %.2f s, %.0f/s" % (n, kind, r["seconds"], r["per_second"]))
        got = d.request({"op": "info"})["torrents"]
        if got != n:
            raise bench.Broken("%d torrents after adding %d" % (got, n))
        rss = d.rss_kib()
        print("RSS: %.1f MiB with %d torrents (%.1f MiB empty; %.1f KiB per torrent)"
              % (rss / 1024, n, rss0 / 1024, (rss - rss0) / n))
        lst = bench.rpcload(b, "rpc", d.sock, 1, LIST_REQUESTS, t, "list", 1, timeout=t + 10)
        print("list of %d: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
              % (n, lst["p50_ms"], lst["p99_ms"], lst["max_ms"]))
        if kind == "list":
            d.stop()
            return
        st = bench.rpcload(b, "rpc", d.sock, PATRONS, STATUS_REQUESTS, 120, "status", 1,
                           timeout=130)
        print("status, %d patrons closed loop, idle: p50 %.3f ms, p99 %.3f ms, %.0f req/s"
              % (PATRONS, st["p50_ms"], st["p99_ms"], st["per_second"]))
        one = bench.rpcload(b, "rpc", d.sock, 1, 5000, 120, "status", 1, timeout=130)
        print("status, 1 patron, idle: p50 %.3f ms, p99 %.3f ms"
              % (one["p50_ms"], one["p99_ms"]))
        adding = {}

        def add_more():
            adding["r"] = bench.rpcload(b, "add", d.sock, 1, ADD_MORE, t, timeout=t + 10)
        th = threading.Thread(target=add_more)
        th.start()
        st = bench.rpcload(b, "rpc", d.sock, PATRONS, STATUS_REQUESTS, 120, "status", 1,
                           timeout=130)
        one = bench.rpcload(b, "rpc", d.sock, 1, 2000, 120, "status", 1, timeout=130)
        th.join()
        print("status, 1 patron, while adding: p50 %.3f ms, p99 %.3f ms"
              % (one["p50_ms"], one["p99_ms"]))
        print("status, %d patrons closed loop, while adding %d: p50 %.3f ms, p99 %.3f ms, %.0f req/s "
              "(adds %.0f/s)" % (PATRONS, ADD_MORE, st["p50_ms"], st["p99_ms"],
                                 st["per_second"], adding["r"]["per_second"]))
        open_loop(b, d, t)
        d.stop()
    finally:
        run.close()


if __name__ == "__main__":
    main()
