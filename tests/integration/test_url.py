"""test_url - creates from an http URL: every outcome and its FIFO slot.

A scripted HTTP server on 127.0.0.1 answers with a valid .torrent, a 404,
a 2 MiB body (the daemon runs with --max-torrent-size 1M), nothing at all
(the daemon runs with --url-timeout 2), a redirect to file:///etc/passwd,
a body that is not bencode, and redirects.  Each create gets exactly one
answer with its tag: NewTorrentCreated, or StartFail with a reason naming
the cause.  Pipelined on one connection, the slow URL creates do not hold
up the magnet and torrent creates behind them, and a second patron's
creates meanwhile get their own answers (even with the same tags).
"""

import base64
import os
import re
import threading

import seedutil as U
import tpdtest as T
from tpdtest import check, check_eq, describe, test

DAEMON_OPTS = ["--max-torrent-size", "1M", "--url-timeout", "2"]


def _torrent(name, size=40000):
    content = os.urandom(size)
    tb = T.make_torrent_bytes(name, content, announce="http://127.0.0.1:9/announce")
    return tb, T.info_hash(tb)


def _server():
    good, good_ih = _torrent("fetched.bin")
    big = b"d8:announce" + b"x" * (2 * T.MIB) + b"e"
    routes = {
        "/good.torrent": ("body", 200, good),
        "/big.torrent": ("body", 200, big),
        "/big-stream.torrent": ("stream", big),
        "/hang.torrent": ("hang",),
        "/to-passwd.torrent": ("redirect", 302, "file:///etc/passwd"),
        "/garbage.torrent": ("body", 200, b"<html>this is not bencode</html>\n"),
        "/redirect-good.torrent": ("redirect", 301, "/good.torrent"),
        "/loop.torrent": ("redirect", 302, "/loop.torrent"),
    }
    return U.HttpServer(routes), good_ih


def _start_fail(p, url, pattern, what):
    ev = p.call("create", url=url)
    check_eq(ev.get("type"), "StartFail", "answer to a create from %s (%s): %s"
             % (what, url, T._short(ev)))
    reason = ev.get("reason")
    check(isinstance(reason, str) and reason, "StartFail without a reason: %s" % T._short(ev))
    # The URL itself must not be what matches.
    bare = reason.replace(url, "<URL>")
    check(re.search(pattern, bare, re.I),
          "StartFail for %s: reason %r does not match /%s/" % (what, reason, pattern))
    return ev


@test
def test_url_outcomes(env):
    d = env.start_daemon(extra=DAEMON_OPTS)
    with _server()[0] as srv, d.patron() as p:
        good_ih = T.info_hash(srv.routes["/good.torrent"][2])
        ev = p.expect("create", "NewTorrentCreated", url=srv.url("/good.torrent"))
        check_eq(ev.get("info_hash"), good_ih, "info_hash of the fetched torrent")
        check_eq(ev.get("name"), "fetched.bin", "name of the fetched torrent")

        _start_fail(p, srv.url("/missing.torrent"), r"\b404\b", "a 404")
        check_eq(srv.hit_count("/missing.torrent"), 1, "requests for the 404 path")
        _start_fail(p, srv.url("/big.torrent"), r"larger|size|too (big|large)|MiB|bytes",
                    "a 2 MiB body with Content-Length over a 1 MiB limit")
        _start_fail(p, srv.url("/big-stream.torrent"), r"larger|size|too (big|large)|MiB|bytes",
                    "a 2 MiB body without Content-Length over a 1 MiB limit")
        _start_fail(p, srv.url("/hang.torrent"), r"timed out", "a server that never answers")
        check(srv.hang_seen.is_set(), "the never-answering server was not reached")
        ev = _start_fail(p, srv.url("/to-passwd.torrent"), r"only http|scheme|protocol|file",
                         "a redirect to file:///etc/passwd")
        check("root:" not in ev["reason"], "the StartFail leaks /etc/passwd: %r" % ev["reason"])
        _start_fail(p, srv.url("/garbage.torrent"), r"invalid|bencod|not a torrent|parse",
                    "a body that is not bencode")
        _start_fail(p, srv.url("/loop.torrent"), r"redirect", "a redirect loop")
        _start_fail(p, "ftp://127.0.0.1:%d/x.torrent" % srv.port, r"only http|scheme|protocol", "an ftp URL")

        # A redirect to an http URL is followed: the same torrent again.
        ev = p.expect("create", "AlreadyDownloading", url=srv.url("/redirect-good.torrent"))
        check_eq(ev.get("info_hash"), good_ih, "info_hash after a redirect")

        # Only the successful fetch made a torrent.
        listed = p.list()
        check_eq([t.get("info_hash") for t in listed], [good_ih],
                 "torrents in the list after the URL creates")
    check(d.alive(), "the daemon died")


@test
def test_url_outcomes_through_tpctl(env):
    d = env.start_daemon(extra=DAEMON_OPTS)
    with _server()[0] as srv:
        r = env.tpctl("add", srv.url("/missing.torrent"))
        check_eq(r.returncode, 1, "exit status of tpctl add URL-with-404 (%s)" % describe(r))
        check("404" in r.stderr, "tpctl add URL-with-404 must say 404 on stderr: " + describe(r))
        r = env.tpctl("add", srv.url("/hang.torrent"), timeout=60)
        check_eq(r.returncode, 1, "exit status of tpctl add URL-that-hangs (%s)" % describe(r))
        check("timed out" in r.stderr, "tpctl add URL-that-hangs must say 'timed out': "
              + describe(r))
        dl = env.mkdir("dl")
        r = env.tpctl("add", srv.url("/good.torrent"), "--dir", dl)
        U.new_id(r, "tpctl add URL")
    check(d.alive(), "the daemon died")


@test
def test_url_answers_in_their_slots(env):
    """[url-404, magnet, url-timeout, torrent] pipelined on one connection,
    while a second connection creates too (with the same tags)."""
    d = env.start_daemon(extra=DAEMON_OPTS)
    srv, _ = _server()
    with srv, d.patron() as p1, d.patron() as p2:
        tb1, ih1 = _torrent("one.bin")
        tb2, ih2 = _torrent("two.bin")
        mag1 = os.urandom(20).hex()
        mag2 = os.urandom(20).hex()
        good_ih = T.info_hash(srv.routes["/good.torrent"][2])
        reqs = [("u404", {"url": srv.url("/missing.torrent")}),
                ("mag", {"magnet": "magnet:?xt=urn:btih:%s&dn=m1" % mag1}),
                ("uhang", {"url": srv.url("/hang.torrent")}),
                ("tor", {"torrent": base64.b64encode(tb1).decode()})]
        for tag, fields in reqs:
            p1.request("create", tag=tag, **fields)

        # The second patron, meanwhile, with tags the first one also uses.
        p2.request("create", tag="mag", magnet="magnet:?xt=urn:btih:%s&dn=m2" % mag2)
        p2.request("create", tag="tor", torrent=base64.b64encode(tb2).decode())
        p2.request("create", tag="u404", url=srv.url("/good.torrent"))
        a2 = {t: p2.answer(t, timeout=30) for t in ("mag", "tor", "u404")}
        check_eq((a2["mag"].get("type"), a2["mag"].get("info_hash")),
                 ("NewTorrentCreated", mag2), "patron 2's magnet answer")
        check_eq((a2["tor"].get("type"), a2["tor"].get("info_hash")),
                 ("NewTorrentCreated", ih2), "patron 2's torrent answer")
        check_eq((a2["u404"].get("type"), a2["u404"].get("info_hash")),
                 ("NewTorrentCreated", good_ih), "patron 2's URL answer")

        # Patron 1's answers in arrival order.
        got = []
        while len(got) < 4:
            ev = p1.next(lambda e: "tag" in e, timeout=30,
                         what="answer %d of 4 on patron 1" % (len(got) + 1))
            got.append(ev)
        tags = [e.get("tag") for e in got]
        check_eq(sorted(tags), sorted(t for t, _ in reqs),
                 "tags of patron 1's answers (each exactly once)")
        by_tag = {e["tag"]: e for e in got}
        e = by_tag["u404"]
        check(e.get("type") == "StartFail" and "404" in e.get("reason", ""),
              "answer to u404: %s" % T._short(e))
        e = by_tag["mag"]
        check(e.get("type") == "NewTorrentCreated" and e.get("info_hash") == mag1,
              "answer to mag: %s" % T._short(e))
        e = by_tag["uhang"]
        check(e.get("type") == "StartFail" and "timed out" in e.get("reason", ""),
              "answer to uhang: %s" % T._short(e))
        e = by_tag["tor"]
        check(e.get("type") == "NewTorrentCreated" and e.get("info_hash") == ih1,
              "answer to tor: %s" % T._short(e))
        # torrent and magnet creates keep their order; the slow fetch that
        # times out must not hold up the torrent create sent after it.
        check(tags.index("mag") < tags.index("tor"),
              "magnet answered after the torrent create sent after it: %s" % tags)
        check(tags.index("tor") < tags.index("uhang"),
              "the torrent create waited for the slow URL sent before it: %s" % tags)
        check(srv.hang_seen.is_set(), "the never-answering server was not reached")

        # Each patron sees the torrents of its uid (root: all of them).
        ids = sorted(t.get("info_hash") for t in p1.list())
        check_eq(ids, sorted([mag1, ih1, mag2, ih2, good_ih]), "info-hashes in the list")
    check(d.alive(), "the daemon died")


@test
def test_url_fetches_finishing_out_of_order(env):
    """Three URL creates on one connection whose fetches finish in reverse
    order: each answer carries its own tag and its own torrent."""
    d = env.start_daemon(extra=["--workers", "4"])
    gates, routes, want = [], {}, {}
    for i in range(3):
        tb, ih = _torrent("slow%d.bin" % i)
        ev = threading.Event()
        gates.append(ev)
        routes["/slow%d.torrent" % i] = ("gate", ev, tb)
        want["s%d" % i] = ih
    with U.HttpServer(routes) as srv, d.patron() as p:
        for i in range(3):
            p.request("create", tag="s%d" % i, url=srv.url("/slow%d.torrent" % i))
        for i in range(3):
            srv.wait_reached("/slow%d.torrent" % i)
        order = []
        for i in (2, 1, 0):
            gates[i].set()
            ev = p.answer("s%d" % i, timeout=30)
            check_eq((ev.get("type"), ev.get("info_hash"), ev.get("name")),
                     ("NewTorrentCreated", want["s%d" % i], "slow%d.bin" % i),
                     "answer to s%d" % i)
            order.append(ev["id"])
        check_eq(order, sorted(order), "ids in the order the fetches finished")
    check(d.alive(), "the daemon died")


@test
def test_url_create_of_a_patron_that_left(env):
    """The patron closes its connection while its URL is being fetched: the
    torrent is still created (PROTOCOL.md, create), and the daemon lives."""
    d = env.start_daemon()
    gate = threading.Event()
    tb, ih = _torrent("orphan.bin")
    with U.HttpServer({"/orphan.torrent": ("gate", gate, tb)}) as srv:
        p = d.patron()
        p.request("create", url=srv.url("/orphan.torrent"))
        srv.wait_reached("/orphan.torrent")
        p.close()
        with d.patron() as q:
            # The daemon has seen the close once a later connection is
            # counted alone.
            T.wait_until(lambda: q.expect("info", "Info").get("connections") == 1, 20,
                         "the daemon to notice the closed connection")
            gate.set()
            T.wait_until(lambda: [t for t in q.list() if t.get("info_hash") == ih], 30,
                         "the orphaned URL create to make its torrent")
            st = [t for t in q.list() if t.get("info_hash") == ih][0]
            check_eq(st.get("owner"), 0, "owner of the orphaned torrent")
            ev = q.expect("create", "AlreadyDownloading", url=srv.url("/orphan.torrent"))
            check_eq(ev.get("id"), st.get("id"), "id named by AlreadyDownloading")
    check(d.alive(), "the daemon died")


if __name__ == "__main__":
    T.main()
