"""webutil - tpweb in the integration tests: start it beside a real tpd,
speak HTTP to it (raw requests with any headers, Transmission RPC calls
with the session-id handshake), run Debian's transmission-remote against
it.  Only 127.0.0.1 is used.  Python 3 standard library only.
"""

import base64
import http.client
import json
import os
import re
import shutil
import subprocess

import tpdtest as T
from tpdtest import check, describe, fail

PAGE_DIR = os.path.join(T.REPO, "web", "page")


def tpweb_bin():
    return os.path.join(T.build_dir(), "tpweb")


def unknown_op(result):
    """True when an RPC result string is tpd refusing an op it lacks
    (the steering ops of SPEC section 8 before they land)."""
    return isinstance(result, str) and "unknown op" in result


class Web:
    """A build/tpweb on 127.0.0.1 with a free port, talking to `daemon`.

    user=UID runs it through setpriv (tests run as root)."""

    def __init__(self, env, daemon, extra=(), user=None, name="tpweb"):
        exe = tpweb_bin()
        check(os.access(exe, os.X_OK), "%s is not built" % exe)
        self.env = env
        self.log = os.path.join(env.logs, name + ".log")
        argv = [exe, "-s", daemon.sock, "--listen", "127.0.0.1:0",
                "--web-root", PAGE_DIR] + list(extra)
        if user is not None:
            argv = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user,
                    "--clear-groups"] + argv
        self.name = name
        self.stopped = False
        self.proc = T.spawn(argv, self.log)
        # Stopped with the daemons, so that its exit is checked too.
        env.daemons.append(self)
        self.port = T.wait_until(self._port, 30, "tpweb to print its port")
        self.host = "127.0.0.1:%d" % self.port
        self.token = None
        self.auth = None

    def _port(self):
        if self.proc.poll() is not None:
            fail("tpweb exited with %s:\n%s" % (self.proc.returncode, T.tail(self.log)))
        with open(self.log, errors="replace") as f:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
        return int(m.group(1)) if m else None

    def stop(self):
        """SIGTERM: tpweb must exit 0, with no sanitizer report in its log
        (under make test-asan).  Returns the problems, as Daemon.stop does."""
        if self.stopped:
            return []
        self.stopped = True
        if self.proc.poll() is not None:
            return ["%s had died during the test (exit status %s)"
                    % (self.name, self.proc.returncode)]
        rc = T._kill(self.proc, grace=30)
        problems = []
        if rc != 0:
            problems.append("%s exited with %s on SIGTERM (expected 0)" % (self.name, rc))
        with open(self.log, errors="replace") as f:
            text = f.read()
        if "Sanitizer" in text or "runtime error:" in text:
            problems.append("%s's log has a sanitizer report:\n%s" % (self.name, T.tail(self.log)))
        return problems

    def url(self, path="/"):
        return "http://%s%s" % (self.host, path)

    def request(self, method, path, body=None, headers=None, timeout=120):
        """One HTTP request with exactly these headers (Host defaults to
        ours).  Returns (status, headers dict with lower-case names, body)."""
        h = {"Host": self.host}
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in h.items():
                if v is not None:
                    c.putheader(k, v)
            if body is not None:
                if isinstance(body, str):
                    body = body.encode()
                c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def _auth_header(self):
        if not self.auth:
            return {}
        raw = ("%s:%s" % self.auth).encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def rpc(self, method, arguments=None, tag=None, timeout=120):
        """A Transmission RPC call as clients make it: on 409 take the
        token from the answer and send again.  Returns the parsed answer."""
        req = {"method": method}
        if arguments is not None:
            req["arguments"] = arguments
        if tag is not None:
            req["tag"] = tag
        body = json.dumps(req)
        for _ in range(2):
            h = {"Content-Type": "application/json"}
            h.update(self._auth_header())
            if self.token:
                h["X-Transmission-Session-Id"] = self.token
            status, hdrs, data = self.request("POST", "/transmission/rpc", body, h,
                                              timeout=timeout)
            if status == 409:
                self.token = hdrs.get("x-transmission-session-id")
                check(self.token, "409 without an X-Transmission-Session-Id header")
                continue
            check(status == 200, "RPC %s: HTTP %d %r" % (method, status, data[:300]))
            ans = json.loads(data)
            check(isinstance(ans, dict) and isinstance(ans.get("result"), str),
                  "RPC %s answered without a result: %r" % (method, data[:300]))
            return ans
        fail("RPC %s: 409 twice in a row" % method)

    def ok(self, method, arguments=None, **kw):
        """An RPC call that must succeed; returns its arguments."""
        ans = self.rpc(method, arguments, **kw)
        if unknown_op(ans["result"]):
            raise T.TestSkip("tpd cannot do %s yet: %s" % (method, ans["result"]))
        check(ans["result"] == "success", "RPC %s %s: result %r"
              % (method, json.dumps(arguments)[:300], ans["result"]))
        return ans.get("arguments", {})

    def remote(self, *args, timeout=120):
        """Runs Debian's transmission-remote against this tpweb."""
        if not shutil.which("transmission-remote"):
            raise T.TestSkip("transmission-remote (transmission-cli) is not installed")
        cmd = ["transmission-remote", self.host]
        if self.auth:
            cmd += ["-n", "%s:%s" % self.auth]
        cmd += list(args)
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            fail("transmission-remote %s did not finish within %d s: %r %r"
                 % (" ".join(args), timeout, e.stdout, e.stderr))

    def remote_ok(self, *args, timeout=120):
        r = self.remote(*args, timeout=timeout)
        check(r.returncode == 0 and 'responded: "success"' in r.stdout,
              "transmission-remote %s: %s" % (" ".join(args), describe(r)))
        return r


def remote_list(web):
    """transmission-remote -l parsed: {id: (done column, name)}."""
    r = web.remote("-l")
    check(r.returncode == 0, "transmission-remote -l: " + describe(r))
    lines = r.stdout.splitlines()
    check(lines and "Name" in lines[0], "transmission-remote -l without a header: "
          + describe(r))
    name_at = lines[0].index("Name")
    rows = {}
    for line in lines[1:]:
        if line.startswith("Sum:"):
            continue
        m = re.match(r"\s*(\d+)\*?\s+(\S+)", line)
        check(m is not None, "transmission-remote -l row not understood: %r" % line)
        rows[int(m.group(1))] = (m.group(2), line[name_at:].strip())
    return rows
