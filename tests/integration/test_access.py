"""test_access - the daemon (root) uses files with the patron's rights.

As user nobody (setpriv --reuid=65534 --regid=65534 --clear-groups):
`tpctl seed` of a file nobody cannot read (under a 0700 root directory, or
itself 0600) fails with a reason mentioning permission, and writes nothing;
a seed whose --torrent-out is in a root-only directory fails too; a
directory nobody can list but holding a file only root may read is not
published either.  `tpctl add X.torrent --dir <root-only dir>` is a
StartFail naming the directory, while `--dir <a directory nobody may
write>` works and the torrent is nobody's.  tpctl sends local .torrent
files as bytes, so the daemon's own check of a create `path` is driven by
a small Python patron running as nobody: a root-only .torrent is a
StartFail, a readable one is created.  Needs root.  Every test here is
about a root daemon acting for another user, so make test's unprivileged
pass (TPD_TEST_DAEMON_USER) skips them, saying so.
"""

import os
import shutil

import seedutil as U
import tpdtest as T
from tpdtest import NOBODY, check, check_eq, describe, test


def _need_root():
    if not T.is_root():
        raise T.TestSkip("needs root to act as user nobody")
    T.root_daemon_only("this test is about a root daemon acting for nobody")


def _setup(env):
    """A daemon nobody can reach, a tpctl nobody can run, and directories:
    private (root, 0700), open (nobody may write), pub (readable)."""
    _need_root()
    os.chmod(env.dir, 0o755)
    d = env.start_daemon(extra=["--socket-mode", "0666"])
    os.chmod(d.dir, 0o755)
    check_eq(os.stat(d.sock).st_mode & 0o777, 0o666, "mode of the socket with --socket-mode 0666")
    bindir = env.mkdir("bin", mode=0o755)
    exe = os.path.join(bindir, "tpctl")
    shutil.copy(T.tpctl_bin(), exe)
    os.chmod(exe, 0o755)
    dirs = {"private": env.mkdir("private", mode=0o700),
            "open": env.mkdir("open", mode=0o755),
            "pub": env.mkdir("pub", mode=0o755)}
    os.chown(dirs["open"], NOBODY, NOBODY)
    return d, exe, dirs


def _nobody_tpctl(env, exe, *args, **kw):
    return env.tpctl(*args, user=NOBODY, exe=exe, **kw)


def _torrent_file(path, name="x.bin", mode=0o644):
    tb = T.make_torrent_bytes(name, os.urandom(50000), announce="http://127.0.0.1:9/announce")
    with open(path, "wb") as f:
        f.write(tb)
    os.chmod(path, mode)
    return tb, T.info_hash(tb)


def _no_torrents(d, what):
    with d.patron() as root:
        check_eq(root.list(), [], "torrents in the daemon after %s" % what)


@test
def test_seed_needs_read_rights(env):
    d, exe, dirs = _setup(env)
    announce = "http://127.0.0.1:%d/announce" % U.closed_port()
    hidden = os.path.join(dirs["private"], "secret.bin")
    T.write_random_file(hidden, 40000)
    unreadable = os.path.join(dirs["pub"], "mine.bin")
    T.write_random_file(unreadable, 40000)
    os.chmod(unreadable, 0o600)
    for data, what in ((hidden, "a file under a root-only 0700 directory"),
                       (unreadable, "a root file of mode 0600")):
        out = os.path.join(dirs["open"], os.path.basename(data) + ".torrent")
        r = _nobody_tpctl(env, exe, "seed", data, "--tracker", announce, "--torrent-out", out)
        check_eq(r.returncode, 1, "exit status of `tpctl seed` as nobody of %s (%s)"
                 % (what, describe(r)))
        check("permission" in r.stderr.lower(),
              "`tpctl seed` as nobody of %s: stderr must mention permission: %s"
              % (what, describe(r)))
        check(not os.path.exists(out), "a .torrent was written for %s" % what)
    _no_torrents(d, "refused seeds")

    # Readable data, but the .torrent would go into a root-only directory.
    ok_data = os.path.join(dirs["pub"], "public.bin")
    T.write_random_file(ok_data, 40000)
    out = os.path.join(dirs["private"], "public.torrent")
    r = _nobody_tpctl(env, exe, "seed", ok_data, "--tracker", announce, "--torrent-out", out)
    check_eq(r.returncode, 1, "exit status of a seed into a root-only --torrent-out (%s)"
             % describe(r))
    check("permission" in r.stderr.lower(),
          "seed into a root-only --torrent-out: stderr must mention permission: " + describe(r))
    check_eq(sorted(os.listdir(dirs["private"])), ["secret.bin"],
             "files in the root-only directory after nobody's seed")
    _no_torrents(d, "a seed with a root-only torrent_out")

    # The same seed with a .torrent nobody may write works, and is nobody's.
    out = os.path.join(dirs["open"], "public.torrent")
    r = _nobody_tpctl(env, exe, "seed", ok_data, "--tracker", announce, "--torrent-out", out)
    U.new_id(r, "tpctl seed as nobody of a readable file")
    check_eq(os.stat(out).st_uid, NOBODY, "owner of the .torrent written for nobody")
    st = U.listed(env, d, T.info_hash(U.read_bytes(out)))
    check_eq(st.get("owner"), NOBODY, "owner of nobody's seed")


@test
def test_seed_directory_with_unreadable_file(env):
    """Nobody may list the directory but not read one file in it: the
    daemon must not read that file for nobody (SPEC 6)."""
    d, exe, dirs = _setup(env)
    tree = os.path.join(dirs["pub"], "mixed")
    os.mkdir(tree)
    os.chmod(tree, 0o755)
    T.write_random_file(os.path.join(tree, "open.bin"), 30000)
    secret = os.path.join(tree, "root-only.bin")
    T.write_random_file(secret, 30000)
    os.chmod(secret, 0o600)
    out = os.path.join(dirs["open"], "mixed.torrent")
    announce = "http://127.0.0.1:%d/announce" % U.closed_port()
    r = _nobody_tpctl(env, exe, "seed", tree, "--tracker", announce, "--torrent-out", out)
    check_eq(r.returncode, 1, "exit status of nobody seeding a directory holding a "
             "file only root may read (%s)" % describe(r))
    check("permission" in r.stderr.lower(),
          "seed of a directory with an unreadable file: stderr must mention permission: "
          + describe(r))
    check(not os.path.exists(out), "a .torrent of a root-only file was written for nobody")
    _no_torrents(d, "nobody's seed of a directory with a root-only file")


@test
def test_add_checks_the_save_dir(env):
    d, exe, dirs = _setup(env)
    tpath = os.path.join(dirs["pub"], "x.torrent")
    _, ih = _torrent_file(tpath)
    r = _nobody_tpctl(env, exe, "add", tpath, "--dir", dirs["private"])
    check_eq(r.returncode, 1, "exit status of `tpctl add --dir <root-only dir>` as nobody (%s)"
             % describe(r))
    check(dirs["private"] in r.stderr,
          "`tpctl add --dir <root-only dir>` as nobody must name the directory: " + describe(r))
    r = _nobody_tpctl(env, exe, "add", tpath, "--dir", dirs["private"], json_mode=True)
    evs = T.json_lines(r.stdout)
    check(len(evs) == 1 and evs[0]["type"] == "StartFail",
          "`tpctl --json add --dir <root-only dir>` as nobody: expected one StartFail: "
          + describe(r))
    _no_torrents(d, "a create into a root-only directory")

    r = _nobody_tpctl(env, exe, "add", tpath, "--dir", dirs["open"])
    tid = U.new_id(r, "tpctl add --dir <nobody's directory> as nobody")
    st = U.listed(env, d, ih)
    check_eq(st.get("id"), tid, "id of nobody's torrent")
    check_eq(st.get("owner"), NOBODY, "owner of nobody's torrent")
    check_eq(os.path.realpath(st.get("save_path", "")), os.path.realpath(dirs["open"]),
             "save_path of nobody's torrent")


@test
def test_create_path_is_read_as_the_patron(env):
    d, _, dirs = _setup(env)
    hidden = os.path.join(dirs["private"], "x.torrent")
    _torrent_file(hidden, "hidden.bin")
    closed = os.path.join(dirs["pub"], "closed.torrent")
    _torrent_file(closed, "closed.bin", mode=0o600)
    readable = os.path.join(dirs["pub"], "readable.torrent")
    _, ih = _torrent_file(readable, "readable.bin")

    for path, what in ((hidden, "a .torrent under a root-only directory"),
                       (closed, "a root .torrent of mode 0600")):
        ev = U.raw_request_as(NOBODY, d.sock, {"op": "create", "path": path})
        check(ev.get("type") == "StartFail",
              "create path=%s (%s) as nobody: expected StartFail, got %s"
              % (path, what, T._short(ev)))
        check("permission" in ev.get("reason", "").lower() and path in ev.get("reason", ""),
              "StartFail for %s must name the path and the permission problem: %r"
              % (what, ev.get("reason")))
    _no_torrents(d, "nobody's creates of root-only paths")

    ev = U.raw_request_as(NOBODY, d.sock, {"op": "create", "path": readable,
                                           "save_dir": dirs["open"]})
    check(ev.get("type") == "NewTorrentCreated" and ev.get("info_hash") == ih,
          "create path=<readable .torrent> as nobody: expected NewTorrentCreated, got %s"
          % T._short(ev))
    # Root reads anything: the same daemon is not simply refusing paths.
    with d.patron() as root:
        ev = root.expect("create", "NewTorrentCreated", path=hidden)
    check(d.alive(), "the daemon died")




@test
def test_delete_files_never_follows_links(env):
    """nobody seeds a small directory of its own, swaps one file for a link
    to a root file and another for a link to a root directory, then closes
    with --delete-files: its own files and the links go, root's files stay,
    because the daemon deletes with nobody's rights and follows no link."""
    d, exe, dirs = _setup(env)
    victim_dir = env.mkdir("victim", mode=0o755)
    victim = os.path.join(victim_dir, "precious")
    T.write_random_file(victim, 1000)
    # Named like the torrent's sub/c.bin: deleting through the linked
    # directory would hit it.
    inner = os.path.join(victim_dir, "c.bin")
    T.write_random_file(inner, 1000)
    data = os.path.join(dirs["open"], "pub")
    os.mkdir(data)
    os.mkdir(os.path.join(data, "sub"))
    for rel in ("a.bin", "b.bin", "sub/c.bin"):
        T.write_random_file(os.path.join(data, rel), 20000)
    for root, dnames, fnames in os.walk(data):
        for n in dnames + fnames:
            os.chown(os.path.join(root, n), NOBODY, NOBODY)
    os.chown(data, NOBODY, NOBODY)
    announce = "http://127.0.0.1:%d/announce" % U.closed_port()
    out = os.path.join(dirs["open"], "pub.torrent")
    r = _nobody_tpctl(env, exe, "seed", data, "--tracker", announce, "--torrent-out", out)
    check_eq(r.returncode, 0, "seed as nobody (%s)" % describe(r))
    tid = U.new_id(r, "seed as nobody")
    # The planted links: a file that points at root's file, and a
    # directory that points at root's directory.
    os.unlink(os.path.join(data, "b.bin"))
    os.symlink(victim, os.path.join(data, "b.bin"))
    shutil.rmtree(os.path.join(data, "sub"))
    os.symlink(victim_dir, os.path.join(data, "sub"))
    r = _nobody_tpctl(env, exe, "close", str(tid), "--delete-files")
    # sub/c.bin lies behind the linked directory: not deleted, and said so.
    check_eq(r.returncode, 1, "close --delete-files as nobody (%s)" % describe(r))
    check("Closed torrent %d" % tid in r.stdout, "close output: %s" % describe(r))
    check("could not delete every file" in r.stderr and "sub/c.bin" in r.stderr,
          "close --delete-files must name what it could not delete: %s" % describe(r))
    check(os.path.exists(victim), "root's file behind a link was deleted")
    check(os.path.exists(inner), "root's file behind a linked directory was deleted")
    check(not os.path.lexists(os.path.join(data, "a.bin")), "nobody's own file was kept")
    check(not os.path.lexists(os.path.join(data, "b.bin")), "the planted link was kept")


if __name__ == "__main__":
    T.main()
