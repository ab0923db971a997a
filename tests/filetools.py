"""filetools.py - the file helpers the test harness (tests/integration/
tpdtest.py), the swarm harness (tests/swarm/) and the bench share: a file's
SHA-1 read in pieces (files of several GiB), and the last lines of a log
for a failure message."""

import hashlib


def sha1_file(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "\n".join(lines[-n:])
