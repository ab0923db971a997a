"""test_seed - `tpctl seed` publishes local data that other clients fetch.

tpd A seeds a generated 64 MiB file (explicit piece size) to an opentracker
on loopback: the .torrent it writes has the info-hash mktorrent computes for
the same file, piece size and tracker; after whitelisting and a reannounce
the tracker counts A as a seeder; aria2c downloads the file from A alone,
and a second tpd B downloads it too (tpctl add --wait, tracker plus --peer).
Then a directory with several files, an empty one and nested folders is
seeded by A and downloaded intact by B.
make test runs this file twice: as root, and in its unprivileged pass with
TPD_TEST_DAEMON_USER set, where every daemon runs as that user and the test
speaks to it as that user (tpdtest.py).
"""

import os
import subprocess

import seedutil as U
import tpdtest as T
from tpdtest import check, check_eq, describe, test

SIZE = 64 * T.MIB
PIECE_LOG2 = 18  # 256 KiB


@test
def test_seed_64mib_matches_mktorrent_and_serves_aria2_and_tpd(env):
    tracker = env.start_tracker()
    a = env.start_daemon("tpdA")
    b = env.start_daemon("tpdB")
    src = env.mkdir("src")
    data = os.path.join(src, "big.bin")
    sha = T.write_random_file(data, SIZE)
    torrent = env.path("big.torrent")

    tid, tb, ih = U.seed(env, a, data, tracker.announce, torrent,
                         piece_size=1 << PIECE_LOG2)
    meta = T.bdecode(tb)
    info = meta[b"info"]
    check_eq(info.get(b"piece length"), 1 << PIECE_LOG2, "piece length in tpd's .torrent")
    check_eq(info.get(b"length"), SIZE, "length in tpd's .torrent")
    check_eq(info.get(b"name"), b"big.bin", "name in tpd's .torrent")
    check_eq(meta.get(b"announce"), tracker.announce.encode(), "announce in tpd's .torrent")

    ref = env.path("mktorrent.torrent")
    ih_ref = env.mktorrent(data, ref, tracker.announce, PIECE_LOG2)
    check_eq(ih, ih_ref, "v1 info-hash of tpd's .torrent vs mktorrent's")

    st = U.listed(env, a, ih)
    check_eq(st.get("id"), tid, "id of the seed in A's list")
    check_eq(st.get("state"), "seeding", "state of the seed in A's list")
    check_eq(os.path.realpath(st.get("save_path", "")), os.path.realpath(src),
             "save_path of the seed (the directory holding the file)")

    # Debian's opentracker refused A's first announce: whitelist, reannounce.
    tracker.allow(ih)
    r = env.tpctl("reannounce", str(tid), daemon=a)
    check(r.returncode == 0, "tpctl reannounce: " + describe(r))
    tracker.wait_seeders(ih, 1, timeout=120)

    # aria2c, with A as the only source.
    leech = env.mkdir("aria2")
    leecher = env.aria2_leech(torrent, leech)
    check_eq(leecher.wait_exit(300), 0, "aria2c exit status (log %s)" % leecher.log)
    check_eq(T.sha1_file(os.path.join(leech, "big.bin")), sha,
             "SHA-1 of the file aria2c downloaded from tpd A")

    # tpd B, through the tracker and told A's address.
    port = U.listen_port(a)
    dl = env.mkdir("dlB")
    r = env.tpctl("add", torrent, "--dir", dl, "--wait", "--peer", "127.0.0.1:%d" % port,
                  daemon=b, timeout=300)
    bid = U.new_id(r, "tpctl -s B add --wait")
    check_eq(T.sha1_file(os.path.join(dl, "big.bin")), sha,
             "SHA-1 of the file tpd B downloaded from tpd A")
    st = U.listed(env, b, ih)
    check_eq(st.get("id"), bid, "id in B's list")
    check_eq(st.get("done_bytes"), SIZE, "done_bytes in B's list")
    check(st.get("state") in ("finished", "seeding"), "B's state after --wait: %s" % st)
    check(a.alive() and b.alive(), "a daemon died")


def _make_tree(root):
    """A directory with several files, an empty one and nested folders."""
    os.makedirs(os.path.join(root, "sub", "deeper"))
    os.makedirs(os.path.join(root, "other"))
    T.write_random_file(os.path.join(root, "a.bin"), 300 * 1024 + 17)
    T.write_random_file(os.path.join(root, "sub", "b.bin"), 64 * 1024)
    T.write_random_file(os.path.join(root, "sub", "deeper", "c.bin"), 123457)
    T.write_random_file(os.path.join(root, "other", "d.txt"), 999)
    open(os.path.join(root, "sub", "empty.txt"), "wb").close()


@test
def test_seed_directory_tree(env):
    tracker = env.start_tracker()
    a = env.start_daemon("tpdA")
    b = env.start_daemon("tpdB")
    src = env.mkdir("src")
    album = os.path.join(src, "album")
    _make_tree(album)
    torrent = env.path("album.torrent")

    tid, tb, ih = U.seed(env, a, album, tracker.announce, torrent,
                         piece_size=16384)
    info = T.bdecode(tb)[b"info"]
    check_eq(info.get(b"name"), b"album", "name in the directory's .torrent")
    check(b"files" in info, "the directory's .torrent has no files list: %r"
          % sorted(info.keys()))
    paths = {b"/".join(f[b"path"]).decode(): f[b"length"] for f in info[b"files"]
             if b"attr" not in f or b"p" not in f[b"attr"]}
    want = {"a.bin": 300 * 1024 + 17, "sub/b.bin": 64 * 1024,
            "sub/deeper/c.bin": 123457, "other/d.txt": 999, "sub/empty.txt": 0}
    check_eq(paths, want, "files (path: length) in the directory's .torrent")
    st = U.listed(env, a, ih)
    check_eq(st.get("state"), "seeding", "state of the directory seed")
    check_eq(st.get("id"), tid, "id of the directory seed")

    tracker.allow(ih)
    r = env.tpctl("reannounce", str(tid), daemon=a)
    check(r.returncode == 0, "tpctl reannounce: " + describe(r))

    dl = env.mkdir("dlB")
    r = env.tpctl("add", torrent, "--dir", dl, "--wait",
                  "--peer", "127.0.0.1:%d" % U.listen_port(a), daemon=b, timeout=180)
    U.new_id(r, "tpctl -s B add --wait (directory)")
    U.compare_trees(album, os.path.join(dl, "album"), "the directory B downloaded")
    st = U.listed(env, b, ih)
    check_eq(st.get("total_bytes"), sum(want.values()), "total_bytes in B's list")
    check_eq(st.get("done_bytes"), sum(want.values()), "done_bytes in B's list")


@test
def test_seed_rules(env):
    """The daemon's --tracker default, a seed without any tracker, the
    default --torrent-out, seeding the same data twice, bad piece sizes."""
    tracker_default = "http://127.0.0.1:%d/announce" % U.closed_port()
    with_default = env.start_daemon("with-default", extra=["--tracker", tracker_default])
    plain = env.start_daemon("plain")
    src = env.mkdir("src")
    data = os.path.join(src, "small.bin")
    T.write_random_file(data, 100000)

    # No tracker anywhere: StartFail, and no .torrent.
    out = env.path("none.torrent")
    r = env.tpctl("seed", data, "--torrent-out", out, daemon=plain)
    check_eq(r.returncode, 1, "exit status of a seed without any tracker (%s)" % describe(r))
    check("tracker" in r.stderr, "a seed without any tracker must say why: " + describe(r))
    check(not os.path.exists(out), "a refused seed wrote %s" % out)

    # A trailing slash names the directory itself (seeded from its
    # parent); the root directory is never published.
    with with_default.patron() as p:
        ev = p.call("seed", path=src + "/", torrent_out=env.path("src.torrent"))
        check_eq((ev.get("type"), ev.get("name"), ev.get("save_path")),
                 ("NewTorrentCreated", "src", os.path.dirname(src)),
                 "seed of %s/" % src)
        p.expect("close", "Closed", id=ev["id"])
        ev = p.call("seed", path="/", torrent_out=env.path("root.torrent"))
        check_eq(ev.get("type"), "StartFail", "seed of /")

    # The daemon's default tracker; --torrent-out defaults to ./NAME.torrent.
    cwd = env.mkdir("cwd")
    r = subprocess.run(T.as_daemon_user([T.tpctl_bin(), "-s", with_default.sock,
                                         "seed", data]),
                       cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    tid = U.new_id(r, "tpctl seed without --tracker and --torrent-out")
    out = os.path.join(cwd, "small.bin.torrent")
    check(os.path.isfile(out), "tpctl seed did not write the default %s: %s"
          % (out, describe(r)))
    tb = U.read_bytes(out)
    check_eq(T.bdecode(tb).get(b"announce"), tracker_default.encode(),
             "announce of a seed using the daemon's --tracker")

    # The same data again: AlreadyDownloading (exit 3) naming the first id,
    # and the .torrent is still written.
    out2 = env.path("again.torrent")
    r = env.tpctl("seed", data, "--torrent-out", out2, daemon=with_default)
    check_eq(r.returncode, 3, "exit status of seeding the same data twice (%s)" % describe(r))
    check(str(tid) in r.stdout, "AlreadyDownloading must name torrent %d: %s" % (tid, describe(r)))
    check(os.path.isfile(out2), "the second seed did not write %s" % out2)
    check_eq(T.info_hash(U.read_bytes(out2)), T.info_hash(tb),
             "info-hash of the second seed's .torrent")

    with plain.patron() as p:
        for bad in (3000, 16385, 8192, -1, 1 << 27):
            p.expect_error("seed", "bad_request", path=data, torrent_out=out,
                           trackers=[tracker_default], piece_size=bad)
        p.expect_error("seed", "bad_request", path="relative/small.bin",
                       torrent_out=out, trackers=[tracker_default])
        ev = p.call("seed", path=os.path.join(src, "does-not-exist"),
                    torrent_out=env.path("ghost.torrent"), trackers=[tracker_default])
        check(ev.get("type") == "StartFail" and "does-not-exist" in ev.get("reason", ""),
              "seed of a missing path: expected StartFail naming it, got %s" % T._short(ev))
        check(not os.path.exists(env.path("ghost.torrent")), "a failed seed wrote a .torrent")
    r = env.tpctl("seed", data, "--tracker", tracker_default, "--piece-size", "3000",
                  daemon=plain)
    check_eq(r.returncode, 2, "exit status of tpctl seed --piece-size 3000 (%s)" % describe(r))


if __name__ == "__main__":
    T.main()
