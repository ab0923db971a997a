"""wltracker - what the harnesses ask of a whitelist-only opentracker.

Debian's opentracker is built whitelist-only: a hash is served once it is
in the file given with -w and the tracker has reloaded it on SIGHUP.  Both
the loopback harness (tests/integration/tpdtest.py) and the namespace
harness (tests/swarm) start one; they differ only in how a request reaches
it (straight to 127.0.0.1, or from inside a host's namespace), how it is
signalled and how a failed wait is reported, which a subclass supplies:

    _get(path) -> bytes     an HTTP GET of the tracker's path
    _signal(sig)            sends sig to the opentracker process
    _wait(pred, timeout, what)  polls pred until true, or fails the caller's way

Python 3 standard library only.
"""

import os
import signal
import urllib.parse

from bencode import bdecode


class WhitelistTracker:
    PROBE_PEER_ID = "-TPDTEST-probe000000"

    def _init_whitelist(self, directory):
        """An empty, world-readable whitelist (the tracker drops to nobody)."""
        self.whitelist = os.path.join(directory, "whitelist")
        open(self.whitelist, "w").close()
        os.chmod(self.whitelist, 0o644)
        self.hashes = []

    def _announce(self, hex_hash, event):
        q = ("info_hash=" + urllib.parse.quote(bytes.fromhex(hex_hash))
             + "&peer_id=" + urllib.parse.quote(self.PROBE_PEER_ID)
             + "&port=9&uploaded=0&downloaded=0&left=1&compact=1&numwant=0")
        if event:
            q += "&event=" + event
        return bdecode(self._get("/announce?" + q))

    def allow(self, *hex_hashes):
        """Whitelists the hashes, reloads (SIGHUP), waits until accepted."""
        self.hashes += [h.lower() for h in hex_hashes]
        tmp = self.whitelist + ".new"
        with open(tmp, "w") as f:
            f.write("".join(h + "\n" for h in self.hashes))
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.whitelist)
        self._signal(signal.SIGHUP)
        for h in hex_hashes:
            # A probe announce (an incomplete peer on port 9, removed again
            # with "stopped") tells whether the reload has happened;
            # "stopped" itself bypasses the whitelist, so it cannot.
            self._wait(lambda: b"failure reason" not in self._announce(h, "started"),
                       15, "opentracker to accept %s after SIGHUP" % h)
            self._announce(h, "stopped")

    def scrape(self, hex_hash):
        """The tracker's counts for the hash: complete, incomplete, downloaded."""
        r = bdecode(self._get("/scrape?info_hash="
                              + urllib.parse.quote(bytes.fromhex(hex_hash))))
        s = r.get(b"files", {}).get(bytes.fromhex(hex_hash), {})
        return {k.decode(): v for k, v in s.items()}
