"""test_ratio - ratio and seed-time rules enforced by tpd (SPEC section 8,
issue 10).  libtorrent's own limits only order the seeding queue; tpd
pauses a torrent itself and says why in `stop_reason`.

--ratio-limit 0.5 on a tpd seeder: once an aria2c leecher has taken at
least half of it, the torrent is paused with stop_reason "ratio" (kept
across a restart); a manual resume clears the reason and it is not
stopped again for the same limit, until the limit changes.
--seed-time-limit 5s: paused with stop_reason "seed_time" after 5 s of
seeding.
"""

import os
import re
import time

import tpdtest as T
from tpdtest import check, check_eq, describe, test

MIB = T.MIB


def _seed(env, tracker, name, size):
    src = env.mkdir("src")
    data = os.path.join(src, name)
    T.write_random_file(data, size)
    torrent = env.path(name + ".torrent")
    r = env.tpctl("seed", data, "--tracker", tracker.announce, "--torrent-out",
                  torrent, "--wait-seeding", timeout=120)
    check(r.returncode == 0, "tpctl seed: " + describe(r))
    tid = int(re.search(r"New torrent (\d+)", r.stdout).group(1))
    return tid, torrent


def _wait_status(p, tid, pred, timeout, what):
    """Follows the pushed StatusUpdates of tid until pred(status)."""
    deadline = time.monotonic() + timeout
    st = p.call("status", id=tid)
    while not pred(st):
        left = deadline - time.monotonic()
        check(left > 0, "timed out waiting for %s; last status %s" % (what, st))
        try:
            st = p.next(lambda e: e.get("type") == "StatusUpdate"
                        and e.get("id") == tid, timeout=left, what=what)
        except T.TestFailure as e:
            T.fail("%s; last status %s" % (e, st))
    return st


@test
def test_ratio_limit_pauses_and_resume_waives(env):
    tracker = env.start_tracker()
    d = env.start_daemon(extra=["--ratio-limit", "0.5"])
    size = 8 * MIB
    tid, torrent = _seed(env, tracker, "r.bin", size)
    with open(torrent, "rb") as f:
        ih = T.info_hash(f.read())
    tracker.allow(ih)
    env.tpctl("reannounce", str(tid))
    tracker.wait_seeders(ih, 1, timeout=120)
    with d.patron(timeout=60) as p:
        p.call("watch", ids=[tid])
        leecher = env.aria2_leech(torrent, env.mkdir("leech"))
        st = _wait_status(p, tid, lambda s: s.get("stop_reason") == "ratio", 120,
                          "stop_reason ratio")
        check(st.get("paused") is True, "paused with stop_reason ratio: %s" % st)
        check(st.get("uploaded_bytes", 0) >= size // 2,
              "uploaded %s bytes of %d when stopped" % (st.get("uploaded_bytes"), size))
        check(st.get("ratio", 0) >= 0.5, "ratio when stopped: %s" % st.get("ratio"))
    leecher.stop()
    check(not d.stop(), "tpd did not stop cleanly")
    d = env.start_daemon()
    with d.patron(timeout=60) as p:
        # The saved torrents come back while the socket already answers.
        st = T.wait_until(lambda: (lambda e: e if e.get("type") == "Status" else None)(
            p.call("status", id=tid)), 30, "torrent %d back after the restart" % tid)
        check_eq((st.get("paused"), st.get("stop_reason")), (True, "ratio"),
                 "paused and stop_reason after a restart")
    # A restart without --ratio-limit: the daemon's default is gone, so give
    # the torrent its own 0.5 and see the same rule.
    r = env.tpctl("set", str(tid), "--ratio", "0.5")
    check(r.returncode == 0, "tpctl set --ratio 0.5: " + describe(r))
    r = env.tpctl("resume", str(tid))
    check(r.returncode == 0, "tpctl resume: " + describe(r))
    with d.patron(timeout=60) as p:
        p.call("watch", ids=[tid])
        st = _wait_status(p, tid, lambda s: not s.get("paused"), 20, "resumed")
        check_eq(st.get("stop_reason"), None, "stop_reason after a manual resume")
        # Not stopped again for the same limit: no pause within 3 s.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                ev = p.next(lambda e: e.get("type") == "StatusUpdate"
                            and e.get("id") == tid and e.get("paused"),
                            timeout=max(0.05, deadline - time.monotonic()),
                            what="a pause")
            except T.TestFailure:
                break
            T.fail("paused again for the same limit: %s" % ev)
        # A changed limit applies again.
        e = p.call("set", id=tid, ratio_limit=0.6)
        check_eq(e.get("type"), "Set", "answer to set ratio_limit 0.6")
        _wait_status(p, tid, lambda s: s.get("stop_reason") == "ratio"
                     and s.get("paused"), 20, "stopped again after the limit changed")


@test
def test_seed_time_limit(env):
    tracker = env.start_tracker()
    d = env.start_daemon(extra=["--seed-time-limit", "5s"])
    t0 = time.monotonic()
    tid, _ = _seed(env, tracker, "s.bin", 1 * MIB)
    with d.patron(timeout=60) as p:
        p.call("watch", ids=[tid])
        st = _wait_status(p, tid, lambda s: s.get("stop_reason") == "seed_time", 30,
                          "stop_reason seed_time")
    took = time.monotonic() - t0
    check(st.get("paused") is True, "paused with stop_reason seed_time: %s" % st)
    check(st.get("seeding_time", 0) >= 5, "seeding_time when stopped: %s" % st)
    # libtorrent counts seeding time in whole seconds on its own coarse
    # clock, so the pause may come a fraction of a second early by ours.
    check(took >= 4.0, "stopped after %.1f s, well before 5 s of seeding" % took)
    print("# seed-time 5s: paused %.1f s after the seed began" % took, flush=True)


if __name__ == "__main__":
    T.main()
