"""lt_client - libtorrent with default settings, for `make bench` row 1.

Owns the "plain libtorrent" column: the same libtorrent tpd is built on,
through its Python binding (Debian python3-libtorrent), with the session's
default settings except that it listens on 127.0.0.1 only, DHT, local
peer discovery, UPnP and NAT-PMP are off (the bench stays on loopback), and
two settings are changed as tpd changes them for loopback:
allow_multiple_connections_per_ip is on (without it every peer on 127.0.0.1
collapses into one entry and the leecher may never reach the seeder), and uTP
is off (2.0.8's uTP ran 1 GiB over loopback at about 10 MB/s here, 109 s,
which measures a uTP bug rather than libtorrent).

    lt_client.py seed TORRENT SAVE_DIR PORT SECONDS
        checks the data in SAVE_DIR, prints "seeding" once it seeds, then
        seeds until SIGTERM or SECONDS have passed.
    lt_client.py leech TORRENT SAVE_DIR PORT SECONDS
        downloads into SAVE_DIR and exits 0 once complete, printing the
        seconds it took; exit 1 if SECONDS pass first or the torrent fails.

Run with the system python (/usr/bin/python3), where the binding lives.
"""

import signal
import sys
import time

import libtorrent as lt


def session(port):
    return lt.session({
        "listen_interfaces": "127.0.0.1:%d" % port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": lt.alert.category_t.error_notification,
    })


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("seed", "leech"):
        sys.stderr.write(__doc__)
        return 2
    mode, torrent, save_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    port, seconds = int(sys.argv[4]), float(sys.argv[5])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    t0 = time.monotonic()
    deadline = t0 + seconds
    ses = session(port)
    h = ses.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save_dir})
    announced = False
    while time.monotonic() < deadline:
        # Wait on libtorrent's alerts, not on a clock: each state change
        # (checked, finished, error) posts one.
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_error_alert):
                sys.stderr.write("lt_client: %s\n" % a.message())
                return 1
        st = h.status()
        if st.errc.value() != 0:
            sys.stderr.write("lt_client: %s\n" % st.errc.message())
            return 1
        if mode == "seed" and st.is_seeding and not announced:
            print("seeding", flush=True)
            announced = True
        if mode == "leech" and st.is_seeding:
            print("%.3f" % (time.monotonic() - t0), flush=True)
            return 0
    if mode == "seed" and announced:
        return 0
    sys.stderr.write("lt_client: %s not done within %.0f s (progress %.1f%%)\n"
                     % (mode, seconds, 100 * h.status().progress))
    return 1


if __name__ == "__main__":
    sys.exit(main())
