"""test_swarm - tpd between real hosts on its real defaults (SPEC 9).

Every test builds its own hosts with tests/swarm: network namespaces on a
private bridge (10.77.0.0/24), nothing routed to this machine's network.
tpd runs there on the product's defaults (0.0.0.0:6881 and [::]:6881, TCP
and uTP, DHT, PEX, LSD, UPnP, encryption preferred, one connection per
address) unless a test says otherwise.  Where namespaces cannot be made
(not root, a container that refuses) every test here is skipped with the
reason, never passed.

What crossed the wire is read from the kernel of the host, not from tpd:
the per-namespace /proc/net/snmp counters (UDP datagrams for uTP, TCP
segments for TCP) and `ss` (who holds a TCP connection to whom).

The data is 64 MiB where issue 9 says 256 MiB: the whole file must stay
within a few minutes on a shared 2-core machine, and 64 MiB already makes
tens of thousands of uTP datagrams.
"""

import hashlib
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tpdtest as T  # noqa: E402
from tpdtest import check, check_eq, test  # noqa: E402

import swarm  # noqa: E402

SIZE = 64 * T.MIB
T_TRANSFER = 120   # generous: timings never decide a test


def _swarm(env, n):
    try:
        sw = swarm.Swarm(n, env.path("swarm"))
    except swarm.Unavailable as e:
        raise T.TestSkip(str(e))
    # Closed (processes killed, namespaces removed) with the test's Env.
    env.procs.append(("swarm", _SwarmCloser(sw), os.path.join(sw.logs, "none")))
    env.swarm = sw
    return sw


class _SwarmCloser:
    """Looks enough like a Popen for Env.close(): closing it closes the swarm."""

    def __init__(self, sw):
        self.sw = sw

    def poll(self):
        return None if not self.sw.closed else 0

    def send_signal(self, sig):
        self.sw.close()

    def wait(self, timeout=None):
        self.sw.close()
        return 0

    def kill(self):
        self.sw.close()


def _run(fn):
    """Adds the swarm's process logs to a failure's message; once the test
    passed, closes the swarm and fails it if a tpd had died or did not exit
    0 on SIGTERM."""
    def wrapped(env):
        try:
            fn(env)
            sw = getattr(env, "swarm", None)
            if sw:
                sw.close()
                check(not sw.problems, "; ".join(sw.problems))
        except (swarm.Broken, T.TestFailure) as e:
            sw = getattr(env, "swarm", None)
            raise T.TestFailure("%s\n%s" % (e, sw.diagnostics() if sw else ""))
    wrapped.__name__ = fn.__name__
    return wrapped


def _snmp(host):
    """The host's kernel counters: {('Udp','InDatagrams'): n, ...}."""
    r = host.run(["cat", "/proc/net/snmp"])
    out = {}
    lines = r.stdout.splitlines()
    for names, values in zip(lines[0::2], lines[1::2]):
        proto, _, keys = names.partition(":")
        for k, v in zip(keys.split(), values.partition(":")[2].split()):
            out[(proto, k)] = int(v)
    return out


def _delta(before, after, proto, key):
    return after[(proto, key)] - before[(proto, key)]


def _seed(env, d, tracker, name="payload.bin", size=SIZE):
    """Generates a file on d's host and seeds it from d; returns
    (torrent path, info-hash, sha1, data path)."""
    src = env.mkdir("src-" + d.name)
    data = os.path.join(src, name)
    sha = T.write_random_file(data, size)
    torrent = env.path(d.name + "-" + name + ".torrent")
    ev = d.request({"op": "seed", "path": data, "torrent_out": torrent,
                    "trackers": [tracker.announce] if tracker else [],
                    "piece_size": 256 * 1024}, timeout=120)
    check_eq(ev.get("type"), "NewTorrentCreated", "answer to seed: %s" % ev)
    ih = ev["info_hash"]
    if tracker:
        tracker.allow(ih)
        # Whitelisted after tpd's first announce was refused: announce again.
        check_eq(d.request({"op": "reannounce", "id": ev["id"]}).get("type"),
                 "Reannounced", "reannounce of the seed")
        tracker.wait_seeders(ih, 1, timeout=60)
    return torrent, ih, sha, data


def _fetch(env, d, torrent, peers=(), name="payload.bin"):
    """Adds the torrent on d (with peers to dial, if any); returns (id, path)."""
    dl = env.mkdir("dl-" + d.name)
    tid = d.add(torrent, dl, peers=peers)
    return tid, os.path.join(dl, name)


def _pair_transfer(env, extra_a, extra_b):
    """A seeds, B downloads through the tracker on the bridge; returns B's
    kernel counter deltas and the seconds the download took."""
    sw = _swarm(env, 2)
    ha, hb = sw.hosts
    tracker = sw.tracker()
    a = sw.tpd(ha, "a", extra_a)
    b = sw.tpd(hb, "b", extra_b)
    torrent, ih, sha, _ = _seed(env, a, tracker)
    before = _snmp(hb)
    t0 = time.monotonic()
    tid, got = _fetch(env, b, torrent)
    b.wait_complete(tid, T_TRANSFER)
    took = time.monotonic() - t0
    after = _snmp(hb)
    check_eq(T.sha1_file(got), sha, "SHA-1 of the file B downloaded")
    return after, before, took


@test
@_run
def test_two_hosts_defaults_tcp(env):
    """A on the defaults, B with --no-utp: the bytes come over TCP."""
    after, before, took = _pair_transfer(env, [], ["--no-utp"])
    segs = _delta(before, after, "Tcp", "InSegs")
    dgrams = _delta(before, after, "Udp", "InDatagrams")
    print("  64 MiB over TCP between two hosts: %.2f s (%d TCP segments, "
          "%d UDP datagrams in)" % (took, segs, dgrams), flush=True)
    # 64 MiB in segments of at most 64 KiB (GRO) is at least 1024 of them.
    check(segs >= SIZE // 65536, "only %d TCP segments reached B" % segs)
    check(dgrams < 1000, "%d UDP datagrams reached B with uTP off" % dgrams)


@test
@_run
def test_two_hosts_defaults_utp(env):
    """A on the defaults, B with --no-tcp: the bytes come over uTP."""
    after, before, took = _pair_transfer(env, [], ["--no-tcp"])
    segs = _delta(before, after, "Tcp", "InSegs")
    dgrams = _delta(before, after, "Udp", "InDatagrams")
    print("  64 MiB over uTP between two hosts: %.2f s (%d UDP datagrams, "
          "%d TCP segments in)" % (took, dgrams, segs), flush=True)
    # uTP packets carry at most about 1.4 KiB here (MTU 1500).
    check(dgrams >= SIZE // 1500, "only %d UDP datagrams reached B" % dgrams)
    check(segs < 2000, "%d TCP segments reached B with TCP off" % segs)


def _own_torrent(env, size=SIZE, name="payload.bin", piece=256 * 1024):
    """A tracker-less v1 torrent for fresh random data, made here: returns
    (torrent path, info-hash, sha1, directory holding the data)."""
    src = env.mkdir("src")
    data = os.path.join(src, name)
    content = os.urandom(size)
    with open(data, "wb") as f:
        f.write(content)
    tb = T.make_torrent_bytes(name, content, piece_length=piece)
    torrent = env.path(name + ".torrent")
    with open(torrent, "wb") as f:
        f.write(tb)
    return torrent, T.info_hash(tb), hashlib.sha1(content).hexdigest(), src


def _seeding(d, torrent, src, timeout=120):
    """Adds the torrent on d over its data in src; returns the id once the
    check found every piece."""
    tid = d.add(torrent, src)
    d.wait_complete(tid, timeout)
    return tid


def _peers(d, tid):
    return d.status(tid).get("peers")


@test
@_run
def test_encryption_required(env):
    """--encryption require: an aria2c that insists on encryption
    (--bt-require-crypto=true) downloads everything; a tpd that refuses
    encryption dials the seeder and never gets a connection."""
    sw = _swarm(env, 3)
    ha, hc, hd = sw.hosts
    tracker = sw.tracker()
    a = sw.tpd(ha, "a", ["--encryption", "require"])
    check_eq(a.request({"op": "info"}).get("encryption"), "require",
             "encryption in a's info")
    torrent, ih, sha, _ = _seed(env, a, tracker)
    tid_a = a.request({"op": "list"})["torrents"][0]["id"]
    # The plaintext peer dials over TCP only, so its attempts are counted
    # by its kernel (Tcp ActiveOpens).  It gets the torrent without its
    # tracker: the seeder never hears of it, so every connection between
    # them is one the plaintext peer dials.
    d = sw.tpd(hd, "d", ["--encryption", "disable", "--no-utp", "--no-dht",
                         "--no-lsd"])
    before = _snmp(hd)
    tid_d, _ = _fetch(env, d, _without_tracker(env, torrent, ih),
                      peers=["%s:6881" % ha.addr])
    dl = env.mkdir("dl-aria2")
    aria = sw.aria2c(hc, "aria2c", torrent, dl, seed=False,
                     extra=["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"])
    tried = [False]

    def watch():
        # Every look: the seeder's torrent has no peer but aria2c (an
        # incoming connection joins a torrent only once its handshake is
        # accepted), and the plaintext peer has received nothing.  The
        # plaintext peer's own count may blink to 1 while its TCP
        # connection waits for the handshake that the seeder refuses.
        check(_peers(a, tid_a) <= 1, "the seeder has more peers than aria2c")
        check_eq(d.status(tid_d).get("done_bytes"), 0,
                 "bytes the plaintext peer received")
        if not tried[0]:
            tried[0] = _delta(before, _snmp(hd), "Tcp", "ActiveOpens") >= 1
        return not aria.alive() and tried[0]
    swarm.wait_until(watch, T_TRANSFER, "aria2c to finish and the plaintext "
                     "peer to dial the seeder", interval=0.2)
    check_eq(aria.p.returncode, 0, "aria2c's exit status")
    check_eq(T.sha1_file(os.path.join(dl, "payload.bin")), sha,
             "SHA-1 of what the encrypting aria2c downloaded")
    # aria2c is gone: the seeder is left with no peer at all.
    swarm.wait_until(lambda: _peers(a, tid_a) == 0, 60,
                     "the seeder to have no peer once aria2c left")
    check_eq(d.status(tid_d).get("done_bytes"), 0,
             "bytes the plaintext peer received")


def _without_tracker(env, torrent, ih):
    """A copy of the .torrent without its announce URLs (same info-hash)."""
    with open(torrent, "rb") as f:
        meta = T.bdecode(f.read())
    for k in (b"announce", b"announce-list"):
        meta.pop(k, None)
    data = T.bencode(meta)
    check_eq(T.info_hash(data), ih, "info-hash of the tracker-less copy")
    out = torrent + ".notracker"
    with open(out, "wb") as f:
        f.write(data)
    return out


def _write_blocklist(path, addrs):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write("# test blocklist\n")
        for i, addr in enumerate(addrs):
            # One of each form a user may write.
            f.write(["%s/32\n", "%s-%s\n", "host %d:%s-%s\n"][i % 3]
                    % ((addr,) if i % 3 == 0 else (addr, addr) if i % 3 == 1
                       else (i, addr, addr)))
    os.rename(tmp, path)


@test
@_run
def test_blocklist(env):
    """A listed host never gets a connection; after SIGHUP with a host
    newly listed, its existing connection is dropped and stays gone."""
    sw = _swarm(env, 3)
    ha, hb, hc = sw.hosts
    sw.shape(hc, "16mbit")   # C must still be downloading when it is listed
    bl = env.path("blocklist")
    _write_blocklist(bl, [hb.addr])
    a = sw.tpd(ha, "a", ["--blocklist", bl])
    torrent, ih, sha, src = _own_torrent(env)
    tid_a = _seeding(a, torrent, src)
    # B dials over TCP only, so its attempts are counted by its kernel.
    b = sw.tpd(hb, "b", ["--no-utp", "--no-dht", "--no-lsd"])
    before_b = _snmp(hb)
    tid_b, _ = _fetch(env, b, torrent, peers=["%s:6881" % ha.addr])

    def b_shut_out():
        check_eq(_peers(a, tid_a), 0, "peers of the seeder while only B dials")
        check_eq(b.status(tid_b).get("done_bytes"), 0, "bytes B received")
        return _delta(before_b, _snmp(hb), "Tcp", "ActiveOpens") >= 1
    swarm.wait_until(b_shut_out, 60, "B to dial the seeder", interval=0.2)

    c = sw.tpd(hc, "c", ["--no-dht", "--no-lsd"])
    tid_c, _ = _fetch(env, c, torrent, peers=["%s:6881" % ha.addr])

    def c_connected():
        check(_peers(a, tid_a) <= 1, "the seeder has more than C connected")
        check_eq(b.status(tid_b).get("done_bytes"), 0, "bytes B received")
        st = c.status(tid_c)
        return st.get("peers") == 1 and st.get("done_bytes", 0) >= 2 * T.MIB
    swarm.wait_until(c_connected, 60, "C to connect and receive 2 MiB")
    check(c.status(tid_c).get("progress") < 1, "C finished before it was listed")

    _write_blocklist(bl, [hb.addr, hc.addr])
    a.proc.p.send_signal(signal.SIGHUP)
    swarm.wait_until(lambda: _peers(a, tid_a) == 0 and _peers(c, tid_c) == 0,
                     30, "the seeder to drop C after SIGHUP")
    got = c.status(tid_c).get("done_bytes")
    check(got < SIZE, "C completed although it was dropped")
    # C keeps the seeder in its peer list and tries again: it must stay out.
    before_c = _snmp(hc)

    def c_shut_out():
        check_eq(_peers(a, tid_a), 0, "peers of the seeder after C was listed")
        st = c.status(tid_c)
        # Blocks already in flight may still land; nothing more than a piece.
        check(st.get("done_bytes") <= got + 512 * 1024,
              "C still receives data after it was listed: %s" % st)
        return (_delta(before_c, _snmp(hc), "Udp", "OutDatagrams")
                + _delta(before_c, _snmp(hc), "Tcp", "ActiveOpens")) >= 3
    swarm.wait_until(c_shut_out, 90, "C to try the seeder again", interval=0.2)
    check(T.tail(a.proc.log, 400).count("blocklist: 2 IPv4 and 0 IPv6 ranges applied") == 1,
          "the seeder's log does not say the new list was applied")


def _give_ipv6(host):
    """A unique-local IPv6 address for host on the bridge (no duplicate
    address detection, so it is usable at once); returns it.  Given before
    tpd starts, which listens on the addresses it finds then."""
    addr = "fd77::%d" % host.index
    host.run(["ip", "addr", "add", addr + "/64", "dev", "eth0", "nodad"])
    return addr


@test
@_run
def test_blocklist_ipv6(env):
    """An IPv6 range in --blocklist: a listed host dialling over IPv6 never
    gets a connection, while an unlisted one downloads over IPv6 from the
    same daemon."""
    sw = _swarm(env, 3)
    ha, hb, hc = sw.hosts
    a6, b6, _ = (_give_ipv6(h) for h in sw.hosts)
    bl = env.path("blocklist6")
    with open(bl, "w") as f:
        f.write("# B alone, in two of the IPv6 forms\n%s/128\n%s-%s\n" % (b6, b6, b6))
    quiet = ["--no-dht", "--no-lsd", "--no-utp"]
    a = sw.tpd(ha, "a", quiet + ["--blocklist", bl])
    check(T.tail(a.proc.log, 100).count("0 IPv4 and 2 IPv6 ranges") >= 1,
          "the seeder's log does not count the IPv6 ranges")
    torrent, ih, sha, src = _own_torrent(env, size=8 * T.MIB)
    _seeding(a, torrent, src)
    seeder = "[%s]:6881" % a6
    c = sw.tpd(hc, "c", quiet)
    tid_c, got_c = _fetch(env, c, torrent, peers=[seeder])
    c.wait_complete(tid_c, T_TRANSFER)
    check_eq(T.sha1_file(got_c), sha, "SHA-1 of C's copy (over IPv6)")
    b = sw.tpd(hb, "b", quiet)
    before_b = _snmp(hb)
    tid_b, _ = _fetch(env, b, torrent, peers=[seeder])

    def b_shut_out():
        check_eq(b.status(tid_b).get("done_bytes"), 0, "bytes B received")
        check(hb.addr not in ha.tcp_peers(6881) and b6 not in ha.tcp_peers(6881),
              "the seeder holds a connection from B")
        return _delta(before_b, _snmp(hb), "Tcp", "ActiveOpens") >= 2
    # Not B's own peer count: its dial is accepted by the kernel and shut
    # by the seeder's filter, so B may count that peer for an instant.
    swarm.wait_until(b_shut_out, 90, "B to dial the seeder twice", interval=0.2)


def _pex(env, later):
    """C is told only about B; B knows A; C ends up connected to A, which
    it can only have learnt of through peer exchange (no tracker, DHT or
    LSD anywhere).  later: B and C start with --no-pex and session_set
    turns PEX on before they fetch."""
    sw = _swarm(env, 3)
    ha, hb, hc = sw.hosts
    for h in (hb, hc):
        sw.shape(h, "16mbit")  # both still downloading while we look
    off = ["--no-dht", "--no-lsd"]
    a = sw.tpd(ha, "a", off)
    torrent, ih, sha, src = _own_torrent(env)
    tid_a = _seeding(a, torrent, src)
    b = sw.tpd(hb, "b", off + (["--no-pex"] if later else []))
    c = sw.tpd(hc, "c", off + (["--no-pex"] if later else []))
    if later:
        for x in (b, c):
            check_eq(x.request({"op": "info"}).get("pex"), False,
                     "pex in info with --no-pex")
            check_eq(x.request({"op": "session_set", "pex": True}).get("pex"),
                     True, "pex after session_set")
            check_eq(x.request({"op": "info"}).get("pex"), True,
                     "pex in info after session_set")
    tid_b, _ = _fetch(env, b, torrent, peers=["%s:6881" % ha.addr])
    swarm.wait_until(lambda: _peers(b, tid_b) == 1, 60, "B to connect to A")
    tid_c, _ = _fetch(env, c, torrent, peers=["%s:6881" % hb.addr])

    def c_knows_a():
        # One connection per address: A's two peers are B and C.
        return _peers(c, tid_c) == 2 and _peers(a, tid_a) == 2
    swarm.wait_until(c_knows_a, 120, "C to be connected to both A and B")


@test
@_run
def test_pex(env):
    _pex(env, later=False)


@test
@_run
def test_pex_switched_on_at_run_time(env):
    """PEX off at start (--no-pex) comes on with session_set: libtorrent's
    ut_pex stays installed, switched per torrent."""
    _pex(env, later=True)


@test
@_run
def test_lsd(env):
    """Two hosts on the bridge find each other by local peer discovery
    alone: no tracker, no DHT, no peer given."""
    sw = _swarm(env, 2)
    ha, hb = sw.hosts
    a = sw.tpd(ha, "a", ["--no-dht"])
    torrent, ih, sha, src = _own_torrent(env, size=8 * T.MIB)
    _seeding(a, torrent, src)
    b = sw.tpd(hb, "b", ["--no-dht"])
    tid_b, got = _fetch(env, b, torrent)
    b.wait_complete(tid_b, T_TRANSFER)
    check_eq(T.sha1_file(got), sha, "SHA-1 of what B found through LSD")


@test
@_run
def test_dht_alone(env):
    """No tracker, no LSD: a magnet is resolved and downloaded between
    hosts whose DHT was bootstrapped with --dht-bootstrap to a third."""
    sw = _swarm(env, 3)
    hn, ha, hb = sw.hosts
    boot = "%s:6881" % hn.addr
    sw.tpd(hn, "node", ["--no-lsd"])
    a = sw.tpd(ha, "a", ["--no-lsd", "--no-pex", "--dht-bootstrap", boot])
    check_eq(a.request({"op": "info"}).get("dht"), True, "dht in a's info")
    torrent, ih, sha, src = _own_torrent(env, size=8 * T.MIB)
    _seeding(a, torrent, src)
    b = sw.tpd(hb, "b", ["--no-lsd", "--no-pex", "--dht-bootstrap", boot])
    dl = env.mkdir("dl-b")
    tid_b = b.add("magnet:?xt=urn:btih:" + ih, dl)
    b.wait_complete(tid_b, 180)
    check_eq(T.sha1_file(os.path.join(dl, "payload.bin")), sha,
             "SHA-1 of what the magnet brought through the DHT")


@test
@_run
def test_six_hosts_shaped(env):
    """Six hosts on 100 Mbit/s links: a tpd seeder, four tpd leechers
    joining at staggered moments and one aria2c.  One tpd leecher is
    killed -9 half-way and restarted; one host's link goes down for 5 s
    and comes back.  Every leecher ends with the right SHA-1."""
    sw = _swarm(env, 6)
    hs = sw.hosts
    for h in hs:
        sw.shape(h, "100mbit")
    tracker = sw.tracker()
    seeder = sw.tpd(hs[0], "seeder")
    torrent, ih, sha, _ = _seed(env, seeder, tracker)
    dl = env.mkdir("dl-aria2c")
    aria = sw.aria2c(hs[5], "aria2c", torrent, dl, seed=False)
    leechers = {}

    def join(i):
        d = sw.tpd(hs[i], "leech%d" % i)
        tid, path = _fetch(env, d, torrent)
        leechers[i] = (d, tid, path)

    def progress(i):
        d, tid, _ = leechers[i]
        return d.status(tid).get("progress", 0)

    # Staggered: each joins once an earlier one has part of the data; leech2
    # dies half-way (kill -9) and comes back with the same state.
    join(1)
    swarm.wait_until(lambda: progress(1) >= 0.25, T_TRANSFER,
                     "leech1 to reach 25%", interval=0.05)
    join(2)
    d2, tid2, _ = leechers[2]
    swarm.wait_until(lambda: progress(2) >= 0.5, T_TRANSFER,
                     "leech2 to reach 50%", interval=0.05)
    at_kill = progress(2)
    check(at_kill < 1, "leech2 finished before it could be killed")
    d2.kill9()
    d2.start()
    swarm.wait_until(lambda: any(t["id"] == tid2 for t in
                                 d2.request({"op": "list"})["torrents"]),
                     60, "leech2 to bring its torrent back")
    join(3)
    swarm.wait_until(lambda: progress(3) >= 0.25, T_TRANSFER,
                     "leech3 to reach 25%", interval=0.05)
    join(4)

    # leech4's host loses its link for 5 s.  The 5 s are the scenario
    # itself (how long the link stays down), not a wait for anything.
    swarm.wait_until(lambda: progress(4) >= 0.1, T_TRANSFER,
                     "leech4 to reach 10%", interval=0.05)
    at_down = progress(4)
    check(at_down < 1, "leech4 finished before its link went down")
    hs[4].link(False)
    select_wait(5.0)
    hs[4].link(True)
    print("  leech2 killed at %.0f%%, leech4's link down at %.0f%%"
          % (100 * at_kill, 100 * at_down), flush=True)

    t0 = time.monotonic()
    for i in (1, 2, 3, 4):
        d, tid, path = leechers[i]
        d.wait_complete(tid, T_TRANSFER)
        check_eq(T.sha1_file(path), sha, "SHA-1 of leech%d's copy" % i)
        print("  leech%d complete %.1f s after the link came back"
              % (i, time.monotonic() - t0), flush=True)
    check_eq(aria.wait(T_TRANSFER), 0, "aria2c's exit status")
    check_eq(T.sha1_file(os.path.join(dl, "payload.bin")), sha, "SHA-1 of aria2c's copy")


def select_wait(seconds):
    T.select.select([], [], [], seconds)


def _have_lt_binding():
    import subprocess
    return subprocess.run(["/usr/bin/python3", "-c", "import libtorrent"],
                          capture_output=True).returncode == 0


def _log_says(proc, word):
    return word in T.tail(proc.log, 50)


@test
@_run
def test_mixed_swarm(env):
    """A tpd seeder with aria2c, plain libtorrent and transmission-daemon
    leechers; then tpd downloading from a transmission-daemon seeder alone
    and from a libtorrent seeder alone.  Every peer completes with the
    right SHA-1.

    transmission-daemon 3.00 cannot take part on loopback: its net.c
    (isMartianAddr) treats 127.0.0.0/8 as unroutable and drops every such
    peer a tracker hands it.  It does announce to a tracker on 127.0.0.1
    (it did within 2 s here, in and outside a namespace; after a refusal,
    such as a hash not yet whitelisted, it retries within about 20 s), so
    the tracker was never the problem; between namespace hosts the peers
    have routable addresses and it joins in."""
    import shutil as _sh
    if _sh.which("transmission-daemon") is None or _sh.which("transmission-remote") is None:
        raise T.TestSkip("transmission-daemon / transmission-remote not installed (make deps)")
    if not _have_lt_binding():
        raise T.TestSkip("python3-libtorrent not installed (make deps)")
    size = 32 * T.MIB
    sw = _swarm(env, 6)
    hs = sw.hosts
    tracker = sw.tracker()
    seeder = sw.tpd(hs[0], "seeder")
    torrent, ih, sha, _ = _seed(env, seeder, tracker, size=size)
    dl_aria, dl_lt, dl_tm = (env.mkdir(n) for n in ("dl-aria2c", "dl-lt", "dl-tm"))
    aria = sw.aria2c(hs[1], "aria2c", torrent, dl_aria, seed=False)
    lt = sw.libtorrent(hs[2], "libtorrent", "leech", torrent, dl_lt)
    tm = sw.transmission(hs[3], "transmission")
    tm.add(torrent, dl_tm)
    check_eq(aria.wait(T_TRANSFER), 0, "aria2c's exit status")
    swarm.wait_until(lambda: _log_says(lt, "complete") or not lt.alive(), T_TRANSFER,
                     "libtorrent to complete")
    check(lt.alive(), "libtorrent exited: " + T.tail(lt.log))
    tm.wait_done(T_TRANSFER)
    for name, d in (("aria2c", dl_aria), ("libtorrent", dl_lt), ("transmission", dl_tm)):
        check_eq(T.sha1_file(os.path.join(d, "payload.bin")), sha, "SHA-1 of %s's copy" % name)

    # transmission-daemon is now the only seeder.
    check_eq(seeder.stop(), 0, "the tpd seeder's exit status on SIGTERM")
    lt.stop()
    a = sw.tpd(hs[4], "from-transmission")
    tid_a, got_a = _fetch(env, a, torrent)
    a.wait_complete(tid_a, T_TRANSFER)
    check_eq(T.sha1_file(got_a), sha, "SHA-1 of what tpd got from transmission-daemon")

    # A plain libtorrent seeder, alone.
    check_eq(a.stop(), 0, "from-transmission's exit status on SIGTERM")
    tm.proc.stop()
    lts = sw.libtorrent(hs[2], "libtorrent-seed", "seed", torrent, dl_lt)
    swarm.wait_until(lambda: _log_says(lts, "seeding") or not lts.alive(), 60,
                     "libtorrent to check its copy and seed")
    check(lts.alive(), "libtorrent seeder exited: " + T.tail(lts.log))
    b = sw.tpd(hs[5], "from-libtorrent")
    tid_b, got_b = _fetch(env, b, torrent)
    b.wait_complete(tid_b, T_TRANSFER)
    check_eq(T.sha1_file(got_b), sha, "SHA-1 of what tpd got from libtorrent")


if __name__ == "__main__":
    T.main()
