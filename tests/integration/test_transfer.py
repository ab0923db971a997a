"""test_transfer - tpd exchanges real data with a foreign client (aria2c).

An opentracker on loopback, aria2c seeding a generated 64 MiB file from a
.torrent made by mktorrent: `tpctl add --wait` downloads it through tpd, the
bytes match, `tpctl --json list` shows it complete and seeding.  Then the
aria2c seeder stops and a fresh aria2c leecher downloads the file from tpd,
the only remaining source.  Last, `tpctl seed` makes a .torrent for a
generated file and an aria2c leecher downloads it from tpd.
make test runs this file twice: as root, and in its unprivileged pass with
TPD_TEST_DAEMON_USER set, where every daemon runs as that user and the test
speaks to it as that user (tpdtest.py).
"""

import os
import re

import tpdtest as T
from tpdtest import check, check_eq, describe, test

SIZE = 64 * T.MIB


def _listed(env, ih):
    r = env.tpctl("list", json_mode=True)
    check(r.returncode == 0, "tpctl --json list: " + describe(r))
    lists = [e for e in T.json_lines(r.stdout) if e["type"] == "List"]
    check_eq(len(lists), 1, "number of List events printed by tpctl --json list")
    found = [t for t in lists[0]["torrents"] if t.get("info_hash") == ih]
    check_eq(len(found), 1, "torrents with info-hash %s in the list" % ih)
    return found[0]


@test
def test_download_from_aria2_then_upload_to_aria2(env):
    tracker = env.start_tracker()
    src = env.mkdir("src")
    data = os.path.join(src, "payload.bin")
    sha = T.write_random_file(data, SIZE)
    torrent = env.path("payload.torrent")
    ih = env.mktorrent(data, torrent, tracker.announce, 18)
    tracker.allow(ih)

    daemon = env.start_daemon()
    seeder = env.aria2_seed(torrent, src)
    # A leecher that announces before the seeder is known would hear of no
    # peer until its next interval: wait until the tracker counts the seeder.
    tracker.wait_seeders(ih, 1, timeout=120)

    dl = env.mkdir("dl")
    r = env.tpctl("add", torrent, "--dir", dl, "--wait", timeout=300)
    check(r.returncode == 0, "tpctl add --wait: " + describe(r))
    m = re.search(r"New torrent (\d+) created in (\S+)", r.stdout)
    check(m is not None, "tpctl add did not print 'New torrent ID created in PATH': "
          + describe(r))
    tid = int(m.group(1))
    got = os.path.join(dl, "payload.bin")
    check(os.path.isfile(got), "%s does not exist after tpctl add --wait" % got)
    check_eq(T.sha1_file(got), sha, "SHA-1 of the file tpd downloaded")

    st = _listed(env, ih)
    check_eq(st.get("id"), tid, "id in the list")
    check_eq(st.get("progress"), 1, "progress in the list after --wait")
    check_eq(st.get("done_bytes"), SIZE, "done_bytes in the list")
    check_eq(st.get("total_bytes"), SIZE, "total_bytes in the list")
    check_eq(os.path.realpath(st.get("save_path", "")), os.path.realpath(dl),
             "save_path in the list")
    # finished -> seeding is libtorrent's own step right after completion.
    last = {}

    def seeding():
        last.update(_listed(env, ih))
        return last.get("state") == "seeding"
    try:
        T.wait_until(seeding, 30, "the state to become seeding")
    except T.TestFailure as e:
        T.fail("%s; last status: %s" % (e, last))

    # The reverse: tpd must be the only source.  Its completion announce
    # makes the tracker count two seeders; then aria2c's seeder goes away.
    tracker.wait_seeders(ih, 2, timeout=120)
    seeder.stop()
    check(seeder.proc.poll() is not None, "the aria2c seeder did not stop")

    leech_dir = env.mkdir("leech")
    leecher = env.aria2_leech(torrent, leech_dir)
    rc = leecher.wait_exit(300)
    check_eq(rc, 0, "aria2c leecher exit status (log: %s)" % leecher.log)
    check_eq(T.sha1_file(os.path.join(leech_dir, "payload.bin")), sha,
             "SHA-1 of the file aria2c downloaded from tpd")
    st = _listed(env, ih)
    check(st.get("state") == "seeding", "tpd stopped seeding: %s" % st)
    check(daemon.alive(), "tpd died")



@test
def test_seed_made_by_tpd_to_aria2(env):
    """`tpctl seed` makes a .torrent that a foreign client accepts and
    serves the data where it lies."""
    tracker = env.start_tracker()
    src = env.mkdir("src")
    data = os.path.join(src, "made.bin")
    size = 16 * T.MIB + 12345  # a short last piece
    sha = T.write_random_file(data, size)
    torrent = env.path("made.torrent")
    env.start_daemon()
    r = env.tpctl("seed", data, "--tracker", tracker.announce, "--torrent-out", torrent,
                  "--wait-seeding", timeout=300)
    check(r.returncode == 0, "tpctl seed --wait-seeding: " + describe(r))
    m = re.search(r"New torrent (\d+) created in (\S+)", r.stdout)
    check(m is not None, "tpctl seed did not print 'New torrent ID created in PATH': "
          + describe(r))
    tid = int(m.group(1))
    check(os.path.isfile(torrent), "tpctl seed did not write %s" % torrent)
    with open(torrent, "rb") as f:
        tb = f.read()
    meta = T.bdecode(tb)
    info = meta[b"info"]
    check_eq(info.get(b"name"), b"made.bin", "name in the .torrent tpd wrote")
    check_eq(info.get(b"length"), size, "length in the .torrent tpd wrote")
    check_eq(meta.get(b"announce"), tracker.announce.encode(), "announce in the .torrent")
    ih = T.info_hash(tb)
    st = _listed(env, ih)
    check_eq(st.get("id"), tid, "id of the seeded torrent in the list")
    check_eq(st.get("state"), "seeding", "state of the seeded torrent")
    check_eq(st.get("progress"), 1, "progress of the seeded torrent")

    # Debian's opentracker refused tpd's first announce: whitelist, reannounce.
    tracker.allow(ih)
    r = env.tpctl("reannounce", str(tid))
    check(r.returncode == 0, "tpctl reannounce: " + describe(r))
    tracker.wait_seeders(ih, 1, timeout=120)
    leech_dir = env.mkdir("leech")
    leecher = env.aria2_leech(torrent, leech_dir)
    check_eq(leecher.wait_exit(300), 0, "aria2c leecher exit status (log: %s)" % leecher.log)
    check_eq(T.sha1_file(os.path.join(leech_dir, "made.bin")), sha,
             "SHA-1 of the file aria2c downloaded from tpd's seed")


if __name__ == "__main__":
    T.main()
