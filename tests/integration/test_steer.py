"""test_steer - steering torrents and the daemon (SPEC section 8, issue 10).

Rate limits against real peers on loopback (libtorrent exempts local peers
unless told otherwise, so these also show the peer-class fix): tpd
downloading 24 MiB from an aria2c seeder under --download-limit 2M, an
aria2c leecher taking 16 MiB from a tpd seeder limited by `tpctl limit ID
--up 1M`, and `session_set alt_speed` halving a running download's rate
within 2 s.  The queue: --max-active-downloads 1 with three torrents, one
downloading and two queued, `tpctl queue 3 top`, the order after a
restart.  Labels set, listed by filter and kept across a restart.
session_set and set refused to another user.  Unknown and ill-typed set
fields are bad_request and change nothing.
"""

import base64
import contextlib
import os
import re
import shutil
import time

import tpdtest as T
from tpdtest import NOBODY, Patron, check, check_eq, describe, test

MIB = T.MIB


def _status(p, tid):
    ev = p.call("status", id=tid)
    check_eq(ev.get("type"), "Status", "answer to status %d: %s" % (tid, ev))
    return ev


def _wait_loaded(d):
    """A restarted daemon answers before its saved torrents are all back."""
    T.wait_until(lambda: d.info().get("loading") is False, 30,
                 "the saved torrents to be back")


def _swarm_from_aria2(env, size, name="payload.bin"):
    """A tracker and an aria2c seeder of `size` random bytes."""
    tracker = env.start_tracker()
    src = env.mkdir("src")
    data = os.path.join(src, name)
    sha = T.write_random_file(data, size)
    torrent = env.path(name + ".torrent")
    ih = env.mktorrent(data, torrent, tracker.announce, 18)
    tracker.allow(ih)
    seeder = env.aria2_seed(torrent, src)
    tracker.wait_seeders(ih, 1, timeout=120)
    return torrent, sha, seeder


def _add(p, torrent, dl, seeder, **fields):
    with open(torrent, "rb") as f:
        tb = base64.b64encode(f.read()).decode()
    ev = p.call("create", torrent=tb, save_dir=dl,
                peers=["127.0.0.1:%d" % seeder.port], **fields)
    check_eq(ev.get("type"), "NewTorrentCreated", "answer to create: %s" % ev)
    return ev["id"]


def _watch_until_complete(p, tid, size, timeout, on_update=None):
    """Follows StatusUpdates of tid until done_bytes == size; returns the
    monotonic time of completion."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        check(left > 0, "torrent %d did not complete within %d s" % (tid, timeout))
        ev = p.next(lambda e: e.get("type") == "StatusUpdate" and e.get("id") == tid,
                    timeout=left, what="a StatusUpdate of torrent %d" % tid)
        if on_update:
            on_update(ev)
        if ev.get("done_bytes") == size:
            return time.monotonic()


def _first_byte_tracker(field):
    """An on_update callback remembering when `field` first went above 0:
    the transfer's start, so peer discovery and aria2c's start-up are not
    counted (the issue's windows are about the rate)."""
    seen = {}

    def cb(ev):
        if "t" not in seen and ev.get(field, 0) > 0:
            seen["t"] = time.monotonic()
            seen["bytes"] = ev.get(field)
    return seen, cb


@test
def test_download_limit_2M(env):
    size = 24 * MIB
    torrent, sha, seeder = _swarm_from_aria2(env, size)
    d = env.start_daemon(extra=["--download-limit", "2M"])
    dl = env.mkdir("dl")
    seen, cb = _first_byte_tracker("done_bytes")
    with d.patron(timeout=60) as p:
        t0 = time.monotonic()
        tid = _add(p, torrent, dl, seeder)
        t1 = _watch_until_complete(p, tid, size, 60, on_update=cb)
    # The first status that shows data may already count a first burst
    # (libtorrent's limiter starts with a quota): the rest of the bytes
    # over the rest of the time is the limited rate, and the 24 MiB take
    # size / that rate.
    took = (t1 - seen["t"]) * size / (size - seen["bytes"])
    print("# 24 MiB at --download-limit 2M: %.2f s at the measured rate "
          "(%.2f MiB in %.2f s after the first %.2f MiB; %.2f s from the add)"
          % (took, (size - seen["bytes"]) / MIB, t1 - seen["t"],
             seen["bytes"] / MIB, t1 - t0), flush=True)
    check(10.9 <= took <= 13.2, "24 MiB under a 2 MiB/s limit took %.2f s, "
          "expected 10.9-13.2 s" % took)
    check_eq(T.sha1_file(os.path.join(dl, "payload.bin")), sha, "SHA-1 of the data")


def _slope(samples, a, b):
    """Least-squares bytes per second of the (time, bytes) samples in
    [a, b]: verified bytes arrive in bursts when hashing lags on a busy
    machine, and a fit over several seconds evens them out."""
    pts = [x for x in samples if a <= x[0] <= b]
    check(len(pts) >= 4, "too few status samples between %.1f and %.1f s: %r"
          % (a, b, pts))
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mv = sum(v for _, v in pts) / n
    den = sum((t - mt) ** 2 for t, _ in pts)
    return sum((t - mt) * (v - mv) for t, v in pts) / den


@test
def test_alt_speed_halves_the_rate(env):
    size = 64 * MIB
    torrent, sha, seeder = _swarm_from_aria2(env, size)
    d = env.start_daemon(extra=["--download-limit", "2M",
                                "--alt-download-limit", "1M"])
    dl = env.mkdir("dl")
    samples = []  # (seconds since the first byte, done_bytes)

    def follow(p, tid, until):
        while True:
            ev = p.next(lambda e: e.get("type") == "StatusUpdate" and e.get("id") == tid,
                        timeout=30, what="a StatusUpdate")
            done = ev.get("done_bytes", 0)
            if done and start[0] is None:
                start[0] = time.monotonic()
            if start[0] is not None:
                samples.append((time.monotonic() - start[0], done))
                if samples[-1][0] >= until or done == size:
                    return samples[-1][0]
    start = [None]
    with d.patron(timeout=60) as p:
        tid = _add(p, torrent, dl, seeder)
        switched = follow(p, tid, 14)
        with Patron(d.sock) as q:
            ans = q.call("session_set", alt_speed=True)
            check_eq(ans.get("type"), "Session", "answer to session_set: %s" % ans)
            check_eq(ans.get("alt_speed"), True, "alt_speed in the answer")
        follow(p, tid, switched + 14)
    # From 4 s on: libtorrent's limiter lets a first burst through.
    before = _slope(samples, 4, switched)
    after = _slope(samples, switched + 2, switched + 14)
    print("# rate before alt speed %.2f MiB/s, from 2 s after it %.2f MiB/s"
          % (before / MIB, after / MIB), flush=True)
    # The limits are ceilings; a slow build (ASan) may run a little
    # under the first one (1.77 MiB/s seen), so the floor is looser than
    # the ceiling and the drop is judged with both windows' slack (at
    # worst 1.2 / 1.5 = 0.8; without the switch it would stay about 1).
    check(1.5 * MIB <= before <= 2.4 * MIB, "rate before alt speed %.2f MiB/s, "
          "expected about 2" % (before / MIB))
    check(after <= 0.8 * before, "alt speed did not halve the rate: %.2f -> "
          "%.2f MiB/s" % (before / MIB, after / MIB))
    check(0.8 * MIB <= after <= 1.2 * MIB, "rate from 2 s after alt speed %.2f "
          "MiB/s, expected about 1" % (after / MIB))


@test
def test_upload_limit_1M_to_aria2(env):
    tracker = env.start_tracker()
    src = env.mkdir("src")
    data = os.path.join(src, "up.bin")
    size = 16 * MIB
    sha = T.write_random_file(data, size)
    torrent = env.path("up.torrent")
    d = env.start_daemon()
    r = env.tpctl("seed", data, "--tracker", tracker.announce, "--torrent-out",
                  torrent, "--wait-seeding", timeout=120)
    check(r.returncode == 0, "tpctl seed: " + describe(r))
    tid = int(re.search(r"New torrent (\d+)", r.stdout).group(1))
    r = env.tpctl("limit", str(tid), "--up", "1M")
    check(r.returncode == 0, "tpctl limit --up 1M: " + describe(r))
    r = env.tpctl("limit", str(tid))
    check("upload limit: 1.0 MiB/s" in r.stdout, "tpctl limit ID: " + describe(r))
    with open(torrent, "rb") as f:
        ih = T.info_hash(f.read())
    tracker.allow(ih)
    r = env.tpctl("reannounce", str(tid))
    check(r.returncode == 0, "tpctl reannounce: " + describe(r))
    tracker.wait_seeders(ih, 1, timeout=120)
    leech = env.mkdir("leech")
    seen, cb = _first_byte_tracker("uploaded_bytes")
    with d.patron(timeout=60) as p:
        p.call("watch", ids=[tid])
        t0 = time.monotonic()
        leecher = env.aria2_leech(torrent, leech)
        # tpd's own count of what it sent: the transfer from first to last
        # byte, whatever aria2c spends starting up and checking.
        deadline = time.monotonic() + 120
        while True:
            ev = p.next(lambda e: e.get("type") == "StatusUpdate" and e.get("id") == tid,
                        timeout=max(0.1, deadline - time.monotonic()),
                        what="a StatusUpdate of the seeder")
            cb(ev)
            if ev.get("uploaded_bytes", 0) >= size:
                t1 = time.monotonic()
                break
    check_eq(leecher.wait_exit(120), 0, "aria2c leecher exit status")
    took = (t1 - seen["t"]) * size / (size - seen["bytes"])
    print("# aria2c took 16 MiB from a tpd seeder limited to 1M/s: %.2f s at "
          "the measured rate (%.2f MiB in %.2f s after the first %.2f MiB; "
          "%.2f s from its start)" % (took, (size - seen["bytes"]) / MIB,
                                      t1 - seen["t"], seen["bytes"] / MIB,
                                      t1 - t0), flush=True)
    check(14.5 <= took <= 17.6, "16 MiB under a 1 MiB/s upload limit took %.2f s, "
          "expected 14.5-17.6 s" % took)
    check_eq(T.sha1_file(os.path.join(leech, "up.bin")), sha, "SHA-1 aria2c got")


def _fake_torrent(name):
    data = os.urandom(64 * 1024)
    return base64.b64encode(T.make_torrent_bytes(name, data)).decode()


def _queue_states(p, ids):
    return {i: _status(p, i) for i in ids}


@test
def test_queue_one_active_download(env):
    d = env.start_daemon(extra=["--max-active-downloads", "1"])
    dl = env.mkdir("dl")
    with d.patron() as p:
        ids = []
        for n in ("one", "two", "three"):
            ev = p.call("create", torrent=_fake_torrent(n), save_dir=dl)
            check_eq(ev.get("type"), "NewTorrentCreated", "create %s: %s" % (n, ev))
            ids.append(ev["id"])

        def settled(active):
            st = _queue_states(p, ids)
            want = {i: i != active for i in ids}
            got = {i: st[i].get("queued") for i in ids}
            return got == want and st[active].get("state") == "downloading" \
                and not st[active].get("paused")
        T.wait_until(lambda: settled(ids[0]), 20,
                     "torrent %d downloading and the others queued" % ids[0])
    r = env.tpctl("queue", str(ids[2]), "top")
    check(r.returncode == 0, "tpctl queue 3 top: " + describe(r))
    with d.patron() as p:
        T.wait_until(lambda: settled(ids[2]), 20,
                     "torrent %d started by queue top, the others queued" % ids[2])
        order = [_status(p, i).get("queue_position") for i in ids]
        check_eq(order, [1, 2, 0], "queue positions after queue 3 top")
    r = env.tpctl("--json", "list")
    check('"queued":true' in r.stdout, "tpctl list shows queued: " + describe(r))
    check(not d.stop(), "tpd did not stop cleanly")
    d2 = env.start_daemon(name="tpd", extra=["--max-active-downloads", "1"])
    _wait_loaded(d2)
    with d2.patron() as p:
        T.wait_until(lambda: settled(ids[2]), 20,
                     "after a restart torrent %d still first and active" % ids[2])
        order = [_status(p, i).get("queue_position") for i in ids]
        check_eq(order, [1, 2, 0], "queue positions after a restart")


@test
def test_labels_filter_and_restart(env):
    d = env.start_daemon()
    dl = env.mkdir("dl")
    with d.patron() as p:
        a = p.call("create", torrent=_fake_torrent("a"), save_dir=dl,
                   labels=["music"], paused=True)["id"]
        b = p.call("create", torrent=_fake_torrent("b"), save_dir=dl, paused=True)["id"]
    r = env.tpctl("set", str(b), "--label", "films", "--label", "hd")
    check(r.returncode == 0, "tpctl set --label: " + describe(r))
    r = env.tpctl("list", "--label", "music", json_mode=True)
    lst = [e for e in T.json_lines(r.stdout) if e["type"] == "List"][0]
    check_eq([t["id"] for t in lst["torrents"]], [a], "ids listed with label music")
    with d.patron() as p:
        check_eq(_status(p, b).get("labels"), ["films", "hd"], "labels of b")
        lst = p.call("list", label="hd")
        check_eq([t["id"] for t in lst["torrents"]], [b], "ids listed with label hd")
        # A set with one bad field changes nothing at all.
        e = p.call("set", id=b, labels=["x"], download_limit=-5)
        check_eq((e.get("type"), e.get("code")), ("Error", "bad_request"),
                 "set with a negative limit")
        e = p.call("set", id=b, labels=["x"], colour="red")
        check_eq((e.get("type"), e.get("code")), ("Error", "bad_request"),
                 "set with an unknown field")
        e = p.call("set", id=b, on_complete="/bin/sh")
        check_eq((e.get("type"), e.get("code")), ("Error", "bad_request"),
                 "set with a hook field")
        check_eq(_status(p, b).get("labels"), ["films", "hd"],
                 "labels of b after refused sets")
        e = p.call("set", id=b, download_limit=3000, sequential=True, ratio_limit=1.5,
                   seed_time_limit=3600)
        check_eq(e.get("type"), "Set", "answer to set: %s" % e)
    check(not d.stop(), "tpd did not stop cleanly")
    d2 = env.start_daemon()
    _wait_loaded(d2)
    with d2.patron() as p:
        st = _status(p, b)
        check_eq(st.get("labels"), ["films", "hd"], "labels of b after a restart")
        check_eq((st.get("download_limit"), st.get("sequential"), st.get("ratio_limit"),
                  st.get("seed_time_limit")), (3000, True, 1.5, 3600),
                 "limits of b after a restart")
        lst = p.call("list", label="music")
        check_eq([t["id"] for t in lst["torrents"]], [a],
                 "ids listed with label music after a restart")


@contextlib.contextmanager
def _as_nobody():
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@test
def test_session_and_set_forbidden_to_others(env):
    if not T.is_root():
        raise T.TestSkip("needs root to act as another user")
    d = env.start_daemon()
    os.chmod(env.dir, 0o755)
    os.chmod(d.dir, 0o755)
    os.chmod(d.sock, 0o666)
    with d.patron() as p:
        tid = p.call("create", torrent=_fake_torrent("mine"), paused=True)["id"]
    with _as_nobody():
        q = Patron(d.sock)
    with q:
        e = q.call("session_set", alt_speed=True)
        check_eq((e.get("type"), e.get("code")), ("Error", "forbidden"),
                 "session_set as nobody")
        e = q.call("set", id=tid, labels=["mine-now"])
        check_eq((e.get("type"), e.get("code")), ("Error", "forbidden"),
                 "set on root's torrent as nobody")
        e = q.call("session_get")
        check_eq(e.get("type"), "Session", "session_get as nobody")
    bindir = env.mkdir("bin", mode=0o755)
    exe = os.path.join(bindir, "tpctl")
    shutil.copy(T.tpctl_bin(), exe)
    os.chmod(exe, 0o755)
    r = env.tpctl("session", "alt_speed=on", user=NOBODY, exe=exe)
    check(r.returncode == 1 and "only root" in r.stderr,
          "tpctl session alt_speed=on as nobody: " + describe(r))
    with d.patron() as p:
        check_eq(p.call("session_get").get("alt_speed"), False,
                 "alt_speed after nobody's attempts")
        check_eq(_status(p, tid).get("labels"), [], "labels after nobody's set")
    r = env.tpctl("session", "alt_speed=on", "max_active_seeds=3")
    check(r.returncode == 0 and "alt_speed: true" in r.stdout,
          "tpctl session as root: " + describe(r))


if __name__ == "__main__":
    T.main()
