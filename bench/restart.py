"""bench/restart.py - restart and SIGTERM of one tpd holding N torrents.

    python3 bench/restart.py BUILD N STATE_DIR [ROUNDS]

The first run fills STATE_DIR with N small paused .torrents (one 16 KiB
piece each, pipelined over one connection through BUILD/bench/rpcload, at
most 1024 unanswered); later runs (or another BUILD, e.g. the main
branch's, for a before/after on the same state) reuse it.  Then ROUNDS
times (default 2): start until `list` has all N (asking `info` until the
restore ends, then `list`; timed to the list's arrival, and the daemon's
CPU seconds beside), SIGTERM until exit.  The daemon's own line "restored
N of N torrents in T ms" is printed beside.
Timings only: nothing here passes or fails on them.  Loopback only.
"""

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (request, cpu_seconds, rss_kib)
from bench import bencode  # noqa: E402


# When the last answer was whole: a restart is timed to when the daemon
# had delivered the full `list`, not to when this client had parsed it.
answered_at = 0.0


def request(sock, req, timeout):
    global answered_at
    ev, answered_at = bench.request(sock, req, timeout)
    return ev


def start(build, state, sock, log):
    if os.path.exists(sock):
        os.unlink(sock)
    argv = [os.path.join(build, "tpd"), "-s", sock, "-d", state, "--listen",
            "127.0.0.1:0", "--no-dht", "--no-lsd", "--no-upnp", "--no-utp"]
    return subprocess.Popen(argv, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def wait_for(pred, deadline, what):
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.05)  # polling a measurement, never a test's sync
    raise SystemExit("timed out waiting for " + what)


def listed(sock, n):
    return len(request(sock, {"op": "list"}, 120)["torrents"]) == n


def stop(proc, limit):
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, "killed after %d s" % limit
    return time.monotonic() - t0, "exit %d" % rc


def main():
    build, n, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    os.makedirs(state, exist_ok=True)
    sock = os.path.join(state, "bench.sock")
    log = os.path.join(state, "bench.log")
    limit = 60 + n * 0.01
    if not os.path.exists(os.path.join(state, "state", "state.db")):
        lines = os.path.join(state, "creates.jsonl")
        with open(lines, "w") as f:
            for i in range(n):
                info = {b"name": b"f%07d.bin" % i, b"length": 16384, b"piece length": 16384,
                        b"pieces": hashlib.sha1(b"restart %d" % i).digest()}
                t = base64.b64encode(bencode({b"info": info})).decode()
                f.write(json.dumps({"op": "create", "tag": i, "torrent": t,
                                    "paused": True}) + "\n")
        p = start(build, os.path.join(state, "state"), sock, log)
        wait_for(lambda: request(sock, {"op": "info"}, 10)["loading"] is False,
                 time.monotonic() + 60, "the first start")
        r = subprocess.run([os.path.join(build, "bench", "rpcload"), "lines", sock, lines,
                            "1024", str(int(limit))], capture_output=True, text=True)
        print("fill: " + r.stdout.strip(), flush=True)
        s, how = stop(p, 600)
        print("fill: SIGTERM to exit %s s (%s)" % (s and "%.2f" % s, how), flush=True)
    for k in range(rounds):
        with open(log, "rb") as f:
            f.seek(0, 2)
            off = f.tell()
        t0 = time.monotonic()
        p = start(build, os.path.join(state, "state"), sock, log)
        # `info` until loading ends, as bench.py does: polling `list` all
        # through the restore had the daemon's main thread encoding
        # partial lists (hundreds of ms each at 100,000) on a core the
        # restore needs.
        wait_for(lambda: request(sock, {"op": "info"}, 10)["loading"] is False,
                 t0 + limit, "the restore")
        wait_for(lambda: listed(sock, n), t0 + limit, "%d torrents listed" % n)
        up = answered_at - t0
        # CPU seconds the daemon spent to get there: less at the mercy of
        # whatever else the machine runs than the wall-clock time.
        cpu = bench.cpu_seconds(p.pid)
        rss = bench.rss_kib(p.pid)
        s, how = stop(p, 600)
        with open(log, "rb") as f:
            f.seek(off)
            said = [ln for ln in f.read().decode("utf-8", "replace").splitlines()
                    if "restored" in ln and "torrents in" in ln]
        print("round %d: %d torrents listed after %.2f s (%.2f CPU s); RSS %d KiB; SIGTERM "
              "to exit %s s (%s); %s" % (k + 1, n, up, cpu, rss, s and "%.2f" % s, how,
                            said[-1] if said else "-"), flush=True)


if __name__ == "__main__":
    main()
