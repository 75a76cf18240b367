const select = document.getElementById("policy-file");
const editor = document.getElementById("policy-text");
const recordBox = document.getElementById("record");
const where = document.getElementById("cursor");
const diagBox = document.getElementById("diagnostics");
const decisionBox = document.getElementById("decision");
const statusBox = document.getElementById("status");
const texts = Object.assign({}, X.files);
let current = select.value;
editor.value = texts[current] || "";
select.addEventListener("change", () => { texts[current] = editor.value; current = select.value; editor.value = texts[current]; });
function cursor() {
  const before = editor.value.slice(0, editor.selectionStart).split("\n");
  where.textContent = T("line") + " " + before.length + ":" + (before[before.length - 1].length + 1);
}
editor.addEventListener("keyup", cursor); editor.addEventListener("click", cursor);
function goTo(file, line, col) {
  if (file && file !== current && file in texts) { texts[current] = editor.value; select.value = file; current = file; editor.value = texts[file]; }
  const lines = editor.value.split("\n");
  const n = Math.max(1, Math.min(line || 1, lines.length));
  let start = 0;
  for (let k = 0; k < n - 1; k++) start += lines[k].length + 1;
  editor.focus();
  editor.setSelectionRange(start, start + lines[n - 1].length);
  const lh = parseFloat(getComputedStyle(editor).lineHeight) || 18;
  editor.scrollTop = Math.max(0, (n - 4) * lh);
  where.textContent = T("line") + " " + n + ":" + (col || 1);
}
function fileKey(file) {  // a diagnostic's file, as a key of the page's files (the service may give another prefix)
  if (!file) return null;
  if (file in texts) return file;
  return Object.keys(texts).find((k) => file.endsWith("/" + k) || file === k) || file;
}
document.getElementById("run").addEventListener("click", async () => {
  texts[current] = editor.value;
  diagBox.replaceChildren(); decisionBox.replaceChildren(); statusBox.textContent = T("working");
  let record;
  try { record = JSON.parse(recordBox.value); } catch (e) { statusBox.replaceChildren(problemBox({title: T("bad_json"), detail: e.message})); return; }
  const files = {};
  for (const [k, v] of Object.entries(texts)) if (v !== X.files[k]) files[k] = v;
  files[current] = editor.value;
  const on = document.getElementById("on").value || undefined;
  let res;
  try { res = await api("/v1/playground", {files, record, on}); }
  catch (p) { statusBox.replaceChildren(problemBox(p, null)); return; }
  statusBox.textContent = "";
  const diags = res.diagnostics || [];
  if (!diags.length) diagBox.append(el("p", {class: "muted"}, T("no_diagnostics")));
  for (const d of diags) {
    const span = d.span || d;
    const key = fileKey(span.file);
    const at = (key || "") + (span.line ? ":" + span.line + ":" + span.col : "");
    diagBox.append(el("button", {type: "button", class: "diag " + d.severity, "data-code": d.code, "data-line": span.line || "",
        onclick: () => goTo(key, span.line, span.col)},
      el("span", {class: "mono"}, at), " ", el("strong", {}, d.severity + "[" + d.code + "]"), " ", msg(d.message),
      d.hint ? el("div", {class: "muted"}, msg(d.hint)) : null));
  }
  if (res.decision) decisionBox.append(decisionView(res.decision, ""));
  else decisionBox.append(el("p", {class: "muted"}, T("no_decision")));
});
