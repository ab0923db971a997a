"""test_restart - a stopped tpd comes back with everything it had.

A daemon holds a complete torrent made by `seed`, a complete torrent whose
data was found by checking, a half-done torrent (its data only half on
disk, no peers), a paused one, a complete one paused later, and a magnet
without metadata belonging to another user.  After SIGTERM (exit 0) a new
daemon on the same state directory lists the same ids, owners, save paths,
states, pause flags and progress, and a patron watching from the first
moment never sees a complete torrent in checking_files.

Damaged resume data (truncated, zeroed, garbage) costs a re-check, never a
torrent: the progress is right again after it and the log names each id.
Ids are never reused: not after closing the highest one, not across a
clean stop, not across kill -9.

Thousands of torrents with mixed settings (owners, labels, limits,
sequential, pause, ratio and seed-time limits, queue places, a stop_reason)
come back from a restart each with exactly what it had.

make test runs this file twice: as root, and in its unprivileged pass with
TPD_TEST_DAEMON_USER set, where every daemon runs as that user and the test
speaks to it as that user (tpdtest.py).
"""

import base64
import json
import os
import re
import signal
import sqlite3
import subprocess

import tpdtest as T
from tpdtest import NOBODY, Patron, check, check_eq, describe, test

PIECE = 64 * 1024
HALF_SIZE = 4 * T.MIB
# The fields a restart must keep exactly, for every torrent.
KEPT = ("id", "owner", "save_path", "info_hash", "name", "paused", "state",
        "progress", "done_bytes", "total_bytes")
# States of a torrent whose data is known to be complete.
COMPLETE_STATES = ("seeding", "finished")


# --------------------------------------------------------------------------
# Helpers

def _b64(b):
    return base64.b64encode(b).decode()


def _make_data(env, name, size, keep=None):
    """A directory with file `name` of `size` random bytes; returns
    (dir, torrent bytes).  With keep=N, bytes from N on are zeroed on disk
    (same size), so only the pieces before N check good."""
    d = env.mkdir("data-" + name)
    content = os.urandom(size)
    tb = T.make_torrent_bytes(name, content, piece_length=PIECE)
    on_disk = content if keep is None else content[:keep] + bytes(size - keep)
    with open(os.path.join(d, name), "wb") as f:
        f.write(on_disk)
    return d, tb


def _status(d, tid):
    with d.patron() as p:
        return p.expect("status", "Status", id=tid)


def _wait_status(d, tid, pred, what, timeout=60):
    last = {}

    def ok():
        last.clear()
        last.update(_status(d, tid))
        return pred(last)
    try:
        T.wait_until(ok, timeout, "torrent %d to be %s" % (tid, what), interval=0.05)
    except T.TestFailure as e:
        T.fail("%s; last status: %s\n%s" % (e, T._short(last), T.tail(d.log, 20)))
    return dict(last)


def _listed(env, d):
    """`tpctl --json list` as {id: status}."""
    r = env.tpctl("list", daemon=d, json_mode=True)
    check(r.returncode == 0, "tpctl --json list: " + describe(r))
    lists = [e for e in T.json_lines(r.stdout) if e["type"] == "List"]
    check_eq(len(lists), 1, "List events printed by tpctl --json list")
    return {t["id"]: t for t in lists[0]["torrents"]}


def _wait_loaded(d, timeout=60):
    """Hello is answered at once; the saved torrents are back when Info
    stops saying `loading`."""
    T.wait_until(lambda: d.info().get("loading") is False, timeout,
                 "the daemon to finish loading its saved torrents", interval=0.05)


def _kept(st):
    return {k: st.get(k) for k in KEPT}


def _pushed_statuses(watcher):
    """Every StatusUpdate pushed to the watcher so far (until 0.3 s pass
    without another)."""
    seen = []
    while True:
        try:
            seen.append(watcher.next(lambda e: e.get("type") == "StatusUpdate",
                                     timeout=0.3, what="more StatusUpdates"))
        except T.TestFailure:
            return seen


def _stop(d):
    problems = d.stop()
    check(not problems, "; ".join(problems) + "\n" + T.tail(d.log, 20))


def _log_size(d):
    try:
        return os.path.getsize(d.log)
    except OSError:
        return 0


def _log_since(d, offset):
    with open(d.log, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def _spoil_complete_data(env, ids):
    """Zeroes the first piece of each complete torrent's data, keeping size
    and times.  A daemon that trusts its resume data still reports these
    torrents complete; one that checks them again finds a bad piece.  (Small
    files are checked between two status ticks, so watching for
    checking_files alone could miss a check.)"""
    spoiled = {}
    for role, name in (("seeded", "seeded/seeded.bin"),
                       ("checked", "data-checked.bin/checked.bin"),
                       ("seed_paused", "data-seedpaused.bin/seedpaused.bin")):
        path = env.path(name)
        st = os.stat(path)
        with open(path, "r+b") as f:
            f.write(bytes(PIECE))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        spoiled[ids[role]] = path
    return spoiled


def _restart_watching(env, d_name, extra=()):
    """Starts the daemon again and connects a patron the moment the socket
    accepts, which sends `watch` at once.  Returns (daemon, patron)."""
    d = env.start_daemon(d_name, extra=extra, wait=False)
    deadline = 30

    def connect():
        if not d.alive():
            T.fail("tpd exited with %s at start:\n%s" % (d.proc.returncode, T.tail(d.log)))
        try:
            return Patron(d.sock, timeout=30)
        except (FileNotFoundError, ConnectionRefusedError):
            return None
    p = T.wait_until(connect, deadline, "the restarted daemon to accept connections",
                     interval=0.005)
    p.request("watch", tag="w0")
    return d, p


def _as_nobody_patron(sock):
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        return Patron(sock)
    finally:
        os.seteuid(0)
        os.setegid(0)


def _magnet(dn):
    h = os.urandom(20).hex()
    return "magnet:?xt=urn:btih:%s&dn=%s" % (h, dn), h


# --------------------------------------------------------------------------
# The set of torrents used by the restart tests

def _populate(env, d):
    """Adds the torrents; returns {role: id} once each is in its steady state."""
    ids = {}
    with d.patron() as p:
        # A complete torrent made by seed: the data lies where it is.
        sd = env.mkdir("seeded")
        sdata = os.path.join(sd, "seeded.bin")
        T.write_random_file(sdata, 3 * T.MIB + 77)
        ev = p.expect("seed", "NewTorrentCreated", path=sdata,
                      trackers=["http://127.0.0.1:9/announce"],
                      torrent_out=env.path("seeded.torrent"), piece_size=PIECE)
        ids["seeded"] = ev["id"]

        # A complete torrent whose data is found by checking.
        cdir, ctb = _make_data(env, "checked.bin", 2 * T.MIB + 5)
        ids["checked"] = p.expect("create", "NewTorrentCreated", torrent=_b64(ctb),
                                  save_dir=cdir)["id"]

        # Half the data on disk, the rest zeroed: half the pieces check good.
        hdir, htb = _make_data(env, "half.bin", HALF_SIZE, keep=HALF_SIZE // 2)
        ids["half"] = p.expect("create", "NewTorrentCreated", torrent=_b64(htb),
                               save_dir=hdir)["id"]

        # Added paused, no data.
        pdir, ptb = _make_data(env, "paused.bin", 1 * T.MIB, keep=0)
        os.unlink(os.path.join(pdir, "paused.bin"))
        ids["paused"] = p.expect("create", "NewTorrentCreated", torrent=_b64(ptb),
                                 save_dir=pdir, paused=True)["id"]

        # Complete, then paused with the pause op.
        qdir, qtb = _make_data(env, "seedpaused.bin", 1 * T.MIB + 3)
        ids["seed_paused"] = p.expect("create", "NewTorrentCreated", torrent=_b64(qtb),
                                      save_dir=qdir)["id"]

    # A magnet nobody can resolve, belonging to another user when we can
    # act as one.
    magnet, _ = _magnet("lonely")
    if T.is_root():
        os.chmod(env.dir, 0o755)
        os.chmod(d.sock, 0o666)
        with _as_nobody_patron(d.sock) as nob:
            ids["magnet"] = nob.expect("create", "NewTorrentCreated", magnet=magnet)["id"]
    else:
        with d.patron() as p:
            ids["magnet"] = p.expect("create", "NewTorrentCreated", magnet=magnet)["id"]

    for role in ("seeded", "checked", "seed_paused"):
        _wait_status(d, ids[role], lambda s: s.get("state") in COMPLETE_STATES
                     and s.get("progress") == 1, "complete")
    _wait_status(d, ids["half"], lambda s: s.get("state") == "downloading"
                 and s.get("done_bytes") == HALF_SIZE // 2, "half done")
    with d.patron() as p:
        p.expect("pause", "Paused", id=ids["seed_paused"])
    _wait_status(d, ids["seed_paused"], lambda s: s.get("paused") is True, "paused")
    _wait_status(d, ids["paused"], lambda s: s.get("paused") is True
                 and not s.get("state", "").startswith("checking"), "paused and settled")
    _wait_status(d, ids["magnet"], lambda s: s.get("state") == "downloading_metadata",
                 "downloading_metadata")
    return ids


def _settled(ids, st):
    """True when a restored torrent has reached the state it had before."""
    role = ids[st["id"]]
    if role in ("seeded", "checked", "seed_paused"):
        return st.get("state") in COMPLETE_STATES and st.get("progress") == 1
    if role == "half":
        return st.get("state") == "downloading" and st.get("done_bytes") == HALF_SIZE // 2
    if role == "magnet":
        return st.get("state") == "downloading_metadata"
    return not st.get("state", "").startswith("checking")


def _wait_all_settled(env, d, ids_by_role, before):
    roles = {v: k for k, v in ids_by_role.items()}
    last = {}

    def ok():
        last.clear()
        last.update(_listed(env, d))
        return set(last) == set(before) and all(_settled(roles, s) for s in last.values())
    try:
        T.wait_until(ok, 120, "every restored torrent to settle", interval=0.1)
    except T.TestFailure as e:
        T.fail("%s; list: %s\n%s" % (e, T._short(last, 3000), T.tail(d.log, 30)))
    return dict(last)


# --------------------------------------------------------------------------
# Tests

@test
def test_clean_restart_keeps_everything(env):
    d = env.start_daemon()
    ids = _populate(env, d)
    before = _listed(env, d)
    check_eq(sorted(before), sorted(ids.values()), "ids listed before the stop")
    if T.is_root():
        check_eq(before[ids["magnet"]].get("owner"), NOBODY, "owner of nobody's magnet")
    _stop(d)
    _spoil_complete_data(env, ids)

    d2, watcher = _restart_watching(env, "tpd")
    try:
        check_eq(watcher.answer("w0").get("type"), "Watching", "answer to watch")
        after = _wait_all_settled(env, d2, ids, before)
        seen = _pushed_statuses(watcher)
    finally:
        watcher.close()

    for role, tid in sorted(ids.items()):
        want = _kept(before[tid])
        got = _kept(after[tid])
        check_eq(got, want, "status of the %s torrent (id %d) after restart" % (role, tid))
    check_eq(after[ids["paused"]]["paused"], True, "paused torrent's paused flag")
    check_eq(after[ids["seed_paused"]]["paused"], True, "paused seed's paused flag")
    check(after[ids["seeded"]]["state"] == "seeding",
          "the seeded torrent is %r after restart, not seeding" % after[ids["seeded"]]["state"])
    check_eq(after[ids["magnet"]]["state"], "downloading_metadata", "magnet's state")
    check_eq(after[ids["half"]]["done_bytes"], HALF_SIZE // 2, "half-done torrent's done_bytes")

    complete = {ids["seeded"], ids["checked"], ids["seed_paused"]}
    for role in ("seeded", "checked", "seed_paused"):
        check(any(e.get("id") == ids[role] for e in seen + list(watcher.pending)),
              "the watcher got no StatusUpdate of the %s torrent" % role)
    bad = [e for e in seen + list(watcher.pending)
           if e.get("type") == "StatusUpdate" and e.get("id") in complete
           and e.get("state") == "checking_files"]
    check(not bad, "a complete torrent was checked again after a clean restart: %s"
          % T._short(bad))
    # The restarted daemon still works: a new torrent gets a new id.
    with d2.patron() as p:
        magnet, _ = _magnet("after")
        nid = p.expect("create", "NewTorrentCreated", magnet=magnet)["id"]
    check(nid > max(ids.values()), "new id %d after restart is not above %d"
          % (nid, max(ids.values())))


@test
def test_kill9_restart_keeps_everything(env):
    """After SIGKILL the same torrents come back with the same status; the
    complete ones, whose completion was saved, are not checked again (their
    spoiled first piece goes unnoticed), the others are."""
    d = env.start_daemon()
    ids = _populate(env, d)
    before = _listed(env, d)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    d.stopped = True
    _spoil_complete_data(env, ids)

    d2, watcher = _restart_watching(env, "tpd")
    try:
        check_eq(watcher.answer("w0").get("type"), "Watching", "answer to watch")
        after = _wait_all_settled(env, d2, ids, before)
        seen = _pushed_statuses(watcher)
    finally:
        watcher.close()
    for role, tid in sorted(ids.items()):
        check_eq(_kept(after[tid]), _kept(before[tid]),
                 "status of the %s torrent (id %d) after kill -9 and restart" % (role, tid))
    checked = sorted({e["id"] for e in seen + list(watcher.pending)
                      if e.get("type") == "StatusUpdate" and e.get("state") == "checking_files"})
    complete = sorted(ids[r] for r in ("seeded", "checked", "seed_paused"))
    again = [i for i in checked if i in complete]
    check(not again, "complete torrents %s (of %s) were checked again after kill -9; "
          "torrents seen in checking_files: %s" % (again, ids, checked))


@test
def test_damaged_resume_data_is_rechecked(env):
    d = env.start_daemon()
    ids = _populate(env, d)
    before = _listed(env, d)
    _stop(d)

    db = sqlite3.connect(os.path.join(d.state, "state.db"))
    damaged = {}
    for role, how in (("seeded", "truncated"), ("half", "zeroed"), ("checked", "garbage")):
        row = db.execute("SELECT data FROM blobs WHERE id = ? AND kind = 'resume'",
                         (ids[role],)).fetchone()
        check(row is not None, "no resume data for torrent %d after a clean stop" % ids[role])
        size = len(row[0])
        check(size > 2, "resume data of torrent %d has only %d bytes" % (ids[role], size))
        if how == "truncated":
            data = bytes(row[0][:size // 2])
        elif how == "zeroed":
            data = bytes(size)
        else:
            data = (b"this is not bencode \xff\x00" * (size // 21 + 1))[:size]
        with db:
            db.execute("UPDATE blobs SET data = ? WHERE id = ? AND kind = 'resume'",
                       (data, ids[role]))
        damaged[ids[role]] = how
    db.close()

    offset = _log_size(d)
    d2, watcher = _restart_watching(env, "tpd")
    watcher.close()
    after = _wait_all_settled(env, d2, ids, before)
    check_eq(sorted(after), sorted(before), "ids after restart with damaged resume data")
    for role, tid in sorted(ids.items()):
        check_eq(_kept(after[tid]), _kept(before[tid]),
                 "status of the %s torrent (id %d) after restart" % (role, tid))
    log = _log_since(d2, offset)
    for tid, how in sorted(damaged.items()):
        lines = [ln for ln in log.splitlines()
                 if re.search(r"\btorrent %d\b" % tid, ln) and "resume" in ln]
        check(lines, "the daemon log does not name torrent %d, whose resume data was %s; "
              "log since restart:\n%s" % (tid, how, log[-3000:]))


@test
def test_ids_never_reused(env):
    d = env.start_daemon()
    with d.patron() as p:
        got = [p.expect("create", "NewTorrentCreated", magnet=_magnet("i%d" % i)[0])["id"]
               for i in range(3)]
        check(got == sorted(got) and len(set(got)) == 3, "ids not increasing: %s" % got)
        p.expect("close", "Closed", id=got[-1])
        nid = p.expect("create", "NewTorrentCreated", magnet=_magnet("i3")[0])["id"]
        check(nid > got[-1], "id %d given after closing the highest id %d" % (nid, got[-1]))
        got.append(nid)
        p.expect("close", "Closed", id=nid)
    _stop(d)

    d2 = env.start_daemon("tpd")
    _wait_loaded(d2)
    listed = _listed(env, d2)
    check_eq(sorted(listed), sorted(got[:2]), "ids listed after restart")
    with d2.patron() as p:
        nid = p.expect("create", "NewTorrentCreated", magnet=_magnet("i4")[0])["id"]
    check(nid > max(got), "id %d after a clean restart; ids used before: %s" % (nid, got))
    got.append(nid)

    # kill -9 right after the answer: the id counter was saved before it.
    d2.proc.send_signal(signal.SIGKILL)
    d2.proc.wait(timeout=10)
    d2.stopped = True
    d3 = env.start_daemon("tpd")
    _wait_loaded(d3)
    listed = _listed(env, d3)
    check_eq(sorted(listed), sorted(got[:2] + [got[-1]]), "ids listed after kill -9")
    with d3.patron() as p:
        nid = p.expect("create", "NewTorrentCreated", magnet=_magnet("i5")[0])["id"]
    check(nid > max(got), "id %d after kill -9 and restart; ids used before: %s" % (nid, got))


@test
def test_info_answers_while_loading(env):
    """With thousands of saved torrents the socket is served while they come
    back: the first info after a restart says loading, and the daemon goes
    on to list every one of them."""
    n = 5000
    d = env.start_daemon()
    window = 500
    with d.patron(timeout=120) as p:
        sent = got = 0
        while got < n:
            while sent < n and sent - got < window:
                p.send({"op": "create", "tag": sent,
                        "magnet": "magnet:?xt=urn:btih:" + os.urandom(20).hex()})
                sent += 1
            ev = p.next(lambda e: True, what="answers to the creates")
            if "tag" in ev:
                check_eq(ev.get("type"), "NewTorrentCreated", "answer to create %r" % ev.get("tag"))
                got += 1
    _stop(d)
    d2 = env.start_daemon("tpd")   # returns once hello is answered
    first = d2.info()
    check_eq(first.get("loading"), True,
             "loading in the first info after a restart with %d torrents" % n)
    _wait_loaded(d2)
    with d2.patron(timeout=60) as p:
        check_eq(len(p.list()), n, "torrents listed once loading is done")


# The fields a restart of many torrents must bring back exactly.
SETTINGS = ("id", "owner", "info_hash", "name", "save_path", "paused", "labels",
            "sequential", "download_limit", "upload_limit", "ratio_limit",
            "seed_time_limit", "stop_reason", "queue_position")


def _create_many(p, n, extra):
    """n magnets over one connection (at most 500 unanswered), each with
    the fields extra(i) gives; returns their ids in order."""
    ids = {}
    sent = 0
    window = 500
    while len(ids) < n:
        while sent < n and sent - len(ids) < window:
            req = {"op": "create", "tag": sent,
                   "magnet": "magnet:?xt=urn:btih:%s&dn=m%d" % (os.urandom(20).hex(), sent)}
            req.update(extra(sent))
            p.send(req)
            sent += 1
        ev = p.next(lambda e: "tag" in e, what="answers to the creates")
        check_eq(ev.get("type"), "NewTorrentCreated", "answer to create %r" % ev.get("tag"))
        ids[ev["tag"]] = ev["id"]
    return [ids[i] for i in range(n)]


@test
def test_many_torrents_keep_their_settings(env):
    """3,000 torrents of two owners with mixed settings, a few seeds stopped
    by their seed-time limit: after SIGTERM and a restart, every id is back
    with the same owner, labels, limits, flags, queue place and stop_reason."""
    n = 3000
    d = env.start_daemon()

    def extra(i):
        f = {}
        if i % 3 == 0:
            f["labels"] = ["l%d" % (i % 7), "all"]
        if i % 4 == 1:
            f["download_limit"] = 1000 + i
        if i % 5 == 2:
            f["upload_limit"] = 2000 + i
        if i % 6 == 3:
            f["sequential"] = True
        if i % 2 == 0:
            f["paused"] = True
        return f
    with d.patron(timeout=120) as p:
        ids = _create_many(p, n, extra)
        for i in range(0, n, 11):
            p.expect("set", "Set", id=ids[i], ratio_limit=1.5)
        for i in range(5, n, 13):
            p.expect("set", "Set", id=ids[i], seed_time_limit=3600 + i)
        p.expect("set", "Set", id=ids[-1], queue_position="top")
        # Seeds that their own seed-time limit stops: stop_reason.
        stopped = []
        for k in range(3):
            data = os.path.join(env.mkdir("seed%d" % k), "s.bin")
            T.write_random_file(data, 64 * 1024 + k)
            tid = p.expect("seed", "NewTorrentCreated", path=data,
                           trackers=["http://127.0.0.1:9/announce"])["id"]
            p.expect("set", "Set", id=tid, seed_time_limit=1)
            stopped.append(tid)
    for tid in stopped:
        _wait_status(d, tid, lambda s: s.get("stop_reason") == "seed_time",
                     "stopped by its seed-time limit")
    others = []
    # A second owner needs a root daemon (an unprivileged one acts for no
    # other user).
    if T.is_root() and not T.unprivileged_pass():
        os.chmod(env.dir, 0o755)
        os.chmod(d.sock, 0o666)
        with _as_nobody_patron(d.sock) as nob:
            nob.timeout = 120
            others = _create_many(nob, 200, lambda i: {"labels": ["nobody"]})
    with d.patron(timeout=60) as p:
        before = {t["id"]: {k: t.get(k) for k in SETTINGS} for t in p.list()}
    check_eq(len(before), n + len(stopped) + len(others), "torrents listed before the restart")
    check(all(before[t]["stop_reason"] == "seed_time" for t in stopped),
          "stop_reason before the restart: %s" % [before[t] for t in stopped])
    _stop(d)

    d2 = env.start_daemon("tpd")
    _wait_loaded(d2, timeout=120)
    with d2.patron(timeout=60) as p:
        after = {t["id"]: {k: t.get(k) for k in SETTINGS} for t in p.list()}
    check_eq(sorted(after), sorted(before), "ids listed after the restart")
    wrong = [(before[t], after[t]) for t in before if before[t] != after[t]]
    check(not wrong, "%d of %d torrents came back different, e.g. %s"
          % (len(wrong), len(before), wrong[:3]))


@test
def test_old_state_dir_is_imported(env):
    """A state directory of a tpd before state.db (a file per torrent in
    STATE/torrents) comes back whole, and its files are gone afterwards."""
    d0 = env.start_daemon(wait=False)   # only for its paths
    d0.proc.kill()
    d0.proc.wait(timeout=10)
    d0.stopped = True
    for f in os.listdir(d0.state):
        if f.startswith("state.db"):
            os.unlink(os.path.join(d0.state, f))
    tdir = os.path.join(d0.state, "torrents")
    os.makedirs(tdir, exist_ok=True)
    info = {b"name": b"old.bin", b"length": 16384, b"piece length": 16384,
            b"pieces": os.urandom(20)}
    torrent = T.bencode({b"info": info})
    ih = T.info_hash(torrent)
    magnet, mh = _magnet("oldmagnet")
    metas = {
        3: {"id": 3, "owner": NOBODY, "save_path": d0.downloads, "info_hash": ih,
            "name": "old.bin", "paused": True, "complete": False},
        7: {"id": 7, "owner": 0, "save_path": d0.downloads, "info_hash": mh,
            "name": "oldmagnet", "magnet": magnet, "paused": True, "complete": False},
    }
    for tid, m in metas.items():
        with open(os.path.join(tdir, "%d.meta" % tid), "w") as f:
            json.dump(m, f)
    with open(os.path.join(tdir, "3.torrent"), "wb") as f:
        f.write(torrent)
    with open(os.path.join(tdir, "9.meta.tmp"), "w") as f:
        f.write("{half")               # a write the old tpd never finished
    d = env.start_daemon("tpd")
    _wait_loaded(d)
    listed = _listed(env, d)
    check_eq(sorted(listed), [3, 7], "ids after importing the old state directory")
    for tid, m in metas.items():
        check_eq((listed[tid]["owner"], listed[tid]["info_hash"], listed[tid]["name"]),
                 (m["owner"], m["info_hash"], m["name"]), "torrent %d after the import" % tid)
    check(not os.path.exists(tdir), "%s still there after the import: %s"
          % (tdir, os.listdir(tdir) if os.path.isdir(tdir) else "?"))
    with d.patron() as p:
        nid = p.expect("create", "NewTorrentCreated", magnet=_magnet("new")[0])["id"]
    check(nid > 7, "id %d after importing ids up to 7" % nid)
    _stop(d)
    d2 = env.start_daemon("tpd")
    _wait_loaded(d2)
    check_eq(sorted(_listed(env, d2)), [3, 7, nid], "ids after a restart once imported")


@test
def test_unsaveable_create_is_refused(env):
    """A torrent whose state cannot be saved is not acknowledged: the create
    is a StartFail that says why, and nothing half-made stays behind.  The
    state directory is a small tmpfs, filled up while the daemon runs."""
    if not T.is_root():
        raise T.TestSkip("mounting a small tmpfs as the state directory needs root")
    state = env.mkdir("tpd", "state")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0750", "tpd-state", state],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise T.TestSkip("cannot mount a tmpfs: %s" % r.stderr.strip())
    try:
        d = env.start_daemon()
        filler = os.path.join(state, "filler")
        with d.patron() as p:
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(bytes(65536))
                        f.flush()
                except OSError:
                    pass     # the disk is full
            ev = p.call("create", magnet=_magnet("lost")[0])
            check_eq(ev.get("type"), "StartFail", "create while the state cannot be saved")
            check("cannot save" in ev.get("reason", ""), "reason: %r" % ev.get("reason"))
            check_eq(p.list(), [], "torrents after the refused create")
            os.unlink(filler)
            ev = p.call("create", magnet=_magnet("kept")[0])
            check_eq(ev.get("type"), "NewTorrentCreated", "create once the state can be saved")
        _stop(d)
        d2 = env.start_daemon("tpd")
        _wait_loaded(d2)
        with d2.patron() as p:
            check_eq([t["name"] for t in p.list()], ["kept"], "torrents after restart")
        _stop(d2)
    finally:
        # Lazily: a daemon still running (a failed check) keeps it busy.
        subprocess.run(["umount", "-l", state], capture_output=True)


if __name__ == "__main__":
    T.main()
