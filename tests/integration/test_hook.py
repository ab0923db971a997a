"""test_hook - the --on-complete program (SPEC section 8, issue 10).

A torrent of nobody's completes (its data already lies in the save
directory, so the check finds it whole): the hook runs once, as nobody
when tpd is root, with TPD_TORRENT_ID, _NAME, _HASH, _DIR, _LABELS and
_OWNER right (the test's script writes them to a file), and not again
after a restart (a second torrent's run after the restart shows the hook
works then).  A hook that sleeps past --hook-timeout is killed and the log
says so.  A `set` carrying a hook field is bad_request.
"""

import base64
import contextlib
import os

import tpdtest as T
from tpdtest import NOBODY, Patron, check, check_eq, test

SCRIPT = """#!/bin/sh
out=%(out)s
{
  echo "ID=$TPD_TORRENT_ID"
  echo "NAME=$TPD_TORRENT_NAME"
  echo "HASH=$TPD_TORRENT_HASH"
  echo "DIR=$TPD_TORRENT_DIR"
  echo "LABELS=$TPD_TORRENT_LABELS"
  echo "OWNER=$TPD_TORRENT_OWNER"
  echo "UID=$(id -u)"
} > "$out/env.$TPD_TORRENT_ID.tmp"
echo "$TPD_TORRENT_ID" >> "$out/runs"
mv "$out/env.$TPD_TORRENT_ID.tmp" "$out/env.$TPD_TORRENT_ID"
echo "hook output for $TPD_TORRENT_NAME"
"""


@contextlib.contextmanager
def _as_nobody():
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def _script(env, name, text):
    bindir = env.mkdir("bin", mode=0o755)
    path = os.path.join(bindir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


def _complete_torrent(env, d, name, labels):
    """A torrent of nobody's whose data is already whole in its save dir."""
    data_dir = env.mkdir("data-" + name)
    os.chown(data_dir, NOBODY, NOBODY)
    content = os.urandom(100 * 1024)
    with open(os.path.join(data_dir, name), "wb") as f:
        f.write(content)
    tb = T.make_torrent_bytes(name, content)
    with _as_nobody():
        p = Patron(d.sock)
    with p:
        ev = p.call("create", torrent=base64.b64encode(tb).decode(),
                    save_dir=data_dir, labels=labels)
    check_eq(ev.get("type"), "NewTorrentCreated", "create as nobody: %s" % ev)
    return ev["id"], T.info_hash(tb), data_dir


def _read_env(path):
    with open(path) as f:
        return dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)


def _open_up(env, d):
    os.chmod(env.dir, 0o755)
    os.chmod(d.dir, 0o755)
    os.chmod(d.sock, 0o666)


@test
def test_hook_runs_once_as_owner(env):
    if not T.is_root():
        raise T.TestSkip("needs root to act as another user")
    os.chmod(env.dir, 0o755)
    out = env.mkdir("out", mode=0o777)
    hook = _script(env, "hook.sh", SCRIPT % {"out": out})
    extra = ["--on-complete", hook]
    d = env.start_daemon(extra=extra)
    _open_up(env, d)
    tid, ih, data_dir = _complete_torrent(env, d, "first.bin", ["a", "b c"])
    envfile = os.path.join(out, "env.%d" % tid)
    T.wait_until(lambda: os.path.exists(envfile), 30, "the hook's file")
    got = _read_env(envfile)
    check_eq(got, {"ID": str(tid), "NAME": "first.bin", "HASH": ih, "DIR": data_dir,
                   "LABELS": "a,b c", "OWNER": str(NOBODY), "UID": str(NOBODY)},
             "what the hook saw")
    T.wait_until(lambda: "hook for torrent %d: hook output for first.bin" % tid
                 in open(d.log).read(), 10, "the hook's output in the log")
    with d.patron() as p:
        e = p.call("set", id=tid, on_complete="/bin/sh")
        check_eq((e.get("type"), e.get("code")), ("Error", "bad_request"),
                 "set with on_complete")
        e = p.call("session_set", on_complete="/bin/sh")
        check_eq((e.get("type"), e.get("code")), ("Error", "bad_request"),
                 "session_set with on_complete")
    check(not d.stop(), "tpd did not stop cleanly")

    d = env.start_daemon(extra=extra)
    _open_up(env, d)
    tid2, _, _ = _complete_torrent(env, d, "second.bin", [])
    T.wait_until(lambda: os.path.exists(os.path.join(out, "env.%d" % tid2)), 30,
                 "the hook's file for the torrent added after the restart")
    with d.patron() as p:
        check_eq(p.call("status", id=tid).get("state") in ("finished", "seeding"),
                 True, "the first torrent is back and complete")
    with open(os.path.join(out, "runs")) as f:
        runs = f.read().split()
    check_eq(sorted(runs), sorted([str(tid), str(tid2)]),
             "hook runs (once per torrent, none again after the restart)")


@test
def test_hook_killed_after_timeout(env):
    if not T.is_root():
        raise T.TestSkip("needs root to act as another user")
    os.chmod(env.dir, 0o755)
    hook = _script(env, "slow.sh", "#!/bin/sh\necho sleeping\nexec sleep 60\n")
    d = env.start_daemon(extra=["--on-complete", hook, "--hook-timeout", "1"])
    _open_up(env, d)
    tid, _, _ = _complete_torrent(env, d, "slow.bin", [])
    T.wait_until(lambda: "hook for torrent %d: killed after 1 s" % tid
                 in open(d.log).read(), 20, "the slow hook killed and logged")
    check(d.alive(), "tpd died")


if __name__ == "__main__":
    T.main()
