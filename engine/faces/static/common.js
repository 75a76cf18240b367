"use strict";
const X = JSON.parse(document.getElementById("xueji-data").textContent);
const L = X.lang;
const T = (k) => X.text[k] || k;
const TOKEN_KEY = "xueji.token";
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : String(kid));
  }
  return e;
}
const msg = (m) => (m ? (m[L] || m.zh || m.en || "") : "");
(function tokenBox() {
  const input = document.getElementById("token");
  if (!input) return;
  input.value = sessionStorage.getItem(TOKEN_KEY) || "";
  document.getElementById("token-save").addEventListener("click", () => {
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY); input.value = "";
  });
})();
async function api(path, body, accept) {
  const headers = {"Content-Type": "application/json", "Accept": accept || "application/json"};
  const input = document.getElementById("token");
  const token = (input && input.value.trim()) || sessionStorage.getItem(TOKEN_KEY) || "";
  if (token) headers["Authorization"] = "Bearer " + token;
  let resp;
  try {
    resp = await fetch(X.base + path, {method: "POST", headers, body: JSON.stringify(body)});
  } catch (e) {
    throw {title: T("network"), detail: String(e)};
  }
  const type = resp.headers.get("Content-Type") || "";
  if (!resp.ok) {
    let problem = {title: resp.status + " " + resp.statusText, status: resp.status};
    if (type.includes("json")) { try { problem = await resp.json(); } catch (e) { /* keep the status */ } }
    throw problem;
  }
  return type.includes("json") ? resp.json() : resp.text();
}
function problemBox(p, label) {
  const box = el("div", {class: "error-box", role: "alert"});
  box.append(el("strong", {}, (label ? label + ": " : "") + (p.title || T("error"))));
  if (p.detail) box.append(el("div", {}, p.detail));
  if (Array.isArray(p.errors) && p.errors.length) {
    box.append(el("ul", {}, p.errors.map((e) => el("li", {},
      el("code", {}, e.path || "<record>"), ": ", msg(e.message) || e[L] || e.en || ""))));
  }
  return box;
}
function badge(outcome) {
  return el("span", {class: "badge o-" + (outcome || "none"), "data-outcome": outcome || ""},
    outcome ? T(outcome) : "—");
}
function dueText(f) {
  if (f.due) return f.due;
  if (f.due_not_before) return T("not_before") + " " + f.due_not_before;
  return "";
}
function articleLink(n) {
  return el("a", {href: X.measures + "#art-" + n}, L === "zh" ? "第" + n + "条" : "Art. " + n);
}
function explanation(f) {
  if (!f.explanation && !Object.keys(f.facts || {}).length) return null;
  const d = el("details", {class: "explanation"}, el("summary", {}, T("explanation")));
  const facts = Object.entries(f.facts || {});
  if (facts.length) {
    d.append(el("div", {class: "muted"}, T("facts")));
    d.append(el("pre", {}, facts.map(([k, v]) => k + " = " + JSON.stringify(v)).join("\n")));
  }
  if (Array.isArray(f.explanation) && f.explanation.length) {
    d.append(el("table", {class: "steps"}, f.explanation.map((s) => el("tr", {},
      el("td", {class: "mono"}, s.label), el("td", {class: "mono"}, s.text),
      el("td", {}, "→ " + s.value + (s.decided ? " " + T("decided") : ""))))));
  }
  return d;
}
function decisionView(dec, title) {
  const box = el("section", {class: "decision", "data-student": dec.id || ""});
  const head = [T("student") + " " + (dec.id || "—"), T("judged_on") + " " + (dec.on_used || dec.on),
    T("versions") + " " + (dec.versions || []).join(", ")];
  box.append(el("h3", {}, (title ? title + " · " : "") + head.join(" · ")));
  if (dec.note) box.append(el("p", {class: "muted"}, msg(dec.note)));
  if ((dec.warnings || []).length) {
    box.append(el("details", {class: "warnings"}, el("summary", {}, T("warnings") + " (" + dec.warnings.length + ")"),
      el("ul", {}, dec.warnings.map((w) => el("li", {}, el("code", {}, w.path), " ", msg(w.message) || w[L] || w.en)))));
  }
  const showAll = el("input", {type: "checkbox", class: "show-all"});
  box.append(el("label", {class: "muted"}, showAll, " " + T("show_all")));
  const order = X.outcomes;
  const findings = [...(dec.findings || [])].sort((a, b) => a.article - b.article
    || order.indexOf(a.outcome) - order.indexOf(b.outcome));
  const body = el("tbody", {});
  for (const f of findings) {
    body.append(el("tr", {class: f.outcome === "not_applicable" ? "na" : "", "data-article": f.article,
        "data-rule": f.rule, "data-outcome": f.outcome, hidden: f.outcome === "not_applicable"},
      el("td", {}, articleLink(f.article)), el("td", {class: "mono"}, f.rule),
      el("td", {class: "mono"}, f.subject || ""), el("td", {}, badge(f.outcome)),
      el("td", {class: "mono"}, dueText(f)),
      el("td", {class: "msg", lang: "zh-CN"}, f.message ? f.message.zh : ""),
      el("td", {class: "msg", lang: "en"}, f.message ? f.message.en : "",
        (f.missing || []).length ? el("div", {class: "muted"}, T("missing") + ": " + f.missing.join(", ")) : null,
        f.reason ? el("div", {class: "muted"}, msg(f.reason)) : null, explanation(f))));
  }
  showAll.addEventListener("change", () => {
    for (const tr of body.querySelectorAll("tr.na")) tr.hidden = !showAll.checked;
  });
  box.append(el("table", {class: "findings"}, el("thead", {}, el("tr", {},
    ["article", "rule", "subject", "outcome", "due", "message_zh", "message_en"].map((k) => el("th", {}, T(k))))), body));
  return box;
}
