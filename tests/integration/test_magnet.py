"""test_magnet - a magnet link completes from a peer given with --peer.

tpd A seeds a small generated file; tpd B gets
`magnet:?xt=urn:btih:HASH&dn=NAME` with `--peer 127.0.0.1:<A's port>`,
fetches the metadata and the data from A (SHA-1 equal).  A magnet with no
peer anywhere stays in state downloading_metadata, named by its dn (or its
hash without one), total_bytes 0.  The same hash in base32 is recognised
as a duplicate; a magnet without a valid hash is a StartFail.
"""

import base64
import os

import seedutil as U
import tpdtest as T
from tpdtest import check, check_eq, describe, test

SIZE = 3 * T.MIB + 4321


@test
def test_magnet_from_peer(env):
    a = env.start_daemon("tpdA")
    b = env.start_daemon("tpdB")
    src = env.mkdir("src")
    data = os.path.join(src, "tune.ogg")
    sha = T.write_random_file(data, SIZE)
    # The tracker is never reached: B learns of A only through --peer.
    announce = "http://127.0.0.1:%d/announce" % U.closed_port()
    _, _, ih = U.seed(env, a, data, announce, env.path("tune.torrent"))
    magnet = "magnet:?xt=urn:btih:%s&dn=tune.ogg" % ih

    dl = env.mkdir("dl")
    r = env.tpctl("add", magnet, "--dir", dl, "--wait",
                  "--peer", "127.0.0.1:%d" % U.listen_port(a), daemon=b, timeout=180)
    tid = U.new_id(r, "tpctl -s B add MAGNET --peer --wait")
    got = os.path.join(dl, "tune.ogg")
    check(os.path.isfile(got), "%s missing after the magnet completed" % got)
    check_eq(T.sha1_file(got), sha, "SHA-1 of the file B got through the magnet")
    st = U.listed(env, b, ih)
    check_eq(st.get("id"), tid, "id of the magnet's torrent")
    check_eq(st.get("name"), "tune.ogg", "name after the metadata arrived")
    check_eq(st.get("total_bytes"), SIZE, "total_bytes after the metadata arrived")
    check_eq(st.get("done_bytes"), SIZE, "done_bytes after --wait")
    check(st.get("state") in ("finished", "seeding"), "state after --wait: %s" % st)

    # The same info-hash written in base32 is the same torrent.
    b32 = base64.b32encode(bytes.fromhex(ih)).decode()
    r = env.tpctl("add", "magnet:?xt=urn:btih:%s&dn=again" % b32, daemon=b)
    check_eq(r.returncode, 3, "exit status of a base32 magnet of a known torrent (%s)"
             % describe(r))
    check(str(tid) in r.stdout, "AlreadyDownloading must name torrent %d: %s"
          % (tid, describe(r)))


@test
def test_magnet_without_peers_waits_for_metadata(env):
    d = env.start_daemon()
    h1 = os.urandom(20).hex()
    h2 = os.urandom(20).hex()
    with d.patron() as p:
        ev = p.expect("create", "NewTorrentCreated",
                      magnet="magnet:?xt=urn:btih:%s&dn=lonely" % h1)
        id1 = ev["id"]
        check_eq(ev.get("info_hash"), h1, "info_hash of the magnet")
        check_eq(ev.get("name"), "lonely", "name of a magnet with dn")
        # The creator gets a StatusUpdate right after NewTorrentCreated.
        su = p.next(lambda e: e.get("type") == "StatusUpdate" and e.get("id") == id1,
                    what="the first StatusUpdate of the magnet")
        check_eq(su.get("state"), "downloading_metadata", "state in the first StatusUpdate")
        ev = p.expect("create", "NewTorrentCreated", magnet="magnet:?xt=urn:btih:%s" % h2)
        id2 = ev["id"]
        check_eq(ev.get("name"), h2, "name of a magnet without dn (its hex hash)")
        # Still waiting for metadata once the engine has reported on it.
        T.wait_until(lambda: p.expect("status", "Status", id=id2).get("state")
                     not in ("checking_resume_data",), 20, "the engine's first status")
        for tid, name in ((id1, "lonely"), (id2, h2)):
            st = p.expect("status", "Status", id=tid)
            check_eq(st.get("state"), "downloading_metadata", "state of magnet %d" % tid)
            check_eq(st.get("name"), name, "name of magnet %d" % tid)
            check_eq(st.get("total_bytes"), 0, "total_bytes of magnet %d" % tid)
            check_eq(st.get("progress"), 0, "progress of magnet %d" % tid)

        for bad in ("magnet:?xt=urn:btih:nothex", "magnet:?dn=nohash",
                    "magnet:?xt=urn:btih:" + "0" * 39):
            ev = p.call("create", magnet=bad)
            check(ev.get("type") == "StartFail" and "magnet" in ev.get("reason", ""),
                  "create %s: expected StartFail mentioning the magnet, got %s"
                  % (bad, T._short(ev)))
        check_eq(len(p.list()), 2, "torrents after the bad magnets")


if __name__ == "__main__":
    T.main()
