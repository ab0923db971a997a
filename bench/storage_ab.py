"""storage_ab - rows 1 and 2 of `make bench` for two builds of tpd in one
run, alternating, so that a change of disk backend is measured against the
previous build under the same load (issue 13: within 1.1x).

    python3 bench/storage_ab.py OLD_BUILD NEW_BUILD [ROUNDS]

BENCH_SIZE_MIB (1024) as for bench.py, whose machinery this uses: one data
file, one opentracker; per round and build, a tpd seeder made with
`tpctl seed` and a fresh tpd leecher (row 1), then a tpd leecher from one
aria2c seeder (row 2).  Prints every timing and the medians.
"""

import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402


def use(run, build):
    run.tpd = os.path.abspath(os.path.join(build, "tpd"))
    run.tpctl = os.path.abspath(os.path.join(build, "tpctl"))


def tpd_to_tpd(b, run, tracker, path, build, tag):
    use(run, build)
    seeder = B.Tpd(run, "seed-" + tag, tracker)
    try:
        out = run.path(tag + ".torrent")
        _, stdout = seeder.tpctl("--json", "seed", path, "--torrent-out", out,
                                 "--piece-size", str(B.piece_size()), timeout=B.T_HASH)
        ev = [json.loads(l) for l in stdout.splitlines() if l.startswith("{")]
        created = [e for e in ev if e.get("type") == "NewTorrentCreated"][0]
        tracker.restart()
        tracker.allow(created["info_hash"])
        seeder.request({"op": "reannounce", "id": created["id"]})
        tracker.wait_seeder(created["info_hash"], B.T_START * 2)
        return B.tpd_leech(b, tracker, out, "leech-" + tag), out, created["info_hash"]
    finally:
        seeder.stop()


def main():
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    run = B.Run(new)
    b = B.Bench(run)
    times = {(row, build): [] for row in (1, 2) for build in (old, new)}
    try:
        tracker = B.Tracker(run)
        data_dir, path = B.make_data(b)
        torrent = ih = None
        for r in range(rounds):
            for build in (old, new):
                tag = "r%d-%s" % (r, "new" if build == new else "old")
                dt, torrent, ih = tpd_to_tpd(b, run, tracker, path, build, tag)
                times[(1, build)].append(dt)
                print("row 1 %s: %.2f s" % (tag, dt), flush=True)
        tracker.restart()
        tracker.allow(ih)
        seed = B.aria2(run, "seed-aria2c", torrent, data_dir, seed=True)
        tracker.wait_seeder(ih, B.T_HASH + B.T_START)
        for r in range(rounds):
            for build in (old, new):
                tag = "r%d-%s-from-aria2c" % (r, "new" if build == new else "old")
                use(run, build)
                dt = B.tpd_leech(b, tracker, torrent, "leech-" + tag)
                times[(2, build)].append(dt)
                print("row 2 %s: %.2f s" % (tag, dt), flush=True)
        run.stop(seed)
        for row in (1, 2):
            mo = statistics.median(times[(row, old)])
            mn = statistics.median(times[(row, new)])
            print("row %d (%d MiB) median: old %.2f s, new %.2f s, new/old %.2fx"
                  % (row, B.SIZE_MIB, mo, mn, mn / mo), flush=True)
    finally:
        run.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
