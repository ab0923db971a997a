/*
 * app.js - tpweb's page.  The list lives in `torrents` (tpd status objects
 * by id), fed by /events (each message one tpd event: StatusUpdate,
 * Closed, Watching); every action is a Transmission RPC call to
 * /transmission/rpc with the session token from /token.  Text from tpd is
 * only ever set as textContent, never parsed as HTML.
 */
"use strict";

const torrents = new Map();
let token = null;
let selected = null;      // id shown in the details panel
let tab = "files";
let renderQueued = false;
let removing = null;      // id the remove dialog asks about

const $ = (id) => document.getElementById(id);

function say(text, isError) {
  const m = $("message");
  m.textContent = text || "";
  m.className = isError ? "error" : "";
}

/* ---- RPC ------------------------------------------------------------ */

async function getToken() {
  const r = await fetch("/token", { cache: "no-store" });
  if (!r.ok) throw new Error("tpweb refused the session token: HTTP " + r.status);
  token = (await r.json()).token;
}

async function rpc(method, args) {
  if (!token) await getToken();
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await fetch("/transmission/rpc", {
      method: "POST",
      headers: { "Content-Type": "application/json",
                 "X-Transmission-Session-Id": token },
      body: JSON.stringify({ method: method, arguments: args || {} }),
    });
    if (r.status === 409) {  // tpweb restarted: a new token
      token = r.headers.get("X-Transmission-Session-Id");
      continue;
    }
    if (!r.ok) throw new Error("HTTP " + r.status + " from tpweb");
    const j = await r.json();
    if (j.result !== "success") throw new Error(j.result);
    return j.arguments || {};
  }
  throw new Error("tpweb kept refusing the session token");
}

/* Runs an action, showing its outcome; returns its answer or null. */
async function act(what, method, args) {
  try {
    const a = await rpc(method, args);
    say(what + ": done");
    return a;
  } catch (e) {
    say(what + " failed: " + e.message, true);
    return null;
  }
}

/* ---- formatting ------------------------------------------------------ */

function rate(b) {
  if (!b) return "0 kB/s";
  if (b < 1e6) return (b / 1e3).toFixed(1) + " kB/s";
  return (b / 1e6).toFixed(2) + " MB/s";
}

function size(b) {
  if (b < 1e3) return b + " B";
  if (b < 1e6) return (b / 1e3).toFixed(1) + " kB";
  if (b < 1e9) return (b / 1e6).toFixed(1) + " MB";
  return (b / 1e9).toFixed(2) + " GB";
}

/* One word for the filters and the row's state. */
function stateOf(t) {
  if (t.state === "error") return "error";
  if (t.paused) return "paused";
  if (t.state && t.state.startsWith("checking")) return "checking";
  if (t.state === "seeding" || t.state === "finished") return "seeding";
  return "downloading";
}

const STATE_TEXT = {
  error: "Error", paused: "Paused", checking: "Checking",
  seeding: "Seeding", downloading: "Downloading",
};

function ratioText(t) {
  if (typeof t.ratio === "number") return t.ratio.toFixed(2);
  return "–";
}

/* ---- the list -------------------------------------------------------- */

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(text, action, id) {
  const b = el("button", "act", text);
  b.type = "button";
  b.dataset.action = action;
  b.dataset.id = id;
  return b;
}

/* The row of torrent t, made once and updated in place (focus stays). */
function rowFor(t) {
  let li = document.querySelector('#list li[data-id="' + t.id + '"]');
  if (li) return li;
  li = el("li", "torrent");
  li.dataset.id = t.id;
  const head = el("div", "head");
  head.append(el("span", "name"), el("span", "state"));
  const bar = el("progress", "bar");
  bar.max = 1;
  const info = el("div", "info");
  info.append(el("span", "pct"), el("span", "rates"), el("span", "ratio"),
              el("span", "labels"));
  const acts = el("div", "acts");
  acts.append(button("Pause", "toggle", t.id), button("Details", "details", t.id),
              button("Remove", "remove", t.id));
  li.append(head, bar, info, acts);
  $("list").append(li);
  return li;
}

function updateRow(li, t) {
  const st = stateOf(t);
  const pct = Math.floor((t.progress || 0) * 1000) / 10;
  li.querySelector(".name").textContent = t.name;
  li.querySelector(".state").textContent =
    STATE_TEXT[st] + (t.queued ? " (queued)" : "");
  li.dataset.state = st;
  const bar = li.querySelector(".bar");
  bar.value = t.progress || 0;
  bar.setAttribute("aria-label", t.name + ": " + pct + "%");
  li.querySelector(".pct").textContent = pct + "%" +
    (t.total_bytes ? " of " + size(t.total_bytes) : "");
  li.querySelector(".rates").textContent =
    "↓ " + rate(t.down_rate) + "  ↑ " + rate(t.up_rate);
  li.querySelector(".ratio").textContent = "ratio " + ratioText(t);
  li.querySelector(".labels").textContent = (t.labels || []).join(", ");
  const tog = li.querySelector('[data-action="toggle"]');
  tog.textContent = t.paused ? "Resume" : "Pause";
  tog.dataset.paused = t.paused ? "1" : "0";
  if (t.error) li.title = t.error; else li.removeAttribute("title");
}

function visible(t) {
  const want = $("filter-state").value;
  const label = $("filter-label").value;
  const text = $("filter-text").value.trim().toLowerCase();
  if (want !== "all" && stateOf(t) !== want) return false;
  if (label && !(t.labels || []).includes(label)) return false;
  if (text && !t.name.toLowerCase().includes(text)) return false;
  return true;
}

function refreshLabels() {
  const sel = $("filter-label");
  const have = new Set();
  torrents.forEach((t) => (t.labels || []).forEach((l) => have.add(l)));
  const shown = new Set([...sel.options].map((o) => o.value).filter((v) => v));
  if (have.size === shown.size && [...have].every((l) => shown.has(l))) return;
  const cur = sel.value;
  sel.replaceChildren(el("option", "", "All"));
  sel.options[0].value = "";
  [...have].sort().forEach((l) => {
    const o = el("option", "", l);
    o.value = l;
    sel.append(o);
  });
  sel.value = have.has(cur) ? cur : "";
}

function render() {
  renderQueued = false;
  let down = 0, up = 0, shown = 0;
  document.querySelectorAll("#list li").forEach((li) => {
    if (!torrents.has(Number(li.dataset.id))) li.remove();
  });
  [...torrents.values()].sort((a, b) => a.id - b.id).forEach((t) => {
    down += t.down_rate || 0;
    up += t.up_rate || 0;
    const li = rowFor(t);
    updateRow(li, t);
    li.hidden = !visible(t);
    if (!li.hidden) shown++;
  });
  $("empty").hidden = shown > 0;
  $("totals").textContent = torrents.size +
    (torrents.size === 1 ? " torrent  ↓ " : " torrents  ↓ ") + rate(down) +
    "  ↑ " + rate(up);
  refreshLabels();
  if (selected !== null && !torrents.has(selected)) closeDetails();
}

function queueRender() {
  if (!renderQueued) {
    renderQueued = true;
    requestAnimationFrame(render);
  }
}

/* ---- the feed -------------------------------------------------------- */

function feed() {
  const es = new EventSource("/events");
  es.onopen = () => {
    $("feed").textContent = "live";
    $("feed").dataset.state = "live";
  };
  es.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    if (ev.type === "StatusUpdate" || ev.type === "Status") {
      torrents.set(ev.id, ev);
    } else if (ev.type === "Closed") {
      torrents.delete(ev.id);
    } else if (ev.type === "Watching" && Array.isArray(ev.ids)) {
      // After a reconnection: forget torrents closed meanwhile.
      const ids = new Set(ev.ids);
      [...torrents.keys()].forEach((id) => { if (!ids.has(id)) torrents.delete(id); });
    }
    queueRender();
  };
  es.onerror = () => {
    $("feed").textContent = "reconnecting…";
    $("feed").dataset.state = "reconnecting";
  };
}

/* ---- adding ---------------------------------------------------------- */

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
    r.onerror = () => reject(new Error("cannot read " + file.name));
    r.readAsDataURL(file);
  });
}

async function onAdd(e) {
  e.preventDefault();
  const src = $("add-source").value.trim();
  const file = $("add-file").files[0];
  const args = {};
  if (file) {
    try { args.metainfo = await readBase64(file); } catch (err) {
      say(err.message, true);
      return;
    }
  } else if (src) {
    args.filename = src;
  } else {
    say("Give a magnet link, a URL or a .torrent file.", true);
    $("add-source").focus();
    return;
  }
  const dir = $("add-dir").value.trim();
  if (dir) args["download-dir"] = dir;
  const labels = $("add-labels").value.split(",").map((s) => s.trim()).filter((s) => s);
  if (labels.length) args.labels = labels;
  if ($("add-paused").checked) args.paused = true;
  const a = await act("Add", "torrent-add", args);
  if (!a) return;
  const t = a["torrent-added"] || a["torrent-duplicate"];
  say((a["torrent-duplicate"] ? "Already there: " : "Added: ") +
      (t ? t.name + " (" + t.id + ")" : ""));
  // Options apply to one add: folded away, they must not linger unseen.
  $("add-form").reset();
  document.querySelector("#add details").open = false;
}

/* ---- row actions ----------------------------------------------------- */

function onListClick(e) {
  const b = e.target.closest("button[data-action]");
  if (!b) return;
  const id = Number(b.dataset.id);
  const t = torrents.get(id);
  if (!t) return;
  if (b.dataset.action === "toggle") {
    act(t.paused ? "Resume" : "Pause", t.paused ? "torrent-start" : "torrent-stop",
        { ids: [id] });
  } else if (b.dataset.action === "details") {
    openDetails(id);
  } else if (b.dataset.action === "remove") {
    removing = id;
    $("remove-name").textContent = t.name;
    $("remove-dialog").showModal();
  }
}

function onRemoveClose() {
  const v = $("remove-dialog").returnValue;
  const id = removing;
  removing = null;
  if (id === null || (v !== "keep" && v !== "delete")) return;
  act("Remove", "torrent-remove", { ids: [id], "delete-local-data": v === "delete" });
}

/* ---- details --------------------------------------------------------- */

const PRIO = [["-1", "Low"], ["0", "Normal"], ["1", "High"]];

function table(head, rows) {
  const t = el("table");
  const tr = el("tr");
  head.forEach((h) => tr.append(el("th", "", h)));
  const thead = el("thead");
  thead.append(tr);
  const tb = el("tbody");
  rows.forEach((r) => tb.append(r));
  t.append(thead, tb);
  return t;
}

function filesPanel(id, a) {
  if (!a.files || !a.fileStats) {
    return el("p", "note", "tpd does not report files yet (no `files` op).");
  }
  const rows = a.files.map((f, i) => {
    const tr = el("tr");
    const want = el("input");
    want.type = "checkbox";
    want.checked = a.fileStats[i].wanted;
    want.setAttribute("aria-label", "download " + f.name);
    want.dataset.file = i;
    want.addEventListener("change", () =>
      act(want.checked ? "Get file" : "Skip file", "torrent-set",
          { ids: [id], [want.checked ? "files-wanted" : "files-unwanted"]: [i] })
        .then(() => openDetails(id)));
    const sel = el("select");
    sel.setAttribute("aria-label", "priority of " + f.name);
    PRIO.forEach(([v, n]) => { const o = el("option", "", n); o.value = v; sel.append(o); });
    sel.value = String(a.fileStats[i].priority);
    sel.addEventListener("change", () => {
      const key = { "-1": "priority-low", "0": "priority-normal", "1": "priority-high" }[sel.value];
      act("Priority", "torrent-set", { ids: [id], [key]: [i] });
    });
    const c1 = el("td"); c1.append(want);
    const c4 = el("td"); c4.append(sel);
    const pct = f.length ? Math.floor(1000 * f.bytesCompleted / f.length) / 10 : 100;
    tr.append(c1, el("td", "", f.name), el("td", "", size(f.length)),
              el("td", "", pct + "%"), c4);
    return tr;
  });
  return table(["Get", "File", "Size", "Done", "Priority"], rows);
}

function peersPanel(a) {
  if (!a.peers) return el("p", "note", "tpd does not report peers yet (no `peers` op).");
  if (!a.peers.length) return el("p", "note", "No peers connected.");
  return table(["Address", "Client", "Down", "Up", "Has"], a.peers.map((p) => {
    const tr = el("tr");
    tr.append(el("td", "", p.address + ":" + p.port), el("td", "", p.clientName),
              el("td", "", rate(p.rateToClient)), el("td", "", rate(p.rateToPeer)),
              el("td", "", Math.floor(p.progress * 100) + "%"));
    return tr;
  }));
}

function trackersPanel(a) {
  if (!a.trackerStats) {
    return el("p", "note", "tpd does not report trackers yet (no `trackers` op).");
  }
  return table(["Tier", "URL", "Seeders", "Leechers", "Message"], a.trackerStats.map((t) => {
    const tr = el("tr");
    tr.append(el("td", "", String(t.tier)), el("td", "", t.announce),
              el("td", "", String(t.seederCount)), el("td", "", String(t.leecherCount)),
              el("td", "", t.lastAnnounceResult));
    return tr;
  }));
}

async function openDetails(id) {
  selected = id;
  const t = torrents.get(id);
  if ($("details").hidden) {
    $("details").hidden = false;
    $("details").scrollIntoView({ block: "nearest" });
  }
  $("details-title").textContent = "Details: " + (t ? t.name : id);
  let a;
  try {
    a = await rpc("torrent-get", { ids: [id], fields: ["id", "files", "fileStats",
      "peers", "trackerStats", "downloadLimit", "uploadLimit", "downloadLimited",
      "uploadLimited"] });
  } catch (e) {
    say("Details failed: " + e.message, true);
    return;
  }
  if (selected !== id) return;
  const d = (a.torrents || [])[0] || {};
  const panel = $("panel");
  panel.dataset.id = id;
  panel.replaceChildren(tab === "files" ? filesPanel(id, d)
                        : tab === "peers" ? peersPanel(d) : trackersPanel(d));
  $("t-down").value = d.downloadLimited ? d.downloadLimit : 0;
  $("t-up").value = d.uploadLimited ? d.uploadLimit : 0;
}

function closeDetails() {
  selected = null;
  $("details").hidden = true;
}

function onTab(e) {
  const b = e.target.closest("[data-tab]");
  if (!b) return;
  tab = b.dataset.tab;
  document.querySelectorAll("[role=tab]").forEach((x) =>
    x.setAttribute("aria-selected", String(x === b)));
  if (selected !== null) openDetails(selected);
}

async function onTorrentLimits(e) {
  e.preventDefault();
  if (selected === null) return;
  const down = Number($("t-down").value) || 0, up = Number($("t-up").value) || 0;
  await act("Torrent limits", "torrent-set", { ids: [selected],
    downloadLimit: down, downloadLimited: down > 0, uploadLimit: up, uploadLimited: up > 0 });
}

/* ---- session limits -------------------------------------------------- */

let altSpeed = false;

async function loadSession() {
  let s;
  try { s = await rpc("session-get"); } catch (e) {
    say("Cannot read the session: " + e.message, true);
    return;
  }
  if (!("speed-limit-down" in s)) {
    $("limits-note").textContent =
      "tpd does not report its limits yet (no `session_get` op).";
    return;
  }
  $("limits-note").textContent = "";
  $("lim-down").value = s["speed-limit-down-enabled"] ? s["speed-limit-down"] : 0;
  $("lim-up").value = s["speed-limit-up-enabled"] ? s["speed-limit-up"] : 0;
  altSpeed = !!s["alt-speed-enabled"];
  showAlt();
}

function showAlt() {
  const b = $("alt-speed");
  b.setAttribute("aria-pressed", String(altSpeed));
  b.textContent = "Alternative speed: " + (altSpeed ? "on" : "off");
}

async function onLimits(e) {
  e.preventDefault();
  const down = Number($("lim-down").value) || 0, up = Number($("lim-up").value) || 0;
  if (await act("Limits", "session-set", { "speed-limit-down": down,
      "speed-limit-down-enabled": down > 0, "speed-limit-up": up,
      "speed-limit-up-enabled": up > 0 })) loadSession();
}

async function onAlt() {
  if (await act("Alternative speed", "session-set", { "alt-speed-enabled": !altSpeed })) {
    altSpeed = !altSpeed;
    showAlt();
  }
}

/* ---- start ----------------------------------------------------------- */

document.addEventListener("DOMContentLoaded", () => {
  $("add-form").addEventListener("submit", onAdd);
  $("list").addEventListener("click", onListClick);
  $("remove-dialog").addEventListener("close", onRemoveClose);
  $("details").addEventListener("click", onTab);
  $("details-close").addEventListener("click", closeDetails);
  $("torrent-limits").addEventListener("submit", onTorrentLimits);
  $("limits-form").addEventListener("submit", onLimits);
  $("alt-speed").addEventListener("click", onAlt);
  ["filter-state", "filter-label", "filter-text"].forEach((id) => {
    $(id).addEventListener("input", render);
    $(id).addEventListener("change", render);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && selected !== null && !$("remove-dialog").open) closeDetails();
  });
  feed();
  loadSession();
});
