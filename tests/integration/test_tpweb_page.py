"""test_tpweb_page - tpweb's page in a real browser (headless Chromium
through Selenium), against a real tpd and a real aria2c seeder.

Through the page's form: a magnet and an uploaded .torrent are added; the
.torrent's progress bar reaches 100 % as tpd downloads it from aria2c; the
torrent is paused, resumed, and removed with its data after the
confirmation dialog.  Each step is checked against tpd's own answers.  The
browser console shows no error and no request leaves for another host.
The page at 100 % is saved as web/screenshots/tpweb.png (the README's screenshot).
Skipping a file and setting a limit need tpd's `files`, `set` and
`session_set` (SPEC section 8): that test skips while tpd lacks them.
"""

import json
import os
import sys
import tempfile

# Debian's python3-selenium is installed for Debian's python3; another
# python3 first on PATH (pyenv, a venv) does not see it: run under Debian's.
DEBIAN_PY = "/usr/bin/python3"
try:
    import selenium  # noqa: F401
except ImportError:
    if (os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PY)
            and os.access(DEBIAN_PY, os.X_OK)
            and os.environ.get("TPWEB_PAGE_REEXEC") != "1"):
        os.environ["TPWEB_PAGE_REEXEC"] = "1"
        os.execv(DEBIAN_PY, [DEBIAN_PY, "-u"] + sys.argv)

import seedutil as U
import tpdtest as T
import webutil as W
from tpdtest import check, check_eq, fail, test

SCREENSHOT = os.path.join(T.REPO, "web", "screenshots", "tpweb.png")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _browser(env):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise T.TestSkip("python3-selenium is not installed")
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not os.access(exe, os.X_OK):
            raise T.TestSkip("%s is not installed (chromium, chromium-driver)" % exe)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium.", dir=env.dir)
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--disable-default-apps", "--disable-extensions",
              "--user-data-dir=" + profile, "--window-size=1280,900"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    log = os.path.join(env.logs, "chromedriver.log")
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=log), options=opts)
    drv.set_page_load_timeout(60)
    return drv


def _tpd_list(d):
    with d.patron() as p:
        return {t["id"]: t for t in p.list()}


def _row(drv, tid):
    from selenium.webdriver.common.by import By
    rows = drv.find_elements(By.CSS_SELECTOR, '#list li[data-id="%d"]' % tid)
    return rows[0] if rows else None


def _row_state(drv, tid):
    r = _row(drv, tid)
    return r.get_attribute("data-state") if r is not None and r.is_displayed() else None


def _bar(drv, tid):
    from selenium.webdriver.common.by import By
    r = _row(drv, tid)
    if r is None:
        return None
    return float(r.find_element(By.CSS_SELECTOR, "progress.bar").get_attribute("value"))


def _click(drv, tid, action):
    from selenium.webdriver.common.by import By
    _row(drv, tid).find_element(By.CSS_SELECTOR, '[data-action="%s"]' % action).click()


def _check_console_and_hosts(drv, web):
    errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
    check(not errors, "the browser console shows errors: %s" % errors)
    origin = web.url("")
    foreign = []
    for e in drv.get_log("performance"):
        msg = json.loads(e["message"])["message"]
        if msg.get("method") != "Network.requestWillBeSent":
            continue
        url = msg["params"]["request"]["url"]
        # chrome:// and data: are the browser's own (its first blank tab).
        if url.split(":", 1)[0].lower() in ("http", "https", "ws", "wss", "ftp") \
                and not url.startswith(origin + "/"):
            foreign.append(url)
    check(not foreign, "the page requested other hosts: %s" % foreign)


def _add_through_form(drv, source=None, upload=None, directory=None, labels=None):
    from selenium.webdriver.common.by import By
    if labels is not None:
        drv.find_element(By.CSS_SELECTOR, "#add details summary").click()
        drv.find_element(By.ID, "add-labels").send_keys(labels)
        if directory is not None:
            f = drv.find_element(By.ID, "add-dir")
            f.clear()
            f.send_keys(directory)
            directory = None
    if source is not None:
        f = drv.find_element(By.ID, "add-source")
        f.clear()
        f.send_keys(source)
    if upload is not None:
        drv.find_element(By.ID, "add-file").send_keys(upload)
    if directory is not None:
        drv.find_element(By.CSS_SELECTOR, "#add details summary").click()
        f = drv.find_element(By.ID, "add-dir")
        f.clear()
        f.send_keys(directory)
    drv.find_element(By.ID, "add-submit").click()


def _id_of(d, ih, what):
    return T.wait_until(lambda: next((t["id"] for t in _tpd_list(d).values()
                                      if t["info_hash"] == ih), None),
                        30, "tpd to hold %s" % what)


@test
def test_page_add_download_pause_resume_remove(env):
    tracker = env.start_tracker()
    src = env.mkdir("src")
    data = os.path.join(src, "page-payload.bin")
    T.write_random_file(data, 16 * T.MIB)
    torrent = env.path("page-payload.torrent")
    ih = env.mktorrent(data, torrent, tracker.announce, 16)
    tracker.allow(ih)
    d = env.start_daemon()
    env.aria2_seed(torrent, src)
    tracker.wait_seeders(ih, 1, timeout=120)
    web = W.Web(env, d)
    drv = _browser(env)
    try:
        drv.get(web.url("/"))
        T.wait_until(lambda: drv.find_element("id", "feed").get_attribute("data-state")
                     == "live", 30, "the page's feed to be live")

        # The magnet is added from the keyboard: type it, press Enter.
        from selenium.webdriver.common.keys import Keys
        magnet_ih = os.urandom(20).hex()
        f = drv.find_element("id", "add-source")
        f.send_keys("magnet:?xt=urn:btih:%s&dn=page-magnet" % magnet_ih)
        f.send_keys(Keys.ENTER)
        mid = _id_of(d, magnet_ih, "the magnet added through the page")
        T.wait_until(lambda: _row(drv, mid) is not None and "page-magnet" in _row(drv, mid).text,
                     30, "the magnet's row on the page")

        dl = env.mkdir("dl")
        _add_through_form(drv, source="", upload=torrent, directory=dl)
        tid = _id_of(d, ih, "the .torrent uploaded through the page")
        check_eq(_tpd_list(d)[tid]["save_path"], dl, "save_path of the uploaded torrent")
        T.wait_until(lambda: _bar(drv, tid) == 1.0, 180,
                     "the page's progress bar to reach 100%", interval=0.2)
        check_eq(_tpd_list(d)[tid]["progress"], 1, "tpd's progress when the bar is full")
        T.wait_until(lambda: _row_state(drv, tid) == "seeding", 30, "the row to say seeding")
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        drv.save_screenshot(SCREENSHOT)

        _click(drv, tid, "toggle")
        T.wait_until(lambda: _tpd_list(d)[tid]["paused"], 20, "tpd to pause the torrent")
        T.wait_until(lambda: _row_state(drv, tid) == "paused", 20, "the row to say paused")
        # Resume from the keyboard: Tab from the row's name area, Enter.
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        tog = _row(drv, tid).find_element(By.CSS_SELECTOR, '[data-action="toggle"]')
        drv.execute_script("arguments[0].focus()", tog)
        drv.switch_to.active_element.send_keys(Keys.ENTER)
        T.wait_until(lambda: not _tpd_list(d)[tid]["paused"], 20, "tpd to resume it")
        T.wait_until(lambda: _row_state(drv, tid) == "seeding", 20, "the row to say seeding")

        # Filters: only the paused ones, then all again.
        from selenium.webdriver.support.ui import Select
        Select(drv.find_element("id", "filter-state")).select_by_value("seeding")
        try:
            T.wait_until(lambda: _row_state(drv, tid) == "seeding" and
                         not _row(drv, mid).is_displayed(), 10, "the seeding filter")
        except T.TestFailure as e:
            fail("%s; the list shows %r" % (e, drv.find_element("id", "list").text))
        Select(drv.find_element("id", "filter-state")).select_by_value("all")

        # Remove with the data, after the confirmation dialog.
        _click(drv, tid, "remove")
        T.wait_until(lambda: drv.find_element("id", "remove-dialog").get_attribute("open")
                     is not None, 10, "the confirmation dialog")
        check(tid in _tpd_list(d), "the torrent went before the confirmation")
        drv.find_element("id", "remove-delete").click()
        T.wait_until(lambda: tid not in _tpd_list(d), 30, "tpd to close the torrent")
        T.wait_until(lambda: not os.path.exists(os.path.join(dl, "page-payload.bin")), 30,
                     "the data to be deleted")
        T.wait_until(lambda: _row(drv, tid) is None, 20, "the row to go")
        check(_row(drv, mid) is not None, "the magnet's row went too")
        _check_console_and_hosts(drv, web)
    finally:
        drv.quit()


@test
def test_page_on_a_phone(env):
    """At a phone's width the page needs no sideways scrolling and every
    control stays reachable; saved as web/screenshots/tpweb-phone.png."""
    d = env.start_daemon()
    with d.patron() as p:
        p.expect("create", "NewTorrentCreated",
                 magnet="magnet:?xt=urn:btih:%s&dn=%s" % (os.urandom(20).hex(),
                                                          "a-rather-long-torrent-name." * 3))
    web = W.Web(env, d)
    drv = _browser(env)
    try:
        drv.set_window_size(390, 844)
        drv.get(web.url("/"))
        T.wait_until(lambda: drv.find_elements("css selector", "#list li"), 30,
                     "the torrent's row")
        wide = drv.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        check(wide[0] <= wide[1], "the page scrolls sideways on a phone: %s" % wide)
        for b in drv.find_elements("css selector", "#list button"):
            check(b.size["height"] >= 30, "a button too small to tap: %s" % b.size)
        drv.save_screenshot(os.path.join(os.path.dirname(SCREENSHOT), "tpweb-phone.png"))
        _check_console_and_hosts(drv, web)
    finally:
        drv.quit()


@test
def test_page_labels_skip_file_limits_alt_speed(env):
    d = env.start_daemon()
    with d.patron() as p:
        for op, fields in (("files", {"id": 1}), ("set", {"id": 1}),
                           ("session_get", {})):
            ev = p.call(op, **fields)
            if ev.get("type") == "Error" and ev.get("code") == "unknown_op":
                raise T.TestSkip("tpd has no `%s` op yet" % op)
    from selenium.webdriver.common.by import By
    port = U.closed_port()
    tb = T.make_torrent_bytes("skip-me.bin", os.urandom(40000),
                              announce="http://127.0.0.1:%d/a" % port)
    path = env.path("skip-me.torrent")
    with open(path, "wb") as f:
        f.write(tb)
    web = W.Web(env, d)
    drv = _browser(env)
    try:
        drv.get(web.url("/"))
        T.wait_until(lambda: drv.find_element("id", "feed").get_attribute("data-state")
                     == "live", 30, "the feed")
        _add_through_form(drv, upload=path, labels="tv, hd")
        tid = _id_of(d, T.info_hash(tb), "the uploaded torrent")
        check_eq(_tpd_list(d)[tid].get("labels"), ["tv", "hd"], "labels in tpd")
        T.wait_until(lambda: _row(drv, tid) is not None, 30, "its row")
        T.wait_until(lambda: "tv, hd" in _row(drv, tid).text, 20, "the labels on the row")
        other = os.urandom(20).hex()
        _add_through_form(drv, source="magnet:?xt=urn:btih:%s&dn=unlabelled" % other)
        mid = _id_of(d, other, "the magnet")
        T.wait_until(lambda: _row(drv, mid) is not None, 30, "the magnet's row")
        # The label filter offers tpd's labels and keeps only that label's rows.
        from selenium.webdriver.support.ui import Select
        sel = Select(drv.find_element(By.ID, "filter-label"))
        T.wait_until(lambda: sorted(o.get_attribute("value") for o in sel.options)
                     == ["", "hd", "tv"], 20, "the label filter's options")
        sel.select_by_value("tv")
        try:
            T.wait_until(lambda: _row(drv, tid).is_displayed()
                         and not _row(drv, mid).is_displayed(),
                         10, "the label filter to hide the unlabelled torrent")
        except T.TestFailure as e:
            fail("%s; filter %r, rows %r" % (e, sel.first_selected_option.get_attribute(
                "value"), drv.execute_script(
                "return [...document.querySelectorAll('#list li')].map("
                "l => [l.dataset.id, l.hidden, l.textContent])")))
        sel.select_by_value("")
        _click(drv, tid, "details")
        box = T.wait_until(lambda: drv.find_elements(By.CSS_SELECTOR,
                           '#panel input[data-file="0"]'), 30, "the files panel")
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", box[0])
        box[0].click()
        with d.patron() as p:
            T.wait_until(lambda: p.expect("files", "Files", id=tid)["files"][0]["priority"]
                         == 0, 20, "tpd to skip the file")
        # The other panels: the torrent's tracker, and no peers.
        drv.find_element(By.ID, "tab-trackers").click()
        T.wait_until(lambda: "http://127.0.0.1:%d/a" % port in
                     drv.find_element(By.ID, "panel").text, 20, "the trackers panel")
        drv.find_element(By.ID, "tab-peers").click()
        T.wait_until(lambda: "No peers" in drv.find_element(By.ID, "panel").text, 20,
                     "the peers panel")
        f = drv.find_element(By.ID, "lim-down")
        f.clear()
        f.send_keys("250")
        b = drv.find_element(By.CSS_SELECTOR, "#limits-form button[type=submit]")
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", b)
        b.click()
        with d.patron() as p:
            T.wait_until(lambda: p.expect("session_get", "Session")["download_limit"]
                         == 250000, 20, "tpd's download limit to be 250 kB/s")
        alt = drv.find_element(By.ID, "alt-speed")
        check_eq(alt.get_attribute("aria-pressed"), "false", "the alt-speed switch at first")
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", alt)
        alt.click()
        with d.patron() as p:
            T.wait_until(lambda: p.expect("session_get", "Session")["alt_speed"] is True,
                         20, "tpd's alt speed to be on")
        T.wait_until(lambda: alt.get_attribute("aria-pressed") == "true", 10,
                     "the switch to show on")
        _check_console_and_hosts(drv, web)
    finally:
        drv.quit()


T.main()
