"""hosts - the rows of `make bench` measured between network-namespace hosts.

Owns rows 6 and 7 (SPEC section 11), run by bench.py after the loopback
rows, on hosts built by tests/swarm (namespaces on a private bridge; this
machine's own network is never touched).  tpd runs on the defaults users
get (TCP and uTP, one connection per address, encryption preferred), as
does aria2c, the alternative:

  6. SIZE MiB between two hosts, no shaping: tpd->tpd against
     aria2c->aria2c, each leecher timed from its start to complete.
  7. 1 seeder + 5 leechers on six hosts whose links are shaped to
     100 Mbit/s each way (tc tbf), SWARM MiB: the time until the last
     leecher completes, tpd against aria2c, with the seeder link's bound
     (size / link rate) printed beside it.

Without root or `ip netns` both rows are reported as skipped with the
reason.  Timings never fail the run; a copy that differs does.  Nothing
sleeps to synchronise: completion is polled with a deadline.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import swarm  # noqa: E402

SWARM_MIB = int(os.environ.get("BENCH_SWARM_MIB", "256"))
# Extra tpd options for rows 6-7 (e.g. "--no-utp" to compare transports).
TPD_ARGS = os.environ.get("BENCH_HOSTS_TPD_ARGS", "").split()
LINK = "100mbit"
# tpd's automatic piece size (256 KiB for 256 MiB): a leecher shares a
# piece only once it has all of it and checked it, so smaller pieces start
# the exchange between leechers sooner.
PIECE = int(os.environ.get("BENCH_HOSTS_PIECE", "0"))
LINK_BPS = 100e6


def _seed_tpd(sw, host, data, tracker, timeout):
    """A tpd on host seeding data through tracker; returns (tpd, torrent, ih)."""
    d = sw.tpd(host, "seed-" + host.name, TPD_ARGS)
    torrent = os.path.join(sw.workdir, host.name + ".torrent")
    ev = d.request({"op": "seed", "path": data, "torrent_out": torrent,
                    "trackers": [tracker.announce], "piece_size": PIECE},
                   timeout=timeout)
    if ev.get("type") != "NewTorrentCreated":
        raise swarm.Broken("seed: %s" % ev)
    tracker.allow(ev["info_hash"])
    d.request({"op": "reannounce", "id": ev["id"]})
    tracker.wait_seeders(ev["info_hash"], 1, timeout)
    return d, torrent, ev["info_hash"]


def _tpd_leechers(sw, hosts, torrent, sha, timeout):
    """Fresh tpd daemons on hosts add torrent at once; returns each one's
    seconds from the add to complete."""
    started = []
    for h in hosts:
        d = sw.tpd(h, "leech-tpd-" + h.name, TPD_ARGS)
        dl = os.path.join(sw.workdir, "dl-tpd-" + h.name)
        os.makedirs(dl, exist_ok=True)
        started.append((d, dl, time.monotonic(), d.add(torrent, dl)))
    times = {}

    def done():
        for d, dl, t0, tid in started:
            if d.name in times:
                continue
            st = d.status(tid)
            if st.get("progress") == 1 and st.get("state") in ("seeding", "finished"):
                times[d.name] = time.monotonic() - t0
        return len(times) == len(started)
    swarm.wait_until(done, timeout, "every tpd leecher to complete", interval=0.05)
    for d, dl, _, _ in started:
        got = swarm.sha1_file(os.path.join(dl, "bench.bin"))
        if got != sha:
            raise swarm.Broken("%s: the copy differs" % d.name)
        d.stop()
    return [times[d.name] for d, _, _, _ in started]


def _aria2_leechers(sw, hosts, torrent, sha, timeout):
    """aria2c leechers on hosts started at once; each one's seconds until
    its --on-bt-download-complete hook ran (its process lingers a second
    or two afterwards, which would be unfair to count)."""
    runs = []
    for h in hosts:
        dl = os.path.join(sw.workdir, "dl-aria2c-" + h.name)
        os.makedirs(dl, exist_ok=True)
        mark = os.path.join(sw.workdir, "aria2c-%s.done" % h.name)
        hook = os.path.join(sw.workdir, "aria2c-%s.hook" % h.name)
        # Written aside and renamed: aria2c may exit while its hook still
        # runs, and a reader must never see the file half written.
        with open(hook, "w") as f:
            f.write("#!/bin/sh\npython3 -c 'import time; print(time.time())' >%s.tmp"
                    " && mv %s.tmp %s\n" % (mark, mark, mark))
        os.chmod(hook, 0o755)
        t0 = time.time()
        p = sw.aria2c(h, "leech-aria2c-" + h.name, torrent, dl, seed=False,
                      extra=["--on-bt-download-complete=" + hook])
        runs.append((p, dl, mark, t0))
    out = []
    for p, dl, mark, t0 in runs:
        if p.wait(timeout) != 0:
            raise swarm.Broken("%s exited %s" % (p.name, p.p.returncode))
        swarm.wait_until(lambda: os.path.exists(mark), 30,
                         "%s's completion hook" % p.name)
        with open(mark) as f:
            out.append(float(f.read()) - t0)
        if swarm.sha1_file(os.path.join(dl, "bench.bin")) != sha:
            raise swarm.Broken("%s: the copy differs" % p.name)
    return out


def _aria2_seed(sw, host, torrent, data_dir, tracker, ih, timeout):
    p = sw.aria2c(host, "seed-aria2c-" + host.name, torrent, data_dir, seed=True)
    tracker.wait_seeders(ih, 1, timeout)
    return p


def _pair(b, workdir, size_mib, timeout):
    with swarm.Swarm(2, workdir) as sw:
        h1, h2 = sw.hosts
        data = os.path.join(workdir, "data", "bench.bin")
        os.makedirs(os.path.dirname(data), exist_ok=True)
        sha = swarm.write_random_file(data, size_mib << 20)
        tracker = sw.tracker()
        seeder, torrent, ih = _seed_tpd(sw, h1, data, tracker, timeout)
        t_tpd = _tpd_leechers(sw, [h2], torrent, sha, timeout)[0]
        seeder.stop()
        tracker.proc.stop()
        tracker = sw.tracker()
        tracker.allow(ih)
        seed = _aria2_seed(sw, h1, torrent, os.path.dirname(data), tracker, ih, timeout)
        t_aria = _aria2_leechers(sw, [h2], torrent, sha, timeout)[0]
        seed.stop()
        return t_tpd, t_aria


def _swarm6(b, workdir, size_mib, timeout):
    with swarm.Swarm(6, workdir) as sw:
        for h in sw.hosts:
            sw.shape(h, LINK)
        h0, leech_hosts = sw.hosts[0], sw.hosts[1:]
        data = os.path.join(workdir, "data", "bench.bin")
        os.makedirs(os.path.dirname(data), exist_ok=True)
        sha = swarm.write_random_file(data, size_mib << 20)
        tracker = sw.tracker()
        seeder, torrent, ih = _seed_tpd(sw, h0, data, tracker, timeout)
        t_tpd = _tpd_leechers(sw, leech_hosts, torrent, sha, timeout)
        # What the seeder sent beyond one copy is what kept the leechers
        # waiting: its link is the bound.
        sent = sum(t.get("uploaded_bytes", 0) for t in seeder.request({"op": "list"})["torrents"])
        print("  row 7: the tpd seeder sent %.2fx the file" % (sent / (size_mib << 20)),
              flush=True)
        seeder.stop()
        tracker.proc.stop()
        tracker = sw.tracker()
        tracker.allow(ih)
        seed = _aria2_seed(sw, h0, torrent, os.path.dirname(data), tracker, ih, timeout)
        t_aria = _aria2_leechers(sw, leech_hosts, torrent, sha, timeout)
        seed.stop()
        return t_tpd, t_aria


def rows(b, size_mib, timeout):
    """Runs rows 6 and 7 into the Bench b (bench.py's)."""
    what6 = "%d MiB between 2 hosts: tpd vs aria2c" % size_mib
    what7 = "1+5 hosts at 100 Mbit/s, %d MiB: last leecher" % SWARM_MIB
    try:
        swarm.Swarm(0, b.run.mkdir("hosts-probe")).close()
    except swarm.Unavailable as e:
        print("  rows 6-7 skipped: %s" % e, flush=True)
        return
    try:
        t_tpd, t_aria = _pair(b, b.run.mkdir("hosts-pair"), size_mib, timeout)
        b.row(6, what6, t_tpd, t_aria, "s")
    except (swarm.Broken, subprocess.SubprocessError, OSError) as e:
        b.fail(6, what6, e)
    try:
        t_tpd, t_aria = _swarm6(b, b.run.mkdir("hosts-swarm"), SWARM_MIB,
                                timeout + SWARM_MIB)
        bound = (SWARM_MIB << 20) * 8 / LINK_BPS
        print("  row 7: seeder link bound %.1f s; tpd leechers %s; aria2c leechers %s"
              % (bound, " ".join("%.1f" % t for t in t_tpd),
                 " ".join("%.1f" % t for t in t_aria)), flush=True)
        print("  row 7: tpd's last leecher at %.2fx the bound, aria2c's at %.2fx"
              % (max(t_tpd) / bound, max(t_aria) / bound), flush=True)
        b.row(7, what7, max(t_tpd), max(t_aria), "s")
    except (swarm.Broken, subprocess.SubprocessError, OSError) as e:
        b.fail(7, what7, e)
