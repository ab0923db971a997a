"""test_pipe - `tpctl pipe` driven by a parent program through pipes.

The parent (this test) feeds tpctl pipe's stdin line by line and reads its
stdout as lines arrive: `file:PATH` (tpd A seeds a small file: -1 then
100), `torrent:REL.torrent` (relative to --torrent-dir) and
`torrent:http://...` (served by a local HTTP server), both seeded by tpd B
and found through an opentracker on loopback, so they complete on A; the
same torrent: line again once it is complete (the existing id's line
again); a blank line (ignored); and bad lines: not understood, a missing
.torrent, a URL answering 404, an ftp URL.  Then stdin is closed.

Expected: exit status 0 once everything is complete; every stdout line is
ID:NAME:PERCENT; per id the first line is -1, after each -1 the percents
strictly rise, and the last is 100 (a duplicate restarts its id's sequence
with -1: tpctl_pipe.c announces the existing torrent again, then reports
its current percent); stderr has exactly one line per bad input, naming
its input line, and nothing else.
"""

import os
import queue
import re
import subprocess
import threading
import time
import urllib.parse

import seedutil as U
import tpdtest as T
from tpdtest import check, check_eq, fail, test

LINE_RE = re.compile(r"^(\d+):([^:]+):(-1|\d{1,3})$")


class PipeProc:
    """tpctl pipe with its stdin, stdout and stderr on pipes; stdout and
    stderr lines are collected by reader threads as they arrive."""

    def __init__(self, env, daemon, torrent_dir, tracker, cwd):
        argv = [T.tpctl_bin(), "-s", daemon.sock, "pipe", "--torrent-dir", torrent_dir,
                "--tracker", tracker]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=cwd)
        T._PROCS.append(self.proc)
        env.procs.append(("tpctl-pipe", self.proc, os.devnull))
        self.out = []
        self.err = []
        self.q = queue.Queue()
        self.t_out = threading.Thread(target=self._read, args=(self.proc.stdout, self.out, True))
        self.t_err = threading.Thread(target=self._read, args=(self.proc.stderr, self.err, False))
        self.t_out.start()
        self.t_err.start()
        self.sent = 0

    def _read(self, f, into, notify):
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            into.append(line)
            if notify:
                self.q.put(line)
        if notify:
            self.q.put(None)

    def send(self, line):
        """Writes one line; returns its line number as tpctl counts them."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        self.sent += 1
        return self.sent

    def wait_line(self, pred, timeout, what):
        """Blocks on the stdout queue until a line satisfies pred."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("timed out waiting for %s; stdout so far %r, stderr %r"
                     % (what, self.out, self.err))
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                fail("tpctl pipe closed stdout while we waited for %s; stdout %r, stderr %r"
                     % (what, self.out, self.err))
            if pred(line):
                return line

    def finish(self, timeout):
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("tpctl pipe did not exit within %d s after end of input; stdout %r, stderr %r"
                 % (timeout, self.out, self.err))
        self.t_out.join(10)
        self.t_err.join(10)
        return rc


def _check_sequences(lines, dup_counts):
    """Per id: one name; first line -1; after each -1 strictly rising
    percents; the last line 100; as many -1 lines as creates of it."""
    per_id = {}
    for line in lines:
        m = LINE_RE.match(line)
        check(m is not None, "stdout line %r is not ID:NAME:PERCENT" % line)
        per_id.setdefault(int(m.group(1)), []).append((m.group(2), int(m.group(3))))
    for tid, seq in per_id.items():
        names = {n for n, _ in seq}
        check_eq(len(names), 1, "names printed for torrent %d (%s)" % (tid, seq))
        pcts = [p for _, p in seq]
        check_eq(pcts[0], -1, "first percent of torrent %d (%s)" % (tid, pcts))
        check_eq(pcts[-1], 100, "last percent of torrent %d (%s)" % (tid, pcts))
        prev = None
        for p in pcts:
            if p == -1:
                prev = -1
                continue
            check(0 <= p <= 100 and p > prev,
                  "torrent %d: percents do not strictly rise after -1: %s" % (tid, pcts))
            prev = p
        name = seq[0][0]
        check_eq(pcts.count(-1), dup_counts.get(name, 1),
                 "-1 lines of torrent %d (%s): %s" % (tid, name, pcts))
    return {seq[0][0]: tid for tid, seq in per_id.items()}


@test
def test_pipe_parent_program(env):
    tracker = env.start_tracker()
    a = env.start_daemon("tpdA")
    b = env.start_daemon("tpdB")
    tdir = env.mkdir("torrents")
    env.mkdir("torrents", "sub")
    bsrc = env.mkdir("bsrc")
    rel_sha = T.write_random_file(os.path.join(bsrc, "rel.bin"), 2 * T.MIB + 5)
    web_sha = T.write_random_file(os.path.join(bsrc, "web.bin"), T.MIB + 77)
    rel_id, _, rel_ih = U.seed(env, b, os.path.join(bsrc, "rel.bin"), tracker.announce,
                               os.path.join(tdir, "sub", "rel.torrent"))
    web_t = env.path("web.torrent")
    web_id, web_tb, web_ih = U.seed(env, b, os.path.join(bsrc, "web.bin"),
                                    tracker.announce, web_t)
    tracker.allow(rel_ih, web_ih)
    for tid in (rel_id, web_id):
        r = env.tpctl("reannounce", str(tid), daemon=b)
        check(r.returncode == 0, "tpctl -s B reannounce: " + T.describe(r))
    tracker.wait_seeders(rel_ih, 1)
    tracker.wait_seeders(web_ih, 1)

    asrc = env.mkdir("asrc")
    local = os.path.join(asrc, "local.bin")
    T.write_random_file(local, 200 * 1024 + 3)
    cwd = env.mkdir("elsewhere")  # relative torrent: paths must not use the cwd

    with U.HttpServer({"/x.torrent": ("body", 200, web_tb)}) as srv:
        pp = PipeProc(env, a, tdir, tracker.announce, cwd)
        bad = {}
        pp.send("file:" + local)
        pp.send("torrent:sub/rel.torrent")
        pp.send("torrent:" + srv.url("/x.torrent"))
        pp.send("")
        bad[pp.send("this is not a command")] = "garbage"
        bad[pp.send("torrent:no-such-dir/none.torrent")] = "missing file"
        bad[pp.send("torrent:" + srv.url("/missing.torrent"))] = "404"

        # Once rel.bin is complete, the same line again.
        line = pp.wait_line(lambda l: re.match(r"^\d+:rel\.bin:100$", l), 120,
                            "rel.bin to reach 100")
        rel_a = int(line.split(":")[0])
        pp.send("torrent:sub/rel.torrent")
        pp.wait_line(lambda l: l == "%d:rel.bin:-1" % rel_a, 30,
                     "the duplicate's line for torrent %d" % rel_a)
        bad[pp.send("torrent:ftp://127.0.0.1/x.torrent")] = "ftp"
        rc = pp.finish(120)

    check_eq(rc, 0, "exit status of tpctl pipe (stdout %r, stderr %r)" % (pp.out, pp.err))
    ids = _check_sequences(pp.out, {"rel.bin": 2})
    check_eq(sorted(ids), ["local.bin", "rel.bin", "web.bin"],
             "torrents reported by tpctl pipe (stdout %r)" % pp.out)
    check_eq(ids["rel.bin"], rel_a, "id of rel.bin")
    check_eq(len(set(ids.values())), 3, "distinct ids (%s)" % ids)

    # stderr: one line per bad input, naming its line, nothing else.
    check_eq(len(pp.err), len(bad), "stderr lines (%r) for %d bad inputs"
             % (pp.err, len(bad)))
    seen = {}
    for e in pp.err:
        m = re.match(r"^tpctl pipe: line (\d+): ", e)
        check(m is not None, "stderr line %r does not name its input line" % e)
        seen[int(m.group(1))] = e
    check_eq(sorted(seen), sorted(bad), "input lines named on stderr (%r)" % pp.err)
    n404 = [n for n, why in bad.items() if why == "404"][0]
    check("404" in seen[n404], "the 404 line's error does not say 404: %r" % seen[n404])

    # What tpd A did: seeded local.bin, downloaded the other two.
    lt = os.path.join(tdir, "local.bin.torrent")
    check(os.path.isfile(lt), "file: did not write %s" % lt)
    lt_b = U.read_bytes(lt)
    check_eq(T.bdecode(lt_b).get(b"announce"), tracker.announce.encode(),
             "announce of the .torrent made for file: (--tracker)")
    st = U.listed(env, a, T.info_hash(lt_b))
    check_eq(st.get("id"), ids["local.bin"], "id of the file: seed")
    check_eq(st.get("state"), "seeding", "state of the file: seed")
    check_eq(T.sha1_file(os.path.join(a.downloads, "rel.bin")), rel_sha,
             "SHA-1 of rel.bin downloaded by A")
    check_eq(T.sha1_file(os.path.join(a.downloads, "web.bin")), web_sha,
             "SHA-1 of web.bin downloaded by A")
    check_eq(U.listed(env, a, web_ih).get("id"), ids["web.bin"], "id of web.bin")
    check_eq(srv.hit_count("/x.torrent"), 1, "fetches of /x.torrent")


@test
def test_pipe_magnet_and_unterminated_last_line(env):
    """A magnet: line (with tr= naming the tracker that knows tpd B) and a
    last file: line without its newline are both carried out."""
    tracker = env.start_tracker()
    a = env.start_daemon("tpdA")
    b = env.start_daemon("tpdB")
    bsrc = env.mkdir("bsrc")
    sha = T.write_random_file(os.path.join(bsrc, "mag.bin"), 700 * 1024 + 1)
    tid, _, ih = U.seed(env, b, os.path.join(bsrc, "mag.bin"), tracker.announce,
                        env.path("mag.torrent"))
    tracker.allow(ih)
    r = env.tpctl("reannounce", str(tid), daemon=b)
    check(r.returncode == 0, "tpctl -s B reannounce: " + T.describe(r))
    tracker.wait_seeders(ih, 1)
    asrc = env.mkdir("asrc")
    last = os.path.join(asrc, "last.bin")
    T.write_random_file(last, 5000)
    tdir = env.mkdir("torrents")

    pp = PipeProc(env, a, tdir, tracker.announce, tdir)
    pp.send("magnet:?xt=urn:btih:%s&dn=mag.bin&tr=%s"
            % (ih, urllib.parse.quote(tracker.announce, safe="")))
    pp.proc.stdin.write(("file:" + last).encode())  # no newline
    rc = pp.finish(120)
    check_eq(rc, 0, "exit status of tpctl pipe (stdout %r, stderr %r)" % (pp.out, pp.err))
    check_eq(pp.err, [], "stderr of tpctl pipe")
    ids = _check_sequences(pp.out, {})
    check_eq(sorted(ids), ["last.bin", "mag.bin"], "torrents reported (stdout %r)" % pp.out)
    check_eq(T.sha1_file(os.path.join(a.downloads, "mag.bin")), sha,
             "SHA-1 of the file A got through the magnet")
    check(os.path.isfile(os.path.join(tdir, "last.bin.torrent")),
          "the unterminated file: line wrote no .torrent")


if __name__ == "__main__":
    T.main()
