// vidcurate viewer: browse a run's rows, filter with SQL, play clips. Data is only ever set as text (no innerHTML).
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 60;
const PROBE_FACTS = new Set(["duration_s", "fps", "num_frames", "width", "height", "start_s", "end_s"]);
const state = { status: "kept", where: "", sort: "", order: "asc", mode: "grid", offset: 0, total: 0, columns: [],
  filtered: [] };
const VIRTUAL = new Set(["name", "span"]); // table columns made from others: the file's name, the clip's span
let seq = 0; // drops answers to superseded requests

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 0.001 || a >= 1e6) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function basename(p) {
  if (!p) return "";
  const parts = String(p).split(/[\\/]/);
  return parts[parts.length - 1] || String(p);
}

function span(row) {
  const [a, b] = row.source_path ? [row.source_start_s, row.source_end_s] : [row.start_s, row.end_s];
  if (a == null && b == null) return "";
  return `${fmt(a ?? 0)}–${b == null ? "end" : fmt(b)} s${row.source_path ? " of the source" : ""}`;
}

function scoreColumns() {
  return state.columns.filter((c) => c.numeric && !PROBE_FACTS.has(c.name) && !c.name.startsWith("_") &&
    !["coded_width", "coded_height", "rotation", "sar", "aspect_ratio", "bit_rate", "size_bytes", "decoded_frames",
      "decode_errors", "start_frame", "end_frame", "answer_index", "source_start_s", "source_end_s",
      "source_start_frame", "source_end_frame"].includes(c.name)).map((c) => c.name);
}

function saveUrl() {
  const q = new URLSearchParams();
  if (state.status !== "kept") q.set("status", state.status);
  if (state.where) q.set("where", state.where);
  if (state.sort) { q.set("sort", state.sort); q.set("order", state.order); }
  if (state.mode !== "grid") q.set("mode", state.mode);
  const s = q.toString();
  history.replaceState(null, "", s ? `?${s}` : location.pathname);
}

function loadUrl() {
  const q = new URLSearchParams(location.search);
  state.status = ["kept", "rejected", "all"].includes(q.get("status")) ? q.get("status") : "kept";
  state.where = q.get("where") || "";
  state.sort = q.get("sort") || "";
  state.order = q.get("order") === "desc" ? "desc" : "asc";
  state.mode = q.get("mode") === "table" ? "table" : "grid";
}

function syncControls() {
  for (const b of $("status").querySelectorAll("button")) b.classList.toggle("on", b.dataset.v === state.status);
  for (const b of $("mode").querySelectorAll("button")) b.classList.toggle("on", b.dataset.v === state.mode);
  $("filter").value = state.where;
  $("sort").value = state.sort;
  $("order").textContent = state.order === "asc" ? "↑" : "↓";
}

function showError(text) {
  const m = $("msg");
  m.hidden = !text;
  m.textContent = text || "";
}

async function fetchJson(url) {
  const r = await fetch(url);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new Error((body && (body.error || body.detail)) || `${r.status} ${r.statusText}`);
  return body;
}

async function load(reset) {
  const my = ++seq;
  if (reset) state.offset = 0;
  const q = new URLSearchParams({ status: state.status, offset: state.offset, limit: PAGE, order: state.order });
  if (state.where) q.set("where", state.where);
  if (state.sort) q.set("sort", state.sort);
  saveUrl();
  let data;
  try {
    data = await fetchJson(`/api/rows?${q}`);
  } catch (e) {
    if (my !== seq) return;
    showError(`filter error: ${e.message}`);
    $("count").textContent = "no result";
    $("count").dataset.total = "error";
    if (reset) $("results").replaceChildren();
    $("more").hidden = true;
    return;
  }
  if (my !== seq) return;
  showError("");
  state.total = data.total;
  const shown = state.offset + data.rows.length;
  $("count").textContent = `${data.total.toLocaleString()} row${data.total === 1 ? "" : "s"}` +
    (data.total > shown ? ` · showing ${shown.toLocaleString()}` : "");
  $("count").dataset.total = String(data.total);
  render(data.rows, reset);
  state.offset = shown;
  $("more").hidden = shown >= data.total;
}

function render(rows, reset) {
  const box = $("results");
  if (reset) box.replaceChildren();
  if (reset && rows.length === 0) {
    box.append(el("div", "empty", "No rows match."));
    return;
  }
  if (state.mode === "grid") renderGrid(box, rows);
  else renderTable(box, rows, reset);
}

function thumbBox(row) {
  const t = el("div", "thumb");
  const img = new Image();
  img.loading = "lazy";
  img.alt = `frames of ${basename(row.path)}`;
  img.src = `/thumb/${encodeURIComponent(row.id)}`;
  img.addEventListener("error", () => {
    t.classList.add("none");
    t.replaceChildren(el("span", "", row.error ? "no frames (see error)" : "no frames"));
  });
  t.append(img);
  return t;
}

function renderGrid(box, rows) {
  let grid = box.querySelector(".grid");
  if (!grid) { grid = el("div", "grid"); box.append(grid); }
  const scores = scoreColumns();
  for (const row of rows) {
    const card = el("div", `card ${row._status}`);
    card.dataset.id = row.id;
    card.tabIndex = 0;
    card.append(thumbBox(row));
    const body = el("div", "cbody");
    const name = el("div", "cname", basename(row.source_path || row.path) || row.id);
    name.title = row.source_path ? `${row.path}\nclip of ${row.source_path}` : row.path || "";
    body.append(name);
    const facts = [span(row), row.duration_s != null ? `${fmt(row.duration_s)} s` : "",
      row.width && row.height ? `${row.width}×${row.height}` : "", row.fps ? `${fmt(row.fps)} fps` : "",
      row.codec || ""].filter(Boolean);
    if (facts.length) body.append(el("div", "cfacts", facts.join(" · ")));
    const sc = scores.filter((c) => typeof row[c] === "number").slice(0, 4);
    if (sc.length) {
      const d = el("div", "cscores");
      sc.forEach((c, i) => { if (i) d.append(" · "); d.append(`${c} `, el("b", "", fmt(row[c]))); });
      body.append(d);
    }
    if (row.caption) body.append(el("div", "ccap", row.caption));
    if (row.reject_reason) body.append(el("div", "cwhy", row.reject_reason));
    if (row.error) body.append(el("div", "cerr", row.error));
    card.append(body);
    card.addEventListener("click", () => openRow(row.id));
    card.addEventListener("keydown", (e) => { if (e.key === "Enter") openRow(row.id); });
    grid.append(card);
  }
}

// What identifies a row, then the scores the recipe filtered on, then other scores, then the rest.
function tableColumns() {
  const have = new Set(state.columns.map((c) => c.name));
  const first = ["_status", "name", "span", ...state.filtered, ...scoreColumns(), "caption", "reject_reason", "error"];
  const order = [...new Set(first)].filter((n) => VIRTUAL.has(n) || have.has(n));
  return order.concat(state.columns.map((c) => c.name).filter((n) => !order.includes(n) && !n.startsWith("__")));
}

function renderTable(box, rows, reset) {
  let wrap = box.querySelector(".tablewrap");
  const cols = tableColumns();
  const numeric = new Set(state.columns.filter((c) => c.numeric).map((c) => c.name));
  if (!wrap || reset) {
    wrap = el("div", "tablewrap");
    const table = el("table");
    const head = el("tr");
    head.append(el("th", "tthumb", ""));
    for (const c of cols) {
      const th = el("th", state.sort === c ? "sorted" : "", c + (state.sort === c ? (state.order === "asc" ? " ↑" : " ↓") : ""));
      if (state.filtered.includes(c)) th.classList.add("filtered");
      th.title = VIRTUAL.has(c) ? "" : `sort by ${c}${state.filtered.includes(c) ? " (the recipe filtered on it)" : ""}`;
      if (!VIRTUAL.has(c)) th.addEventListener("click", () => {
        if (state.sort === c) state.order = state.order === "asc" ? "desc" : "asc";
        else { state.sort = c; state.order = "asc"; }
        syncControls();
        load(true);
      });
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    table.append(thead, el("tbody"));
    wrap.append(table);
    box.replaceChildren(wrap);
  }
  const tbody = wrap.querySelector("tbody");
  for (const row of rows) {
    const tr = el("tr");
    tr.dataset.id = row.id;
    const cell = el("td", "tthumb");
    const img = new Image();
    img.loading = "lazy";
    img.alt = "";
    img.src = `/thumb/${encodeURIComponent(row.id)}`;
    img.addEventListener("error", () => img.remove());
    cell.append(img);
    tr.append(cell);
    for (const c of cols) {
      const v = row[c];
      let td;
      if (c === "_status") { td = el("td"); td.append(el("span", `badge ${v}`, v)); }
      else if (c === "name") { td = el("td", "", basename(row.source_path || row.path) || row.id); td.title = row.id; }
      else if (c === "span") td = el("td", "", span(row));
      else if (c === "path") { td = el("td", "", basename(v)); td.title = v || ""; }
      else if (c === "conversations" && Array.isArray(v)) td = el("td", "", `${v.length} turns`);
      else { td = el("td", numeric.has(c) ? "num" : "", fmt(v)); td.title = fmt(v); }
      tr.append(td);
    }
    tr.addEventListener("click", () => openRow(row.id));
    tbody.append(tr);
  }
}

// --- detail drawer ---------------------------------------------------------------------------------

function block(title, ...children) {
  const b = el("div", "block");
  b.append(el("h4", "", title), ...children);
  return b;
}

async function openRow(id) {
  let row;
  try {
    row = (await fetchJson(`/api/row/${encodeURIComponent(id)}`)).row;
  } catch (e) {
    showError(`cannot open row ${id}: ${e.message}`);
    return;
  }
  $("dtitle").textContent = basename(row.source_path || row.path) || row.id;
  $("dtitle").title = row.path || "";
  const v = $("player");
  const start = typeof row.start_s === "number" ? row.start_s : 0;
  const end = typeof row.end_s === "number" ? row.end_s : null;
  v.dataset.start = String(start);
  v.dataset.end = end == null ? "" : String(end);
  const frag = start > 0 || end != null ? `#t=${start}${end != null ? "," + end : ""}` : "";
  $("playnote").hidden = true;
  v.dataset.codec = [row.codec, row.container].filter(Boolean).join(" in ");
  v.src = `/media/${encodeURIComponent(row.id)}${frag}`;
  v.load();

  const body = $("dbody");
  body.replaceChildren();
  const head = el("div");
  head.append(el("span", `badge ${row._status}`, row._status), " ", el("span", "mono hint", row.id));
  if (span(row)) head.append(" · ", el("span", "hint", span(row)));
  body.append(head);
  if (row.reject_reason) body.append(block(`rejected${row.rejected_by ? " by " + row.rejected_by : ""}`, el("p", "whybox", row.reject_reason)));
  if (row.error) body.append(block(`error${row.error_kind ? " · " + row.error_kind : ""}`, el("p", "errbox", row.error)));
  if (row.caption) body.append(block("caption", el("p", "", row.caption)));
  if (Array.isArray(row.conversations) && row.conversations.length) {
    const qa = el("div", "qa");
    for (const t of row.conversations) {
      const who = (t && t.from) || "?";
      const turn = el("div", `turn ${who}`);
      turn.append(el("small", "", who), document.createTextNode((t && t.value) || ""));
      qa.append(turn);
    }
    body.append(block(`QA · ${row.conversations.length} turns`, qa));
  }
  if (row.query || row.answer) {
    const p = el("p");
    if (row.query) p.append(el("b", "", "Q: "), row.query, "\n");
    if (Array.isArray(row.options)) row.options.forEach((o, i) => p.append(`  ${String.fromCharCode(65 + i)}. ${o}\n`));
    if (row.answer) p.append(el("b", "", "A: "), row.answer);
    body.append(block("question", p));
  }
  const scores = scoreColumns().filter((c) => row[c] !== null && row[c] !== undefined);
  if (scores.length) body.append(block("scores", kv(row, scores)));
  const shown = new Set(["caption", "conversations", "error", "reject_reason", "_status", ...scores]);
  body.append(block("all columns", kv(row, Object.keys(row).filter((k) => !shown.has(k) && row[k] !== null))));
  $("detail").hidden = false;
  $("shade").hidden = false;
}

function kv(row, keys) {
  const dl = el("dl", "kv");
  for (const k of keys) dl.append(el("dt", "", k), el("dd", "", fmt(row[k])));
  return dl;
}

function closeDetail() {
  const v = $("player");
  v.pause();
  v.removeAttribute("src");
  v.load();
  $("detail").hidden = true;
  $("shade").hidden = true;
}

// --- wiring --------------------------------------------------------------------------------------------

function wire() {
  $("filterform").addEventListener("submit", (e) => {
    e.preventDefault();
    state.where = $("filter").value.trim();
    load(true);
  });
  $("filter").addEventListener("search", () => { if (!$("filter").value) { state.where = ""; load(true); } });
  for (const b of $("status").querySelectorAll("button")) {
    b.addEventListener("click", () => { state.status = b.dataset.v; syncControls(); load(true); });
  }
  for (const b of $("mode").querySelectorAll("button")) {
    b.addEventListener("click", () => { state.mode = b.dataset.v; syncControls(); load(true); });
  }
  $("sort").addEventListener("change", () => { state.sort = $("sort").value; load(true); });
  $("order").addEventListener("click", () => {
    state.order = state.order === "asc" ? "desc" : "asc";
    syncControls();
    if (state.sort) load(true);
  });
  $("more").addEventListener("click", () => load(false));
  $("close").addEventListener("click", closeDetail);
  $("shade").addEventListener("click", closeDetail);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("detail").hidden) closeDetail(); });
  const v = $("player");
  v.addEventListener("loadedmetadata", () => {
    const start = Number(v.dataset.start || 0);
    if (start > 0 && Math.abs(v.currentTime - start) > 0.05) v.currentTime = start; // when #t= is not honoured
  });
  v.addEventListener("error", () => {
    if (!v.getAttribute("src")) return;
    const what = v.dataset.codec ? ` (${v.dataset.codec})` : "";
    const note = $("playnote");
    note.textContent = v.error && v.error.code === 4
      ? `This browser cannot play this file${what}, or the file is missing or unreadable.`
      : `Playback failed${what}: ${(v.error && v.error.message) || "unknown error"}`;
    note.hidden = false;
  });
  v.addEventListener("timeupdate", () => { // where frame callbacks are missing: stop within ~0.25 s
    const end = v.dataset.end ? Number(v.dataset.end) : null;
    if (end != null && v.currentTime >= end && !v.paused) v.pause();
  });
  v.addEventListener("play", () => { // playing again at the end of the span starts the span over
    const end = v.dataset.end ? Number(v.dataset.end) : null;
    if (end != null && v.currentTime >= end - 0.05) v.currentTime = Number(v.dataset.start || 0);
  });
  watchEnd(v);
}

// Stop on the span's last frame: each presented frame's time (requestVideoFrameCallback) plus the
// frame interval says whether the next frame would already belong to the next shot.
function watchEnd(v) {
  if (!("requestVideoFrameCallback" in v)) return;
  let last = null;
  const onFrame = (_now, meta) => {
    const end = v.dataset.end ? Number(v.dataset.end) : null;
    const step = last != null && meta.mediaTime > last && meta.mediaTime - last < 0.5 ? meta.mediaTime - last : 0.04;
    last = meta.mediaTime;
    if (end != null && !v.paused && meta.mediaTime + step > end - 0.001) {
      v.pause();
      v.currentTime = meta.mediaTime; // hold the last frame of the span
    }
    v.requestVideoFrameCallback(onFrame);
  };
  v.requestVideoFrameCallback(onFrame);
}

async function init() {
  loadUrl();
  wire();
  let meta;
  try {
    meta = await fetchJson("/api/meta");
  } catch (e) {
    showError(`cannot read the run: ${e.message}`);
    return;
  }
  state.columns = meta.columns;
  state.filtered = meta.filtered || [];
  $("runname").textContent = meta.recipe ? `${meta.recipe} · ${meta.run}` : meta.run;
  document.title = `vidcurate · ${meta.run}`;
  $("n-kept").textContent = meta.counts.kept.toLocaleString();
  $("n-rejected").textContent = meta.counts.rejected.toLocaleString();
  const sel = $("sort");
  for (const c of meta.columns) if (!c.name.startsWith("_")) sel.append(new Option(c.name, c.name));
  const nums = [...new Set([...scoreColumns(), ...meta.columns.filter((c) => c.numeric && !c.name.startsWith("_"))
    .map((c) => c.name)])].slice(0, 4);
  $("hint").textContent = nums.length ? `columns include ${nums.join(", ")} … (filter is a SQL WHERE clause)` : "";
  syncControls();
  load(true);
}

init();
