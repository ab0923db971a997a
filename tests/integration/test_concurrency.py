"""test_concurrency - many patrons creating at once get exactly their answers.

40 patrons connect together and each pipelines (sends every line before
reading any answer) creates of its own distinct torrents, a duplicate of its
own, duplicates of other patrons' torrents, and garbage.  Every create must
get exactly one answer, with its own tag, on its own connection, of the right
kind; across all patrons each info-hash gets exactly one NewTorrentCreated
and every other create of it an AlreadyDownloading naming that id.  Then
patrons that disconnect right after sending: their torrents must still all
exist exactly once, and the daemon must still answer.
"""

import base64
import json
import os
import threading

import tpdtest as T
from tpdtest import Patron, check, check_eq, test

N_PATRONS = 40
N_OWN = 3


def _distinct_torrent(label):
    content = os.urandom(1000 + int.from_bytes(os.urandom(2), "big") % 5000)
    tb = T.make_torrent_bytes("c-%s.bin" % label, content)
    return {"torrent": base64.b64encode(tb).decode()}, T.info_hash(tb)


def _magnet(label):
    h = os.urandom(20).hex()
    return {"magnet": "magnet:?xt=urn:btih:%s&dn=m-%s" % (h, label)}, h


def _garbage(k):
    if k == 0:
        return {"torrent": base64.b64encode(os.urandom(300)).decode()}
    if k == 1:
        return {"torrent": "!!! this is not base64 !!!"}
    return {"magnet": "magnet:?xt=urn:btih:not-a-hash"}


def _plan(n, prefix, own=N_OWN, dup_offsets=(1, N_PATRONS // 2), garbage=3):
    """Per patron a list of (tag, fields, expected_hash or None for garbage)."""
    own_items = []
    for i in range(n):
        items = [_distinct_torrent("%s%d-%d" % (prefix, i, k)) for k in range(own)]
        items.append(_magnet("%s%d" % (prefix, i)))
        own_items.append(items)
    plans = []
    for i in range(n):
        lines = []
        for k, (fields, h) in enumerate(own_items[i]):
            lines.append(("%s%d-own%d" % (prefix, i, k), fields, h))
        # The same torrent again on the same connection, right away.
        fields, h = own_items[i][0]
        lines.append(("%s%d-self" % (prefix, i), fields, h))
        for j, off in enumerate(dup_offsets):
            fields, h = own_items[(i + off) % n][1 + j % (own - 1)]
            lines.append(("%s%d-dup%d" % (prefix, i, j), fields, h))
        for k in range(garbage):
            lines.append(("%s%d-bad%d" % (prefix, i, k), _garbage(k), None))
        plans.append(lines)
    distinct = {h for items in own_items for _, h in items}
    return plans, distinct


def _run_patron(sock, plan, barrier, results, errors, idx):
    try:
        with Patron(sock, timeout=120) as p:
            barrier.wait(timeout=60)
            data = b"".join(
                (json.dumps(dict(fields, op="create", tag=tag)) + "\n").encode()
                for tag, fields, _ in plan)
            p.send(data)
            want = {tag for tag, _, _ in plan}
            got = {}
            while len(got) < len(want):
                ev = p.next(lambda e: "tag" in e, 120,
                            "answers to %d creates (have %d)" % (len(want), len(got)))
                tag = ev["tag"]
                if tag not in want:
                    T.fail("patron %d got an answer with a tag it never sent: %s"
                           % (idx, T._short(ev)))
                if tag in got:
                    T.fail("patron %d got two answers for tag %s: %s and %s"
                           % (idx, tag, T._short(got[tag]), T._short(ev)))
                got[tag] = ev
            # Anything answered twice would have to arrive before the answer
            # to a later request on the same connection.
            end = p.request("list")
            extra = []
            while True:
                ev = p.next(lambda e: "tag" in e, 60, "the answer to the final list")
                if T.same_tag(ev["tag"], end):
                    break
                extra.append(ev)
            if extra:
                T.fail("patron %d got extra tagged events: %s" % (idx, T._short(extra)))
            results[idx] = got
    except BaseException as e:  # reported by the main thread
        errors.append("patron %d: %s" % (idx, e))


def _check_answers(plans, results):
    """Applies the global rules; returns {hash: id}."""
    created = {}  # hash -> (id, tag)
    dups = []     # (hash, id, tag)
    for i, plan in enumerate(plans):
        got = results[i]
        for tag, fields, h in plan:
            ev = got[tag]
            t = ev["type"]
            if h is None:
                check(t == "StartFail", "%s (garbage) answered %s, expected StartFail"
                      % (tag, T._short(ev)))
                check(isinstance(ev.get("reason"), str) and ev["reason"],
                      "StartFail without a reason: %s" % T._short(ev))
                continue
            if t == "NewTorrentCreated":
                check_eq(ev.get("info_hash"), h, "info_hash of %s" % tag)
                check(isinstance(ev.get("id"), int) and ev["id"] > 0,
                      "bad id in %s" % T._short(ev))
                if h in created:
                    T.fail("info-hash %s created twice: %s got id %s and %s got id %s"
                           % (h, created[h][1], created[h][0], tag, ev["id"]))
                created[h] = (ev["id"], tag)
            elif t == "AlreadyDownloading":
                dups.append((h, ev.get("id"), tag, ev))
            else:
                T.fail("%s answered %s, expected NewTorrentCreated or AlreadyDownloading"
                       % (tag, T._short(ev)))
    for h, tid, tag, ev in dups:
        check(h in created, "%s: AlreadyDownloading %s but nobody got "
              "NewTorrentCreated for %s" % (tag, T._short(ev), h))
        check_eq(tid, created[h][0], "id in AlreadyDownloading for %s (%s; created by %s)"
                 % (tag, h, created[h][1]))
        if "info_hash" in ev:
            check_eq(ev["info_hash"], h, "info_hash in AlreadyDownloading for %s" % tag)
    ids = [v[0] for v in created.values()]
    check_eq(len(set(ids)), len(ids), "distinct ids among NewTorrentCreated")
    # On one connection, creates from bytes or magnets are answered in
    # order: a patron's own first torrent was sent only by it, so its first
    # copy is the creation and the copy right after is the duplicate.
    for i, plan in enumerate(plans):
        check_eq(results[i][plan[0][0]]["type"], "NewTorrentCreated",
                 "answer to patron %d's first own torrent" % i)
        self_tag = [t for t, _, _ in plan if t.endswith("-self")][0]
        check_eq(results[i][self_tag]["type"], "AlreadyDownloading",
                 "answer to patron %d's immediate duplicate" % i)
    return {h: v[0] for h, v in created.items()}


def _list_by_hash(p):
    by = {}
    for t in p.list():
        by.setdefault(t.get("info_hash"), []).append(t)
    return by


@test
def test_pipelined_patrons(env):
    d = env.start_daemon()
    plans, distinct = _plan(N_PATRONS, "p")
    results = [None] * N_PATRONS
    errors = []
    barrier = threading.Barrier(N_PATRONS)
    threads = [threading.Thread(target=_run_patron,
                                args=(d.sock, plans[i], barrier, results, errors, i))
               for i in range(N_PATRONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    check(not any(t.is_alive() for t in threads), "patron threads still running after 300 s")
    check(not errors, "%d patron(s) failed; first: %s" % (len(errors), errors[0] if errors else ""))
    ids = _check_answers(plans, results)
    check_eq(set(ids), distinct, "info-hashes that got NewTorrentCreated")
    with d.patron() as p:
        by = _list_by_hash(p)
        for h, tid in ids.items():
            check(h in by, "torrent %s (id %d) missing from the list" % (h, tid))
            check_eq(len(by[h]), 1, "list entries for %s" % h)
            check_eq(by[h][0].get("id"), tid, "id of %s in the list" % h)
        check_eq(len(by), len(distinct), "number of distinct torrents in the list")


@test
def test_patrons_that_disconnect(env):
    d = env.start_daemon()
    # First a round whose answers are read, to know the ids already used.
    plans, distinct = _plan(N_PATRONS, "q", own=2, dup_offsets=(1,), garbage=2)
    barrier = threading.Barrier(N_PATRONS)
    errors = []

    def hit_and_run(i):
        try:
            p = Patron(d.sock, timeout=60)
            barrier.wait(timeout=60)
            p.send(b"".join((json.dumps(dict(f, op="create", tag=tag)) + "\n").encode()
                            for tag, f, _ in plans[i]))
            p.close()
        except BaseException as e:
            errors.append("patron %d: %s" % (i, e))

    threads = [threading.Thread(target=hit_and_run, args=(i,)) for i in range(N_PATRONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    check(not errors, "patrons failed to send: %s" % errors[:3])

    with d.patron(timeout=30) as p:
        last = {}

        def all_there():
            last.clear()
            last.update(_list_by_hash(p))
            return distinct <= set(last)
        try:
            T.wait_until(all_there, 120, "every torrent of the departed patrons to be listed",
                         interval=0.1)
        except T.TestFailure as e:
            T.fail("%s; missing %d of %d" % (e, len(distinct - set(last)), len(distinct)))
        by = _list_by_hash(p)
        for h in distinct:
            check_eq(len(by[h]), 1, "list entries for %s" % h)
            check_eq(by[h][0].get("owner"), os.geteuid(),
                     "owner of a torrent whose creator disconnected")
        check_eq(set(by), distinct, "info-hashes in the list (garbage must create nothing)")
        ids = [t[0]["id"] for t in by.values()]
        check_eq(len(set(ids)), len(ids), "distinct ids in the list")
        check_eq(p.expect("hello", "Hello").get("protocol"), 1, "protocol in Hello")
        info = p.expect("info", "Info")
        check_eq(info.get("torrents"), len(distinct), "torrents counted by info")
    # A brand-new connection is served too.
    with d.patron() as p2:
        p2.expect("list", "List")


if __name__ == "__main__":
    T.main()
