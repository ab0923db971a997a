"""inmem - the daemon's in-memory costs at scale (issue 12), outside `make bench`.

One tpd on a temporary socket, loopback only; N magnets with random
info-hashes added pipelined over one connection, then:
  - RSS (VmRSS) with N torrents;
  - `list` of all N from one patron: p50 and max of LIST_REQUESTS;
  - one `status` from 64 patrons, p50/p99, idle;
  - the same while another ADD_MORE magnets are being added.
Timings are printed, never judged.  Usage (after `make all`):

    python3 bench/inmem.py build [N]      # N defaults to 10000
"""

import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Run, Tpd, rpcload)

LIST_REQUESTS = 20
PATRONS = 64
STATUS_REQUESTS = 500   # per patron
ADD_MORE = 5000


class B:
    def __init__(self, run):
        self.run = run


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
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
        r = bench.rpcload(b, "add", d.sock, 1, n, t, timeout=t + 10)
        print("add %d: %.2f s, %.0f/s" % (n, r["seconds"], r["per_second"]))
        got = d.request({"op": "info"})["torrents"]
        if got != n:
            raise bench.Broken("%d torrents after adding %d" % (got, n))
        rss = d.rss_kib()
        print("RSS: %.1f MiB with %d torrents (%.1f MiB empty; %.1f KiB per torrent)"
              % (rss / 1024, n, rss0 / 1024, (rss - rss0) / n))
        lst = bench.rpcload(b, "rpc", d.sock, 1, LIST_REQUESTS, t, "list", 1, timeout=t + 10)
        print("list of %d: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
              % (n, lst["p50_ms"], lst["p99_ms"], lst["max_ms"]))
        st = bench.rpcload(b, "rpc", d.sock, PATRONS, STATUS_REQUESTS, 120, "status", 1,
                           timeout=130)
        print("status, %d patrons, idle: p50 %.3f ms, p99 %.3f ms, %.0f req/s"
              % (PATRONS, st["p50_ms"], st["p99_ms"], st["per_second"]))
        adding = {}

        def add_more():
            adding["r"] = bench.rpcload(b, "add", d.sock, 1, ADD_MORE, t, timeout=t + 10)
        th = threading.Thread(target=add_more)
        th.start()
        st = bench.rpcload(b, "rpc", d.sock, PATRONS, STATUS_REQUESTS, 120, "status", 1,
                           timeout=130)
        th.join()
        print("status, %d patrons, while adding %d: p50 %.3f ms, p99 %.3f ms, %.0f req/s "
              "(adds %.0f/s)" % (PATRONS, ADD_MORE, st["p50_ms"], st["p99_ms"],
                                 st["per_second"], adding["r"]["per_second"]))
        d.stop()
    finally:
        run.close()


if __name__ == "__main__":
    main()
