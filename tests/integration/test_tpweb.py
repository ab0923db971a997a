"""test_tpweb - tpweb's Transmission RPC and its security, against a real tpd.

Debian's transmission-remote adds a .torrent, a magnet and a URL through
tpweb and sees them in `-l` with tpd's ids, names and percentages; stops,
starts, shows and removes them (with their data); a real download from an
aria2c seeder shows as 100 %.  The sequence Sonarr's TransmissionProxy
sends is answered as it expects.  Security: a foreign Host is 403, a state
change without the session token 409, a cross-origin form post changes
nothing, a non-loopback --listen without a password file refuses to start,
wrong passwords are 401 and slowed, and tpweb run as nobody sees none of
root's torrents.  Steps that need tpd ops of SPEC section 8 (set,
session_set, files) skip, naming the op, while tpd answers unknown_op.
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import time

import seedutil as U
import tpdtest as T
import webutil as W
from tpdtest import check, check_eq, describe, test


def _tpd_list(d):
    with d.patron() as p:
        return {t["id"]: t for t in p.list()}


def _torrent_file(env, name, size=50000):
    tb = T.make_torrent_bytes(name, os.urandom(size),
                              announce="http://127.0.0.1:%d/announce" % U.closed_port())
    path = env.path(name + ".torrent")
    with open(path, "wb") as f:
        f.write(tb)
    return path, tb, T.info_hash(tb)


def _multi_torrent_file(env, name, sizes):
    """A multi-file v1 .torrent (files a.bin, b.bin, ... of `sizes`)."""
    pl = 16384
    content = b"".join(os.urandom(n) for n in sizes)
    pieces = b"".join(hashlib.sha1(content[o:o + pl]).digest()
                      for o in range(0, len(content), pl))
    files = [{"length": n, "path": ["%s.bin" % chr(ord("a") + i)]}
             for i, n in enumerate(sizes)]
    tb = T.bencode({"announce": "http://127.0.0.1:%d/announce" % U.closed_port(),
                    "info": {"name": name, "piece length": pl, "pieces": pieces,
                             "files": files}})
    path = env.path(name + ".torrent")
    with open(path, "wb") as f:
        f.write(tb)
    return path, T.info_hash(tb)


def _done_matches(done, st):
    """transmission-remote's Done column against tpd's status."""
    if st["total_bytes"] == 0:
        return done == "n/a"
    m = re.match(r"^(\d+(?:\.\d+)?)%$", done)
    return m is not None and abs(float(m.group(1)) - 100.0 * st["progress"]) < 1.0


def _wait_paused(d, tid, paused):
    T.wait_until(lambda: _tpd_list(d)[tid]["paused"] == paused, 20,
                 "tpd to report torrent %d paused=%s" % (tid, paused))


@test
def test_remote_add_list_stop_start_info_remove(env):
    d = env.start_daemon()
    web = W.Web(env, d)
    tpath, _, t_ih = _torrent_file(env, "local-file.bin")
    _, url_tb, url_ih = _torrent_file(env, "from-url.bin")
    magnet_ih = os.urandom(20).hex()
    magnet = "magnet:?xt=urn:btih:%s&dn=a-magnet" % magnet_ih
    with U.HttpServer({"/x.torrent": ("body", 200, url_tb)}) as srv:
        web.remote_ok("-a", tpath)
        web.remote_ok("-a", magnet)
        web.remote_ok("-a", srv.url("/x.torrent"))
        check_eq(srv.hit_count("/x.torrent"), 1, "fetches of the URL by tpd")
    tl = _tpd_list(d)
    by_hash = {t["info_hash"]: t for t in tl.values()}
    check_eq(sorted(by_hash), sorted([t_ih, url_ih, magnet_ih]), "hashes tpd holds")
    check_eq(by_hash[magnet_ih]["name"], "a-magnet", "the magnet's name in tpd")

    rows = W.remote_list(web)
    check_eq(sorted(rows), sorted(tl), "ids in transmission-remote -l (tpd's ids)")
    for tid, st in tl.items():
        done, name = rows[tid]
        check_eq(name, st["name"], "name of torrent %d in -l" % tid)
        check(_done_matches(done, st), "Done of torrent %d in -l: %r, tpd says %s"
              % (tid, done, T._short(st)))

    tid = by_hash[t_ih]["id"]
    web.remote_ok("-t", str(tid), "-S")
    _wait_paused(d, tid, True)
    T.wait_until(lambda: "Stopped" in web.remote("-l").stdout, 20,
                 "-l to show the stopped torrent as Stopped")
    web.remote_ok("-t", str(tid), "-s")
    _wait_paused(d, tid, False)

    r = web.remote("-t", str(tid), "-i")
    check(r.returncode == 0, "transmission-remote -t %d -i: %s" % (tid, describe(r)))
    for want in ("Id: %d" % tid, "Name: local-file.bin", "Hash: " + t_ih,
                 "Location: " + tl[tid]["save_path"]):
        check(want in r.stdout, "-i output lacks %r: %s" % (want, r.stdout))

    r = web.remote("-t", str(tid), "-f")
    check(r.returncode == 0, "transmission-remote -t %d -f: %s" % (tid, describe(r)))

    web.remote_ok("-t", str(tid), "--remove-and-delete")
    check(tid not in _tpd_list(d), "torrent %d still in tpd after --remove-and-delete" % tid)
    check(tid not in W.remote_list(web), "torrent %d still in -l after removal" % tid)


@test
def test_remote_download_reaches_100(env):
    tracker = env.start_tracker()
    src = env.mkdir("src")
    data = os.path.join(src, "payload.bin")
    sha = T.write_random_file(data, 8 * T.MIB)
    torrent = env.path("payload.torrent")
    ih = env.mktorrent(data, torrent, tracker.announce, 16)
    tracker.allow(ih)
    d = env.start_daemon()
    env.aria2_seed(torrent, src)
    tracker.wait_seeders(ih, 1, timeout=120)
    web = W.Web(env, d)
    dl = env.mkdir("dl")
    web.remote_ok("-a", torrent, "-w", dl)
    tid = [t["id"] for t in _tpd_list(d).values() if t["info_hash"] == ih][0]

    def complete():
        return W.remote_list(web).get(tid, ("", ""))[0] == "100%"
    T.wait_until(complete, 180, "transmission-remote -l to show 100%% for torrent %d" % tid,
                 interval=0.5)
    got = os.path.join(dl, "payload.bin")
    check_eq(T.sha1_file(got), sha, "SHA-1 of the downloaded file")
    check_eq(_tpd_list(d)[tid]["progress"], 1, "tpd's progress when -l says 100%")

    web.remote_ok("-t", str(tid), "--remove-and-delete")
    T.wait_until(lambda: not os.path.exists(got), 30, "the data to be deleted")
    check(tid not in _tpd_list(d), "torrent still in tpd after --remove-and-delete")


@test
def test_remote_limits_and_file_skip(env):
    """-d / -u set the limits tpd reports; -G skips a file (SPEC 8 ops)."""
    d = env.start_daemon()
    web = W.Web(env, d)
    r = web.remote("-d", "100")
    if "unknown op" in r.stdout + r.stderr:
        raise T.TestSkip("tpd has no `session_set` op yet: " + (r.stdout + r.stderr).strip())
    check(r.returncode == 0 and "success" in r.stdout, "-d 100: " + describe(r))
    web.remote_ok("-u", "50")
    with d.patron() as p:
        ses = p.expect("session_get", "Session")
    check_eq((ses.get("download_limit"), ses.get("upload_limit")), (100000, 50000),
             "tpd's limits after -d 100 -u 50 (kB/s of 1000 bytes)")

    tpath, ih = _multi_torrent_file(env, "three", [20000, 30000, 40000])
    web.remote_ok("-a", tpath)
    tid = [t["id"] for t in _tpd_list(d).values() if t["info_hash"] == ih][0]
    r = web.remote("-t", str(tid), "-G", "1")
    if "unknown op" in r.stdout + r.stderr:
        raise T.TestSkip("tpd has no `files` or `set` op yet: " + r.stdout.strip())
    check(r.returncode == 0 and "success" in r.stdout, "-G 1: " + describe(r))
    with d.patron() as p:
        files = p.expect("files", "Files", id=tid)["files"]
    check_eq([f["priority"] for f in files], [4, 0, 4], "file priorities after -G 1")
    r = web.remote("-t", str(tid), "-f")
    check(r.returncode == 0, "-f: " + describe(r))
    gets = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(\d+):\s+\S+\s+\S+\s+(Yes|No)\s+.*?(\S+\.bin)\s*$", line)
        if m:
            gets[m.group(3)] = m.group(2)
    check_eq(gets, {"three/a.bin": "Yes", "three/b.bin": "No", "three/c.bin": "Yes"},
             "Get column of transmission-remote -f:\n" + r.stdout)


@test
def test_verify_move_queue_and_details(env):
    """torrent-verify, torrent-set-location, queue-move-top and the
    files/peers/trackers fields (tpd's recheck, move, set, files, trackers)."""
    d = env.start_daemon()
    web = W.Web(env, d)
    have = env.mkdir("have")
    content = os.urandom(70000)
    with open(os.path.join(have, "kept.bin"), "wb") as f:
        f.write(content)
    announce = "http://127.0.0.1:%d/a" % U.closed_port()
    tb = T.make_torrent_bytes("kept.bin", content, announce=announce)
    t = web.ok("torrent-add", {"metainfo": base64.b64encode(tb).decode(),
                               "download-dir": have})["torrent-added"]
    T.wait_until(lambda: _tpd_list(d)[t["id"]]["progress"] == 1, 30,
                 "tpd to find the data complete")
    ans = web.rpc("torrent-verify", {"ids": [t["id"]]})
    if W.unknown_op(ans["result"]):
        raise T.TestSkip("tpd has no `recheck` op yet: " + ans["result"])
    check_eq(ans["result"], "success", "torrent-verify")
    fields = ["files", "fileStats", "priorities", "wanted", "trackers", "trackerStats",
              "peers"]

    def checked():
        g = web.ok("torrent-get", {"ids": [t["id"]], "fields": fields})["torrents"][0]
        done = [f["bytesCompleted"] for f in g.get("files", [])] == [70000]
        return g if done else None
    # The recheck starts by forgetting what was verified: wait for its end.
    g = T.wait_until(checked, 30, "the recheck to find the file complete again")
    check_eq(g.get("files"), [{"name": "kept.bin", "length": 70000, "bytesCompleted": 70000}],
             "files")
    check_eq(g.get("fileStats"), [{"bytesCompleted": 70000, "wanted": True, "priority": 0}],
             "fileStats")
    check_eq((g.get("priorities"), g.get("wanted")), ([0], [1]), "priorities and wanted")
    check_eq([x["announce"] for x in g.get("trackers", [])], [announce], "trackers")
    check_eq(len(g.get("trackerStats", [])), 1, "trackerStats rows")
    check_eq(g.get("peers"), [], "peers of a torrent without any")

    moved = env.mkdir("moved")
    ans = web.rpc("torrent-set-location", {"ids": [t["id"]], "location": moved, "move": True})
    if W.unknown_op(ans["result"]):
        raise T.TestSkip("tpd has no `move` op yet: " + ans["result"])
    check_eq(ans["result"], "success", "torrent-set-location")
    check_eq(_tpd_list(d)[t["id"]]["save_path"], moved, "save_path after the move")
    check(os.path.isfile(os.path.join(moved, "kept.bin")), "the data was not moved")
    ans = web.rpc("queue-move-top", {"ids": [t["id"]]})
    if W.unknown_op(ans["result"]):
        raise T.TestSkip("tpd has no `set` op yet: " + ans["result"])
    check_eq(ans["result"], "success", "queue-move-top")


# The fields Sonarr's TransmissionProxy asks torrent-get for.
SONARR_FIELDS = ["id", "hashString", "name", "downloadDir", "totalSize",
                 "leftUntilDone", "isFinished", "eta", "status",
                 "secondsDownloading", "secondsSeeding", "errorString",
                 "uploadedEver", "downloadedEver", "seedRatioLimit",
                 "seedRatioMode", "seedIdleLimit", "seedIdleMode", "fileCount"]


def _version_at_least(s, want):
    # Sonarr reads the first dotted number outside parentheses.
    m = re.search(r"(?<![(\d.])(\d+(?:\.\d+)+)(?![)\d.])", s)
    check(m is not None, "no version number in %r" % s)
    return tuple(int(x) for x in m.group(1).split(".")) >= want


@test
def test_sonarr_sequence(env):
    d = env.start_daemon()
    web = W.Web(env, d)
    # Sonarr first asks without a session id and expects 409 with one.
    status, hdrs, _ = web.request("POST", "/transmission/rpc", "",
                                  {"Content-Type": "application/json"})
    check_eq(status, 409, "status of a request without a session id")
    check(re.fullmatch(r"[0-9a-f]{32}", hdrs.get("x-transmission-session-id", "")),
          "409 without a session id header: %r" % hdrs)

    ans = web.rpc("session-get", tag=7)
    check_eq((ans["result"], ans.get("tag")), ("success", 7), "session-get result and tag")
    cfg = ans["arguments"]
    check(_version_at_least(cfg["version"], (2, 40)), "version %r < 2.40" % cfg["version"])
    check(cfg["rpc-version"] >= 14, "rpc-version %r" % cfg["rpc-version"])
    check_eq(cfg["download-dir"], d.downloads, "download-dir")

    dest = env.mkdir("tv-sonarr")
    path, tb, ih = _torrent_file(env, "Show.S01E01.mkv")
    added = web.ok("torrent-add", {"metainfo": base64.b64encode(tb).decode(),
                                   "download-dir": dest, "labels": ["tv-sonarr"],
                                   "paused": False})
    check("torrent-added" in added, "torrent-add answer: %r" % added)
    t = added["torrent-added"]
    check_eq(t["hashString"], ih, "hashString of the added torrent")
    check_eq(t["name"], "Show.S01E01.mkv", "name of the added torrent")
    st = _tpd_list(d)[t["id"]]
    check_eq((st["info_hash"], st["save_path"]), (ih, dest), "tpd's torrent (id from tpweb)")
    dup = web.ok("torrent-add", {"metainfo": base64.b64encode(tb).decode()})
    check_eq(dup.get("torrent-duplicate", {}).get("id"), t["id"], "a second add: duplicate")

    got = web.ok("torrent-get", {"fields": SONARR_FIELDS, "ids": [ih.upper()]}, tag="g")
    check_eq(len(got["torrents"]), 1, "torrents answered for the hash")
    g = got["torrents"][0]
    check_eq((g["id"], g["hashString"], g["name"], g["downloadDir"]),
             (t["id"], ih, "Show.S01E01.mkv", dest), "identity fields")
    check_eq((g["totalSize"], g["leftUntilDone"], g["isFinished"], g["errorString"]),
             (50000, 50000 - st["done_bytes"], False, ""), "size fields")
    check(g["status"] in (2, 3, 4), "status of a downloading torrent: %r" % g["status"])
    check(isinstance(g["eta"], int), "eta must be an integer: %r" % g["eta"])
    # tpd reports no download duration: left out, never an error.
    check("secondsDownloading" not in g, "an unknown field was invented: %r" % g)
    if "labels" in st:
        lab = web.ok("torrent-get", {"fields": ["labels"], "ids": [t["id"]]})
        check_eq(lab["torrents"][0]["labels"], ["tv-sonarr"], "labels of the torrent")
    # Unknown fields and a table format.
    tab = web.ok("torrent-get", {"fields": ["id", "noSuchField"], "format": "table"})
    check_eq(tab["torrents"], [["id", "noSuchField"], [t["id"], None]], "table format")

    web.ok("torrent-remove", {"ids": [ih], "delete-local-data": False})
    check(t["id"] not in _tpd_list(d), "the torrent is still in tpd after torrent-remove")
    unknown = web.rpc("torrent-frobnicate")
    check_eq(unknown["result"], "method name not recognized", "an unknown method's result")


@test
def test_sonarr_seed_configuration(env):
    """torrent-set with Sonarr's seed ratio and time (tpd's `set`)."""
    d = env.start_daemon()
    web = W.Web(env, d)
    _, tb, ih = _torrent_file(env, "seed-me.bin")
    t = web.ok("torrent-add", {"metainfo": base64.b64encode(tb).decode()})["torrent-added"]
    ans = web.rpc("torrent-set", {"ids": [ih], "seedRatioLimit": 1.5, "seedRatioMode": 1,
                                  "seedIdleLimit": 90, "seedIdleMode": 1})
    if W.unknown_op(ans["result"]):
        raise T.TestSkip("tpd has no `set` op yet: " + ans["result"])
    check_eq(ans["result"], "success", "torrent-set result")
    st = _tpd_list(d)[t["id"]]
    check_eq((st.get("ratio_limit"), st.get("seed_time_limit")), (1.5, 5400),
             "tpd's ratio and seed-time limits")
    g = web.ok("torrent-get", {"ids": [t["id"]], "fields": ["seedRatioLimit", "seedRatioMode",
                                                            "seedIdleLimit", "seedIdleMode"]})
    check_eq(g["torrents"][0], {"seedRatioLimit": 1.5, "seedRatioMode": 1,
                                "seedIdleLimit": 90, "seedIdleMode": 1}, "torrent-get")


METHODS = ["session-get", "session-set", "session-stats", "torrent-get", "torrent-add",
           "torrent-remove", "torrent-start", "torrent-start-now", "torrent-stop",
           "torrent-verify", "torrent-reannounce", "torrent-set", "torrent-set-location",
           "queue-move-top", "queue-move-up", "queue-move-down", "queue-move-bottom",
           "free-space"]
BAD_ARGS = [{"ids": "x"}, {"ids": {}}, {"ids": [[]]}, {"ids": 1.5}, {"ids": [None, True]},
            {"fields": "x"}, {"fields": [1, None, {}]}, {"filename": 5}, {"metainfo": 5},
            {"metainfo": "not base64!"}, {"filename": "relative/x.torrent"},
            {"labels": "x"}, {"labels": [1]}, {"trackerAdd": "x"}, {"trackerRemove": {}},
            {"trackerList": 5}, {"files-wanted": "x"}, {"priority-high": [{}]},
            {"download-dir": 5}, {"location": 7}, {"path": 5}, {"path": "/nonexistent"},
            {"speed-limit-down": "x"}, {"seedRatioMode": 2}, {"format": 3},
            {"ids": [1], "downloadLimit": [], "labels": [], "queuePosition": "top"}]


@test
def test_bad_rpc_input_gets_an_answer(env):
    """Every method with arguments of the wrong shape: an answer with a
    result string, never a crash; bodies that are not RPC requests too."""
    d = env.start_daemon()
    web = W.Web(env, d)
    _, tb, _ = _torrent_file(env, "victim.bin")
    web.ok("torrent-add", {"metainfo": base64.b64encode(tb).decode()})
    for m in METHODS:
        for a in BAD_ARGS:
            ans = web.rpc(m, a)
            check(ans["result"], "%s %s: empty result" % (m, a))
    web.rpc("session-get")
    for body in (b"", b"null", b"[]", b"{", b"\xff\xfe{}", b'{"method": 5}',
                 b'{"method": "torrent-get", "arguments": 5}', b"[" * 100000,
                 b'{"method":"torrent-get","arguments":{"fields":["id"]},"tag":{"a":1}}'):
        status, _, data = web.request("POST", "/transmission/rpc", body,
                                      {"X-Transmission-Session-Id": web.token})
        check_eq(status, 200, "status for body %r" % body[:40])
        check(isinstance(json.loads(data).get("result"), str), "no result for %r" % body[:40])
    big = b"x" * (17 * T.MIB + 1)
    status, _, _ = web.request("POST", "/transmission/rpc", big,
                               {"X-Transmission-Session-Id": web.token})
    check_eq(status, 413, "status for a body over the limit")
    for path in ("/../../etc/passwd", "/.hidden", "/a/b", "/%2e%2e/x", "/" + "a" * 5000):
        status, _, _ = web.request("GET", path)
        check(status in (404, 414, 431), "GET %s: %d" % (path[:40], status))
    check_eq(web.proc.poll(), None, "tpweb is still running")
    # (torrent-remove without "ids" removed everything, as in Transmission.)
    check_eq(web.ok("torrent-get", {"fields": ["id"]}), {"torrents": []},
             "torrent-get after the bad requests")


# --------------------------------------------------------------------------
# Security

@test
def test_foreign_host_is_403(env):
    d = env.start_daemon()
    web = W.Web(env, d, extra=["--allowed-hosts", "nas.example"])
    for path in ("/", "/transmission/rpc", "/events"):
        status, _, body = web.request("GET", path, headers={"Host": "evil.example"})
        check_eq(status, 403, "GET %s with Host: evil.example" % path)
        check(b"Host" in body, "the 403 does not say why: %r" % body)
    status, _, _ = web.request("GET", "/", headers={"Host": "evil.example:%d" % web.port})
    check_eq(status, 403, "Host: evil.example:PORT")
    for ok_host in ("localhost:%d" % web.port, web.host, "nas.example", "[::1]:9091"):
        status, _, _ = web.request("GET", "/", headers={"Host": ok_host})
        check_eq(status, 200, "GET / with Host: %s" % ok_host)


@test
def test_state_change_needs_the_token(env):
    d = env.start_daemon()
    web = W.Web(env, d)
    magnet = "magnet:?xt=urn:btih:%s&dn=x" % os.urandom(20).hex()
    body = json.dumps({"method": "torrent-add", "arguments": {"filename": magnet}})
    for token in (None, "0" * 32, ""):
        status, hdrs, _ = web.request("POST", "/transmission/rpc", body,
                                      {"Content-Type": "application/json",
                                       "X-Transmission-Session-Id": token})
        check_eq(status, 409, "torrent-add with session id %r" % token)
        check(hdrs.get("x-transmission-session-id"), "409 without the token header")
    check_eq(_tpd_list(d), {}, "torrents after requests without the token")
    tok = hdrs["x-transmission-session-id"]
    status, _, data = web.request("POST", "/transmission/rpc", body,
                                  {"X-Transmission-Session-Id": tok})
    check_eq((status, json.loads(data)["result"]), (200, "success"), "with the token")
    check_eq(len(_tpd_list(d)), 1, "torrents after the request with the token")


@test
def test_cross_origin_form_post_changes_nothing(env):
    d = env.start_daemon()
    web = W.Web(env, d)
    magnet = "magnet:?xt=urn:btih:%s&dn=x" % os.urandom(20).hex()
    # What a hostile page's <form method=post enctype=text/plain> sends.
    body = '{"method":"torrent-add","arguments":{"filename":"%s"},"x":"=' % magnet + '"}'
    form = {"Content-Type": "text/plain", "Origin": "http://evil.example",
            "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    status, _, _ = web.request("POST", "/transmission/rpc", body, form)
    check_eq(status, 403, "a cross-origin form post")
    form2 = {"Content-Type": "application/x-www-form-urlencoded",
             "Origin": "http://evil.example"}
    status, _, _ = web.request("POST", "/transmission/rpc", "method=torrent-add", form2)
    check_eq(status, 403, "a cross-origin urlencoded post")
    # Even holding a valid token, another origin is refused.
    web.rpc("session-get")
    status, _, _ = web.request("POST", "/transmission/rpc", body,
                               {"Origin": "http://evil.example",
                                "X-Transmission-Session-Id": web.token})
    check_eq(status, 403, "a cross-origin request with the token")
    # Without Origin (an old browser), the missing token still stops it.
    status, _, _ = web.request("POST", "/transmission/rpc", body,
                               {"Content-Type": "text/plain"})
    check_eq(status, 409, "a form post without Origin and without the token")
    check_eq(_tpd_list(d), {}, "torrents after the cross-origin posts")


@test
def test_non_loopback_needs_a_password_file(env):
    d = env.start_daemon()
    for addr in ("0.0.0.0:0", "[::]:0"):
        r = subprocess.run([W.tpweb_bin(), "-s", d.sock, "--listen", addr],
                           capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        check_eq(r.returncode, 1, "exit status of tpweb --listen %s without a password file"
                 % addr)
        check("refusing" in r.stderr and "--password-file" in r.stderr,
              "tpweb --listen %s: the message does not say why: %s" % (addr, describe(r)))
    r = subprocess.run([W.tpweb_bin(), "--listen", "nonsense"], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    check_eq(r.returncode, 2, "exit status of a malformed --listen")


def _password_file(env, user, password):
    r = subprocess.run([W.tpweb_bin(), "--hash-password", user], input=password + "\n",
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and r.stdout.startswith(user + ":$pbkdf2-sha256$"),
          "tpweb --hash-password: " + describe(r))
    check(password not in r.stdout, "the hash contains the password")
    path = env.path("passwd")
    with open(path, "w") as f:
        f.write(r.stdout)
    os.chmod(path, 0o600)
    return path


@test
def test_password_401_and_slowed(env):
    d = env.start_daemon()
    pw = _password_file(env, "alice", "correct horse")
    web = W.Web(env, d, extra=["--password-file", pw])
    status, hdrs, _ = web.request("GET", "/")
    check_eq(status, 401, "GET / without credentials")
    check(hdrs.get("www-authenticate", "").startswith("Basic"), "401 without a Basic challenge")

    def attempt(password):
        raw = base64.b64encode(("alice:" + password).encode()).decode()
        t0 = time.monotonic()
        status, _, _ = web.request("GET", "/", headers={"Authorization": "Basic " + raw})
        return status, time.monotonic() - t0
    times = []
    for i in range(3):
        status, dt = attempt("wrong %d" % i)
        check_eq(status, 401, "wrong password attempt %d" % (i + 1))
        times.append(dt)
    # 1 s, 2 s, 4 s by design; generous bounds for a loaded machine.
    check(times[0] >= 0.9, "the first failure was not slowed: %.2f s" % times[0])
    check(times[2] >= times[0] + 1.5, "failures did not slow down: %s" % times)
    status, _ = attempt("correct horse")
    check_eq(status, 200, "the right password after failures")
    web.auth = ("alice", "correct horse")
    web.ok("session-get")
    r = web.remote("-l")
    check(r.returncode == 0 and "Sum:" in r.stdout, "transmission-remote -n: " + describe(r))


@test
def test_nobody_sees_none_of_roots_torrents(env):
    if not T.is_root():
        raise T.TestSkip("needs root to run tpweb as nobody")
    d = env.start_daemon()
    with d.patron() as p:
        mine = p.expect("create", "NewTorrentCreated",
                        magnet="magnet:?xt=urn:btih:%s&dn=roots" % os.urandom(20).hex())
    for p in (env.dir, d.dir):
        os.chmod(p, 0o755)
    os.chmod(d.sock, 0o666)
    web = W.Web(env, d, user=T.NOBODY, name="tpweb-nobody")
    got = web.ok("torrent-get", {"fields": ["id", "name"]})
    check_eq(got["torrents"], [], "torrents nobody sees through tpweb")
    one = web.ok("torrent-get", {"fields": ["id", "name"], "ids": [mine["id"]]})
    check_eq(one["torrents"], [], "root's torrent asked for by id")
    ans = web.rpc("torrent-stop", {"ids": [mine["id"]]})
    check(ans["result"] != "success", "nobody stopped root's torrent: %r" % ans)
    ans = web.rpc("torrent-remove", {"ids": [mine["id"]], "delete-local-data": True})
    check(ans["result"] != "success", "nobody removed root's torrent: %r" % ans)
    st = _tpd_list(d)[mine["id"]]
    check_eq(st["paused"], False, "root's torrent after nobody's torrent-stop")
    # Daemon-wide settings are root's and the daemon's user's alone (tpd
    # answers forbidden, or unknown_op before session_set exists).
    ans = web.rpc("session-set", {"speed-limit-down": 7, "speed-limit-down-enabled": True})
    check(ans["result"] != "success", "nobody set the daemon's limit: %r" % ans)
    with d.patron() as p:
        ses = p.call("session_get")
    if ses.get("type") == "Session":
        check(ses.get("download_limit") != 7000, "the daemon's limit changed: %r" % ses)


T.main()
