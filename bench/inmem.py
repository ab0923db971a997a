"""inmem - the daemon's in-memory costs at scale (issue 12), outside `make bench`.

One tpd on a temporary socket, loopback only; N torrents added pipelined
over one connection (magnets with random info-hashes, or with KIND
"torrents" tiny single-file .torrents of random content whose data is not
on disk), then:
  - RSS (VmRSS) with N torrents;
  - `list` of all N from one patron: p50 and max of LIST_REQUESTS;
  - one `status` from 64 patrons, p50/p99, idle;
  - the same while another ADD_MORE magnets are being added.
Timings are printed, never judged.  Usage (after `make all`):

    python3 bench/inmem.py build [N [magnets|torrents]]   # 10000 magnets
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

LIST_REQUESTS = 20
PATRONS = 64
STATUS_REQUESTS = 500   # per patron
ADD_MORE = 5000
WINDOW = 256            # unanswered creates at most, as rpcload's


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"


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
        st = bench.rpcload(b, "rpc", d.sock, PATRONS, STATUS_REQUESTS, 120, "status", 1,
                           timeout=130)
        print("status, %d patrons, idle: p50 %.3f ms, p99 %.3f ms, %.0f req/s"
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
        print("status, %d patrons, while adding %d: p50 %.3f ms, p99 %.3f ms, %.0f req/s "
              "(adds %.0f/s)" % (PATRONS, ADD_MORE, st["p50_ms"], st["p99_ms"],
                                 st["per_second"], adding["r"]["per_second"]))
        d.stop()
    finally:
        run.close()


if __name__ == "__main__":
    main()
