"""lt_peer - plain libtorrent (python3-libtorrent) as a peer on a swarm host.

Owns one libtorrent session with libtorrent's default settings, except
that DHT, LSD, UPnP and NAT-PMP are off (the swarm tests find peers
through their tracker) and it listens on 0.0.0.0:6881.  Run by
tests/swarm inside a host's namespace, with the system python
(/usr/bin/python3), where Debian's binding lives.

    lt_peer.py seed TORRENT SAVE_DIR SECONDS
        checks the data, prints "seeding" once it seeds, then seeds until
        SIGTERM or SECONDS have passed.
    lt_peer.py leech TORRENT SAVE_DIR SECONDS
        downloads, prints "complete" and keeps seeding until SIGTERM or
        SECONDS; exit 1 if SECONDS pass before it completes.
"""

import signal
import sys
import time

import libtorrent as lt


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("seed", "leech"):
        sys.stderr.write(__doc__)
        return 2
    mode, torrent, save_dir, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + seconds
    ses = lt.session({
        "listen_interfaces": "0.0.0.0:6881",
        "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.error_notification,
    })
    h = ses.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save_dir})
    said = False
    while time.monotonic() < deadline:
        # Woken by libtorrent's alerts (state changes, errors), not a clock.
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_error_alert):
                sys.stderr.write("lt_peer: %s\n" % a.message())
                return 1
        st = h.status()
        if st.is_seeding and not said:
            print("seeding" if mode == "seed" else "complete", flush=True)
            said = True
    if said:
        return 0
    sys.stderr.write("lt_peer: not done within %.0f s (%.1f%%)\n"
                     % (seconds, 100 * h.status().progress))
    return 1


if __name__ == "__main__":
    sys.exit(main())
