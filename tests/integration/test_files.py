"""test_files - a torrent's insides: files, peers, trackers, recheck
(SPEC section 8, issue 10).

A three-file torrent made by mktorrent and seeded by aria2c: tpd adds it
paused, `tpctl files ID --skip 1` skips the middle file, and after `tpctl
resume` `tpctl wait` returns with files 0 and 2 byte for byte right, file
1 never written, the state `finished`, and `tpctl files` showing it.
While the (rate-limited) download runs, `peers` shows the aria2c peer's
address.  Trackers are added and removed; `recheck` answers Rechecking.
"""

import base64
import os
import re

import tpdtest as T
from tpdtest import check, check_eq, describe, test

MIB = T.MIB
PIECE_LOG2 = 18  # 256 KiB pieces: every file is whole pieces, none shared


@test
def test_skip_a_file_peers_trackers(env):
    tracker = env.start_tracker()
    src = env.mkdir("src")
    top = os.path.join(src, "three")
    os.mkdir(top)
    shas = []
    for i, size in enumerate((2 * MIB, 3 * MIB, 2 * MIB)):
        shas.append(T.write_random_file(os.path.join(top, "f%d.bin" % i), size))
    torrent = env.path("three.torrent")
    ih = env.mktorrent(top, torrent, tracker.announce, PIECE_LOG2)
    tracker.allow(ih)
    seeder = env.aria2_seed(torrent, src)
    tracker.wait_seeders(ih, 1, timeout=120)

    d = env.start_daemon()
    dl = env.mkdir("dl")
    r = env.tpctl("add", torrent, "--dir", dl, "--paused", "--down", "1M",
                  "--peer", "127.0.0.1:%d" % seeder.port)
    check(r.returncode == 0, "tpctl add --paused: " + describe(r))
    tid = int(re.search(r"New torrent (\d+)", r.stdout).group(1))

    r = env.tpctl("files", str(tid), "--skip", "1")
    check(r.returncode == 0, "tpctl files --skip 1: " + describe(r))
    rows = [l.split() for l in r.stdout.splitlines()[1:]]
    check_eq([(x[0], x[1]) for x in rows], [("0", "normal"), ("1", "skip"),
                                            ("2", "normal")],
             "INDEX PRIORITY of tpctl files after --skip 1")
    check_eq([x[-1] for x in rows], ["three/f0.bin", "three/f1.bin", "three/f2.bin"],
             "paths in tpctl files")

    r = env.tpctl("resume", str(tid))
    check(r.returncode == 0, "tpctl resume: " + describe(r))
    # The 1 MiB/s limit keeps the transfer going for a few seconds, long
    # enough to ask who tpd is talking to.
    with d.patron() as p:
        def aria2_listed():
            ev = p.call("peers", id=tid)
            check_eq(ev.get("type"), "Peers", "answer to peers: %s" % ev)
            return [x for x in ev["peers"]
                    if x.get("address") == "127.0.0.1:%d" % seeder.port]
        found = T.wait_until(aria2_listed, 20, "the aria2c peer in peers")
        check(isinstance(found[0].get("client"), str), "client of the peer")
    r = env.tpctl("peers", str(tid))
    check(r.returncode == 0, "tpctl peers: " + describe(r))

    r = env.tpctl("wait", str(tid), timeout=120)
    check(r.returncode == 0, "tpctl wait: " + describe(r))
    for i in (0, 2):
        got = os.path.join(dl, "three", "f%d.bin" % i)
        check_eq(T.sha1_file(got), shas[i], "SHA-1 of file %d" % i)
    check(not os.path.exists(os.path.join(dl, "three", "f1.bin")),
          "the skipped file 1 was written")
    with d.patron() as p:
        st = p.call("status", id=tid)
        check_eq(st.get("state"), "finished", "state with a file skipped")
        files = p.call("files", id=tid)["files"]
        check_eq([(f["index"], f["priority"], f["done_bytes"]) for f in files],
                 [(0, 4, 2 * MIB), (1, 0, 0), (2, 4, 2 * MIB)],
                 "index, priority, done_bytes of Files")
        e = p.call("set", id=tid, file_priorities=[4, 4])
        check_eq((e.get("type"), e.get("code")), ("Error", "bad_request"),
                 "file_priorities of the wrong length")
    r = env.tpctl("files", str(tid))
    rows = [l.split() for l in r.stdout.splitlines()[1:]]
    check_eq([(x[0], x[1], x[2]) for x in rows],
             [("0", "normal", "100.0%"), ("1", "skip", "0.0%"),
              ("2", "normal", "100.0%")], "tpctl files at the end")

    extra = "http://127.0.0.1:9/announce"
    r = env.tpctl("trackers", str(tid), "--add", extra)
    check(r.returncode == 0 and extra in r.stdout, "tpctl trackers --add: " + describe(r))
    with d.patron() as p:
        urls = [t["url"] for t in p.call("trackers", id=tid)["trackers"]]
        check_eq(urls, [tracker.announce, extra], "tracker urls after --add")
    r = env.tpctl("trackers", str(tid), "--remove", tracker.announce)
    check(r.returncode == 0, "tpctl trackers --remove: " + describe(r))
    with d.patron() as p:
        urls = [t["url"] for t in p.call("trackers", id=tid)["trackers"]]
        check_eq(urls, [extra], "tracker urls after --remove")
        check_eq(p.call("recheck", id=tid).get("type"), "Rechecking",
                 "answer to recheck")
    r = env.tpctl("recheck", str(tid))
    check(r.returncode == 0 and "Rechecking torrent" in r.stdout,
          "tpctl recheck: " + describe(r))


if __name__ == "__main__":
    T.main()
