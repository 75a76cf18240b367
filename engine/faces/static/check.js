const MAX_RECORDS = 500;
const form = document.getElementById("check-form");
const out = document.getElementById("results");
const statusBox = document.getElementById("status");
const fileInput = document.getElementById("file");
const fileNote = document.getElementById("file-note");
let uploaded = null;  // [{label, record} | {label, error}] from the chosen file
let judged = [];      // [{label, record, decision}]

function parseCSV(text) {  // RFC 4180: quoted cells, "" inside quotes, CRLF or LF; returns [[line, cells]]
  const rows = []; let row = [], cell = "", quoted = false, line = 1, i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') { if (text[i + 1] === '"') { cell += '"'; i++; } else quoted = false; }
      else { if (c === "\n") line++; cell += c; }
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell); rows.push([line, row]); row = []; cell = ""; line++;
    } else cell += c;
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push([line, row]); }
  return rows;
}
function parsePath(h) {  // admission.year, academic_years[0].term_start → ["admission","year"], [..., 0, ...]
  const parts = []; const re = /([^.\[\]]+)|\[(\d+)\]/g; let m, rebuilt = "";
  while ((m = re.exec(h)) !== null) {
    if (m[2] !== undefined) { parts.push(Number(m[2])); rebuilt += m[0]; }
    else { parts.push(m[1]); rebuilt += (rebuilt ? "." : "") + m[1]; }
  }
  if (!parts.length || rebuilt !== h || typeof parts[0] === "number") throw new Error("'" + h + "'");
  return parts;
}
function convert(cell, type) {  // as engine.tools.batch._convert: by the facts schema's type of the column
  if (cell === "null") return null;
  if (type === "list" && cell.trim() === "[]") return [];
  if (type === "int" && /^\s*[+-]?\d+\s*$/.test(cell)) return Number(cell.trim());
  if (type === "decimal") {  // an int where it is one, else a finite number (2.5), else the text
    if (/^\s*[+-]?\d+\s*$/.test(cell)) return Number(cell.trim());
    const n = Number(cell);
    if (cell.trim() !== "" && Number.isFinite(n)) return n;
  }
  if (type === "bool" && /^(true|false)$/i.test(cell)) return cell.toLowerCase() === "true";
  return cell;
}
function put(record, path, value) {
  let node = record;
  for (let k = 0; k < path.length - 1; k++) {
    const seg = path[k], empty = typeof path[k + 1] === "number" ? [] : {};
    if (node[seg] === undefined || node[seg] === null) node[seg] = empty;
    node = node[seg];
  }
  node[path[path.length - 1]] = value;
}
function fromCSV(text) {
  const rows = parseCSV(text);
  if (!rows.length) return [];
  const header = rows[0][1].map((h) => h.trim());
  const paths = header.map((h) => { try { return parsePath(h); } catch (e) { throw new Error(T("csv_error") + ": " + e.message); } });
  const types = paths.map((p) => X.types[p.map((s) => typeof s === "number" ? "[]" : s).join(".").replace(/\.\[\]/g, "[]")]);
  const items = [];
  for (const [line, cells] of rows.slice(1)) {
    if (!cells.some((c) => c.trim())) continue;
    const label = T("line") + " " + line;
    if (cells.length > header.length) { items.push({label, error: {title: T("csv_error"), detail: "more cells than header columns"}}); continue; }
    const record = {};
    cells.forEach((c, k) => { if (c !== "") put(record, paths[k], convert(c, types[k])); });
    for (const list of Object.values(record)) if (Array.isArray(list)) for (let k = 0; k < list.length; k++) if (list[k] === undefined) list[k] = null;
    items.push({label, record});
  }
  return items;
}
function fromJSONL(text) {
  const items = [];
  text.split(/\r?\n/).forEach((lineText, k) => {
    if (!lineText.trim()) return;
    const label = T("line") + " " + (k + 1);
    try { items.push({label, record: JSON.parse(lineText)}); }
    catch (e) { items.push({label, error: {title: T("bad_json"), detail: e.message}}); }
  });
  return items;
}
function fromJSON(text, label) {
  const value = JSON.parse(text);
  return Array.isArray(value) ? value.map((r, k) => ({label: "#" + (k + 1), record: r})) : [{label, record: value}];
}
fileInput.addEventListener("change", async () => {
  uploaded = null; fileNote.textContent = "";
  const file = fileInput.files[0];
  if (!file) return;
  const text = await file.text();
  try {
    const name = file.name.toLowerCase();
    uploaded = name.endsWith(".csv") ? fromCSV(text) : name.endsWith(".jsonl") || name.endsWith(".ndjson")
      ? fromJSONL(text) : fromJSON(text, file.name);
    fileNote.replaceChildren(uploaded.length + " " + T("records_loaded") + " " + file.name + " ",
      el("button", {type: "button", class: "plain", onclick: () => { uploaded = null; fileInput.value = ""; fileNote.textContent = ""; }}, T("clear_file")));
  } catch (e) {
    fileNote.replaceChildren(problemBox({title: T("csv_error"), detail: e.message}));
  }
});
function studentTable(rows) {
  const articles = [...new Set(rows.flatMap((r) => (r.decision ? r.decision.findings : []).map((f) => f.article)))].sort((a, b) => a - b);
  const worst = (dec, n) => {
    const os = dec.findings.filter((f) => f.article === n).map((f) => f.outcome);
    return X.outcomes.find((o) => os.includes(o)) || null;
  };
  const detail = el("div", {id: "detail"});
  const body = el("tbody", {});
  rows.forEach((r, k) => {
    const tr = el("tr", {"data-row": k, "data-student": r.decision ? (r.decision.id || "") : ""},
      el("th", {}, r.label), el("th", {class: "mono"}, r.decision ? (r.decision.id || "—") : "—"));
    if (r.decision) {
      for (const n of articles) { const o = worst(r.decision, n); tr.append(el("td", {"data-article": n}, badge(o))); }
    } else {
      tr.append(el("td", {colspan: articles.length || 1}, problemBox(r.problem, null)));
    }
    tr.addEventListener("click", () => {
      for (const x of body.querySelectorAll("tr.sel")) x.classList.remove("sel");
      tr.classList.add("sel");
      detail.replaceChildren(r.decision ? decisionView(r.decision, r.label) : problemBox(r.problem, r.label));
    });
    body.append(tr);
  });
  return el("div", {}, el("table", {class: "students"}, el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, T("student")),
    articles.map((n) => el("th", {}, articleLink(n))))), body), detail);
}
function download(name, type, text) {
  const a = el("a", {href: URL.createObjectURL(new Blob([text], {type})), download: name});
  document.body.append(a); a.click(); a.remove();
}
document.getElementById("download-json").addEventListener("click", () => {
  download("decisions.json", "application/json", JSON.stringify(judged.map((r) => r.decision), null, 2) + "\n");
});
document.getElementById("download-ics").addEventListener("click", async () => {
  statusBox.textContent = T("working");
  let head = null, events = [];
  try {
    for (const r of judged) {
      const ics = await api("/v1/deadlines", {record: r.record, on: r.decision.on_used || r.decision.on}, "text/calendar");
      const lines = ics.split(/\r?\n/);
      const first = lines.findIndex((x) => x === "BEGIN:VEVENT");
      if (head === null) head = lines.slice(0, first < 0 ? lines.indexOf("END:VCALENDAR") : first);
      let inside = false;
      for (const x of lines) {
        if (x === "BEGIN:VEVENT") inside = true;
        if (inside) events.push(x);
        if (x === "END:VEVENT") inside = false;
      }
    }
  } catch (p) { statusBox.replaceChildren(problemBox(p, null)); return; }
  statusBox.textContent = events.length ? "" : T("ics_none");
  download("deadlines.ics", "text/calendar", [...(head || ["BEGIN:VCALENDAR", "VERSION:2.0"]), ...events, "END:VCALENDAR", ""].join("\r\n"));
});
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  out.replaceChildren(); judged = [];
  document.getElementById("downloads").hidden = true;
  let items;
  if (uploaded) items = uploaded;
  else {
    const text = document.getElementById("record").value.trim();
    if (!text) { statusBox.textContent = T("no_record"); return; }
    try { items = fromJSON(text, ""); } catch (e) { out.append(problemBox({title: T("bad_json"), detail: e.message})); return; }
  }
  if (items.length > MAX_RECORDS) { statusBox.textContent = items.length + " " + T("too_many") + " " + MAX_RECORDS; items = items.slice(0, MAX_RECORDS); }
  else statusBox.textContent = T("working");
  const on = document.getElementById("on").value || undefined;
  const explain = document.getElementById("explain").checked;
  const rows = [];
  for (const item of items) {
    if (item.error) { rows.push({label: item.label, problem: item.error}); continue; }
    try {
      const decision = await api("/v1/evaluate", {record: item.record, on, explain});
      rows.push({label: item.label, record: item.record, decision});
      judged.push({label: item.label, record: item.record, decision});
    } catch (p) { rows.push({label: item.label, problem: p}); }
  }
  if (!items.length) statusBox.textContent = T("no_record"); else if (statusBox.textContent === T("working")) statusBox.textContent = "";
  if (rows.length === 1) out.append(rows[0].decision ? decisionView(rows[0].decision, "") : problemBox(rows[0].problem, null));
  else out.append(studentTable(rows));
  document.getElementById("downloads").hidden = judged.length === 0;
});
