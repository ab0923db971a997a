"""bencode - the bencode codec shared by the test harnesses and the bench.

tests/integration/tpdtest.py, tests/swarm and bench/ all read tracker
answers and .torrent files; one codec serves them.  Python 3 standard
library only.
"""

import hashlib


def bdecode(data):
    """Decodes bencode bytes into ints, bytes, lists and dicts (bytes keys)."""
    v, end = bdecode_at(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after bencode value at %d" % end)
    return v


def bdecode_at(data, i):
    """Decodes the value that starts at data[i]: returns (value, next)."""
    if i >= len(data):
        raise ValueError("truncated bencode")
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        i += 1
        out = []
        while data[i:i + 1] != b"e":
            v, i = bdecode_at(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while data[i:i + 1] != b"e":
            k, i = bdecode_at(data, i)
            if not isinstance(k, bytes):
                raise ValueError("dict key is not a string")
            v, i = bdecode_at(data, i)
            out[k] = v
        return out, i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        n = int(data[i:colon])
        start = colon + 1
        if start + n > len(data):
            raise ValueError("truncated string")
        return data[start:start + n], start + n
    raise ValueError("bad bencode byte %r at %d" % (c, i))


def bencode(v):
    if isinstance(v, bool):
        raise TypeError("bool in bencode")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x)
                       for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError("cannot bencode %r" % type(v))


def info_hash(torrent_bytes):
    """Hex v1 info-hash: SHA-1 of the info dict exactly as it lies in the file."""
    if torrent_bytes[:1] != b"d":
        raise ValueError("not a bencoded dict")
    i = 1
    while torrent_bytes[i:i + 1] != b"e":
        k, i = bdecode_at(torrent_bytes, i)
        start = i
        _, i = bdecode_at(torrent_bytes, i)
        if k == b"info":
            return hashlib.sha1(torrent_bytes[start:i]).hexdigest()
    raise ValueError("no info dict")
