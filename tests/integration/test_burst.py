"""test_burst - kill -9 during a burst of creates loses no acknowledged torrent.

Two patrons, root and nobody, each pipeline PER_PATRON .torrent creates over
one connection (at most WINDOW unanswered).  Once about half of all the
creates are answered, tpd gets SIGKILL; whatever answers had reached the
patrons by then are the acknowledged ones.  Restarted on the same state
directory (SQLite, one commit per batch of commands: daemon/store.c):

  - every torrent that got NewTorrentCreated is listed, with its id, name,
    info-hash and owner;
  - a create that was not answered is either back whole (listed with the
    name, info-hash and owner of the create that made it) or absent: the
    state database holds exactly the listed ids, each with its meta and its
    .torrent, and the log names no torrent that could not be restored;
  - each owner lists exactly their own torrents, and a new create gets an id
    above every id seen.

Every wait is on an answer or a condition with a deadline; nothing sleeps.
"""

import os
import signal
import sqlite3
import threading
import time

import tpdtest as T
from tpdtest import NOBODY, Patron, check, check_eq, test

PER_PATRON = 4000
WINDOW = 1024


def _torrent(tag, i):
    name = "%s%06d.bin" % (tag, i)
    info = {b"name": name.encode(), b"length": 16384, b"piece length": 16384,
            b"pieces": os.urandom(20)}
    data = T.bencode({b"info": info})
    return name, data, T.info_hash(data)


class Burst(threading.Thread):
    """One patron's creates, pipelined; keeps every NewTorrentCreated."""

    def __init__(self, patron, tag, save_dir, progress):
        super().__init__(daemon=True)
        self.p = patron
        self.progress = progress
        self.reqs = []
        self.sent = {}           # name -> info-hash, of every create sent
        for i in range(PER_PATRON):
            name, data, ih = _torrent(tag, i)
            self.sent[name] = ih
            self.reqs.append({"op": "create", "tag": name, "paused": True,
                              "save_dir": save_dir,
                              "torrent": T.base64.b64encode(data).decode()})
        self.acked = {}          # id -> NewTorrentCreated
        self.other = []          # any other answer to a create
        self.ended = None

    def run(self):
        sent = 0
        try:
            while sent < len(self.reqs) or len(self.acked) + len(self.other) < sent:
                while sent < len(self.reqs) and sent - len(self.acked) - len(self.other) < WINDOW:
                    try:
                        self.p.send(self.reqs[sent])
                    except OSError:
                        # Killed: the answers it sent before are still
                        # to be read.
                        self.reqs = self.reqs[:sent]
                        break
                    sent += 1
                ev = self.p._read_line(time.monotonic() + 120)
                if ev is None:
                    self.ended = "end of stream"
                    return
                if "tag" not in ev:
                    continue
                if ev.get("type") == "NewTorrentCreated":
                    self.acked[ev["id"]] = ev
                else:
                    self.other.append(ev)
                self.progress()
            self.ended = "all answered"
        except (OSError, T.TestFailure) as e:
            self.ended = str(e)   # the kill; complete lines were all read


def _connect_as_nobody(d, timeout):
    """A connection whose SO_PEERCRED (taken at connect) is nobody's."""
    os.chmod(d.sock, 0o666)
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        return Patron(d.sock, timeout=timeout)
    finally:
        os.seteuid(0)
        os.setegid(0)


@test
def test_kill9_during_create_burst(env):
    if not T.is_root():
        raise T.TestSkip("the second patron is nobody: needs root")
    d = env.start_daemon()
    os.chmod(env.dir, 0o755)
    os.chmod(d.dir, 0o755)
    save_dir = env.mkdir("data", mode=0o777)
    pn = _connect_as_nobody(d, 120)
    pr = Patron(d.sock, timeout=120)
    half = threading.Event()
    lock = threading.Lock()
    count = [0]

    def progress():
        with lock:
            count[0] += 1
            if count[0] >= PER_PATRON:     # half of both patrons' creates
                half.set()

    bursts = {0: Burst(pr, "r", save_dir, progress),
              NOBODY: Burst(pn, "n", save_dir, progress)}
    for b in bursts.values():
        b.start()
    check(half.wait(120), "half of %d creates not answered within 120 s (%d were)"
          % (2 * PER_PATRON, count[0]))
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=30)
    d.stopped = True
    for b in bursts.values():
        b.join(60)
        check(not b.is_alive(), "a patron still reading 60 s after the kill")
    pr.close()
    pn.close()
    for uid, b in bursts.items():
        check(not b.other, "answers other than NewTorrentCreated (uid %d): %s"
              % (uid, T._short(b.other[:3])))
    acked = {tid: (uid, ev) for uid, b in bursts.items() for tid, ev in b.acked.items()}
    check(0 < len(acked) < 2 * PER_PATRON,
          "%d of %d creates acknowledged before the kill: the kill was not mid-burst"
          % (len(acked), 2 * PER_PATRON))
    owner_of = {name: uid for uid, b in bursts.items() for name in b.sent}
    hash_of = {name: ih for b in bursts.values() for name, ih in b.sent.items()}

    log_start = os.path.getsize(d.log) if os.path.exists(d.log) else 0
    d2 = env.start_daemon("tpd")
    T.wait_until(lambda: d2.info().get("loading") is False, 60,
                 "the daemon to finish loading its saved torrents", interval=0.05)
    with d2.patron(timeout=60) as p:
        listed = {t["id"]: t for t in p.list()}
    lost = sorted(tid for tid in acked if tid not in listed)
    check(not lost, "%d acknowledged torrents missing after kill -9 and restart "
          "(of %d acknowledged, %d listed), e.g. ids %s"
          % (len(lost), len(acked), len(listed), lost[:10]))
    for tid, (uid, ev) in sorted(acked.items()):
        t = listed[tid]
        got = (t.get("name"), t.get("info_hash"), t.get("owner"))
        want = (ev["name"], ev["info_hash"], uid)
        check_eq(got, want, "name, info-hash and owner of acknowledged torrent %d" % tid)
    for tid, t in sorted(listed.items()):
        name = t.get("name")
        check(name in owner_of, "torrent %d (%r) was never created" % (tid, name))
        check_eq((t.get("info_hash"), t.get("owner")), (hash_of[name], owner_of[name]),
                 "info-hash and owner of torrent %d (%s), unanswered before the kill"
                 % (tid, name))
    check_eq(len({t["name"] for t in listed.values()}), len(listed),
             "distinct names among the %d torrents listed" % len(listed))

    db = sqlite3.connect(os.path.join(d2.state, "state.db"))
    try:
        kinds = {}
        for tid, kind in db.execute("SELECT id, kind FROM blobs"):
            kinds.setdefault(tid, set()).add(kind)
    finally:
        db.close()
    orphans = sorted(set(kinds) - set(listed))
    check(not orphans, "state rows of torrents not listed (half there): %s" % orphans[:10])
    partial = sorted(tid for tid in listed if not {"meta", "torrent"} <= kinds.get(tid, set()))
    check(not partial, "listed torrents without meta or .torrent saved: %s" % partial[:10])
    with open(d2.log, errors="replace") as f:
        f.seek(log_start)
        bad = [ln for ln in f if "not restored" in ln]
    check(not bad, "torrents not restored after the kill: %s" % bad[:5])

    pn = _connect_as_nobody(d2, 60)
    with pn:
        mine = sorted(t["id"] for t in pn.list())
    check_eq(mine, sorted(tid for tid, t in listed.items() if t["owner"] == NOBODY),
             "the ids nobody lists after the restart")
    with d2.patron() as p:
        name, data, _ = _torrent("after", 0)
        ev = p.expect("create", "NewTorrentCreated", paused=True, save_dir=save_dir,
                      torrent=T.base64.b64encode(data).decode())
    top = max(list(listed) + list(acked))
    check(ev["id"] > top, "id %d given after the restart; ids up to %d were used"
          % (ev["id"], top))


if __name__ == "__main__":
    T.main()
