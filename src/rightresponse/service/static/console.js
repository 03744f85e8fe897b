/* rightresponse call-taker console: keyboard first, no external code. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const KIND_LABEL = { police: "Police", civilian: "Civilian", medical: "Medical", remote: "Remote" };
  const MAX_OPTIONS = 8;

  const state = {
    config: null,
    policy: null,          // GET /v1/policies/{id}
    callTypes: [],         // [{value, search, category, agencies, count, _hay}]
    answers: {},           // flag -> true | false
    unknown: new Set(),    // flags answered "not known" (never preselected: an answer is a choice)
    asked: [],             // [{flag, text}] in the order first asked
    rec: null,             // last triage answer
    seq: 0,                // drops stale triage answers
    active: -1,            // combobox: highlighted option
    options: [],
  };

  // ------------------------------------------------------------------ helpers

  function token() { return sessionStorage.getItem("rr-token") || ""; }
  function taker() { return sessionStorage.getItem("rr-taker") || ""; }

  function api(path, opts = {}) {
    return window.rr.request(path, { method: opts.method, body: opts.body, token: token() });
  }

  const el = window.rr.el;

  function status(msg, kind) {
    const s = $("status");
    s.textContent = msg;
    s.className = "status" + (kind ? " " + kind : "");
    s.setAttribute("role", kind === "error" ? "alert" : "status");
  }

  function responderName(rid) {
    if (!rid) return "";
    const r = state.policy && state.policy.responders && state.policy.responders[rid];
    return r ? r.name : rid;
  }
  function responderKind(rid) {
    const r = state.policy && state.policy.responders && state.policy.responders[rid];
    return r ? r.kind : "";
  }

  function localNow() {
    const d = new Date();
    d.setSeconds(0, 0);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  // ------------------------------------------------------------------ fuzzy search

  function norm(s) { return (s || "").toUpperCase().replace(/[^A-Z0-9]+/g, " ").trim(); }

  function prepare(items) {
    for (const it of items) {
      it._hay = norm(it.value) + (it.search ? " | " + norm(it.search) : "");
      it._words = it._hay.split(/[ |]+/).filter(Boolean);
      it._weight = (it.count || 0) + (it.agencies ? it.agencies.length : 0);
    }
    return items;
  }

  function subsequence(q, hay) {
    let i = 0, start = -1, last = -1;
    for (let j = 0; j < hay.length && i < q.length; j++) {
      if (hay[j] === q[i]) { if (start < 0) start = j; last = j; i++; }
    }
    return i === q.length ? (last - start + 1) : -1;
  }

  function score(item, q, qWords) {
    const hay = item._hay;
    if (hay.startsWith(q)) return 1000 - hay.length;
    const idx = hay.indexOf(q);
    let allPrefix = true, pos = 0;
    for (const w of qWords) {
      const k = item._words.findIndex((x) => x.startsWith(w));
      if (k < 0) { allPrefix = false; break; }
      pos += k;
    }
    if (allPrefix) return 800 - pos * 10 - hay.length / 10;
    if (idx >= 0) return 600 - idx;
    const span = subsequence(q.replace(/ /g, ""), hay.replace(/[ |]/g, ""));
    if (span > 0 && span <= q.length * 3) return 200 - span;
    return -1;
  }

  function search(text) {
    const q = norm(text);
    if (!q) return [];
    const qWords = q.split(" ");
    const hits = [];
    for (const it of state.callTypes) {
      const s = score(it, q, qWords);
      if (s >= 0) hits.push([s + Math.min(it._weight, 50) / 10, it]);
    }
    hits.sort((a, b) => b[0] - a[0] || a[1].value.localeCompare(b[1].value));
    return hits.slice(0, MAX_OPTIONS).map((h) => h[1]);
  }

  function highlight(value, text) {
    const q = text.trim().toUpperCase();
    const i = value.toUpperCase().indexOf(q);
    if (!q || i < 0) return document.createTextNode(value);
    const f = document.createDocumentFragment();
    f.append(value.slice(0, i), el("mark", { text: value.slice(i, i + q.length) }), value.slice(i + q.length));
    return f;
  }

  // ------------------------------------------------------------------ combobox

  const input = () => $("calltype");
  const list = () => $("calltype-list");

  function openList(items) {
    const ul = list();
    ul.replaceChildren();
    state.options = items;
    state.active = items.length ? 0 : -1;
    items.forEach((it, i) => {
      const li = el("li", { role: "option", id: "ct-opt-" + i, "aria-selected": i === state.active ? "true" : "false" },
        el("span", { class: "opt-value" }, highlight(it.value, input().value)),
        el("span", { class: "opt-cat", text: it.category || "" }));
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); choose(i); });
      ul.append(li);
    });
    const show = items.length > 0;
    ul.hidden = !show;
    input().setAttribute("aria-expanded", show ? "true" : "false");
    if (show) input().setAttribute("aria-activedescendant", "ct-opt-" + state.active);
    else input().removeAttribute("aria-activedescendant");
  }

  function closeList() {
    list().hidden = true;
    input().setAttribute("aria-expanded", "false");
    input().removeAttribute("aria-activedescendant");
    state.active = -1;
  }

  function move(delta) {
    if (list().hidden || !state.options.length) return;
    const n = state.options.length;
    state.active = (state.active + delta + n) % n;
    [...list().children].forEach((li, i) => li.setAttribute("aria-selected", i === state.active ? "true" : "false"));
    input().setAttribute("aria-activedescendant", "ct-opt-" + state.active);
    list().children[state.active].scrollIntoView({ block: "nearest" });
  }

  function choose(i) {
    const it = state.options[i];
    if (it) input().value = it.value;
    closeList();
    newTriage();
  }

  function confirmTyped() {
    if (!list().hidden && state.active >= 0) { choose(state.active); return; }
    closeList();
    newTriage();
  }

  // ------------------------------------------------------------------ questions

  function renderQuestions() {
    const box = $("questions");
    const asked = state.asked.filter((q) => q.flag);
    const screen = new Set((state.rec && state.rec.screen) || []);
    $("no-questions").hidden = asked.length > 0;
    if (state.rec && !asked.length) $("no-questions").textContent = "The policy asks nothing more for this call.";
    const keep = document.activeElement;
    const existing = new Map([...box.children].map((fs) => [fs.dataset.flag, fs]));
    const wanted = [];
    for (const q of asked) {
      let fs = existing.get(q.flag);
      if (!fs) fs = buildQuestion(q);
      const ans = state.answers[q.flag];
      fs.classList.toggle("answered", ans !== undefined);
      fs.classList.toggle("screen", screen.has(q.flag));
      fs.querySelector(".screen-tag").hidden = !screen.has(q.flag);
      // Only what the call-taker chose is checked: no answer is ever preselected.
      const v = ans === true ? "yes" : ans === false ? "no" : state.unknown.has(q.flag) ? "unknown" : null;
      for (const r of fs.querySelectorAll("input")) r.checked = r.value === v;
      wanted.push(fs);
    }
    box.replaceChildren(...wanted);
    if (keep && document.body.contains(keep)) keep.focus({ preventScroll: true });
  }

  function buildQuestion(q) {
    const name = "q-" + q.flag;
    const fs = el("fieldset", { class: "q", "data-flag": q.flag });
    fs.append(el("legend", {}, q.text, el("span", { class: "screen-tag", text: "screening question" })));
    const choices = el("div", { class: "choices" });
    for (const [value, label, key] of [["yes", "Yes", "Y"], ["no", "No", "N"], ["unknown", "Not known", "U"]]) {
      const id = `${name}-${value}`;
      const r = el("input", { type: "radio", name, id, value });
      r.addEventListener("change", () => answer(q.flag, value, false));
      choices.append(r, el("label", { for: id }, label, el("span", { class: "key", "aria-hidden": "true", text: key })));
    }
    fs.append(choices);
    fs.addEventListener("keydown", (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const k = ev.key.toLowerCase();
      const value = k === "y" ? "yes" : k === "n" ? "no" : k === "u" ? "unknown" : null;
      if (!value) return;
      ev.preventDefault();
      fs.querySelector(`input[value="${value}"]`).checked = true;
      answer(q.flag, value, true);
    });
    return fs;
  }

  function answer(flag, value, advance) {
    state.unknown.delete(flag);
    if (value === "yes") state.answers[flag] = true;
    else if (value === "no") state.answers[flag] = false;
    else { delete state.answers[flag]; state.unknown.add(flag); }
    runTriage().then(() => {
      if (!advance) return;
      const sets = [...$("questions").children];
      const i = sets.findIndex((fs) => fs.dataset.flag === flag);
      const open = (fs) => !fs.classList.contains("answered") && !state.unknown.has(fs.dataset.flag);
      const next = sets.slice(i + 1).find(open) || sets.find(open);
      if (next) (next.querySelector("input:checked") || next.querySelector("input")).focus();
      else if (!$("accept").disabled) $("accept").focus();
      else if (!$("accept-unscreened").hidden) $("accept-unscreened").focus();
    });
  }

  // ------------------------------------------------------------------ triage

  function callBody() {
    const body = { call_type: input().value.trim(), flags: { ...state.answers }, policy: $("policy").value || undefined };
    if ($("priority").value) body.priority = $("priority").value;
    if ($("at").value.trim()) body.at = $("at").value.trim();
    return body;
  }

  function newTriage() {
    // A different call type: keep the answers (they are about the call), re-ask what is open.
    return runTriage();
  }

  async function runTriage() {
    const body = callBody();
    if (!body.call_type) { renderRec(null); return; }
    const seq = ++state.seq;
    try {
      const rec = await api("/v1/triage", { method: "POST", body });
      if (seq !== state.seq) return;
      state.rec = rec;
      state.recommendedAt = new Date().toISOString();
      for (const q of rec.ask) {
        if (!state.asked.some((a) => a.flag === q.flag && a.text === q.text)) state.asked.push(q);
      }
      // Unanswered questions the policy no longer asks are dropped; answered ones stay visible.
      const open = new Set(rec.ask.map((q) => q.flag));
      state.asked = state.asked.filter((q) => !q.flag || open.has(q.flag) || q.flag in state.answers);
      renderQuestions();
      renderRec(rec);
    } catch (e) {
      if (seq !== state.seq) return;
      status("Triage failed: " + e.message, "error");
    }
  }

  function who(resp, co) {
    return responderName(resp) + (co ? " + " + responderName(co) : "");
  }

  function renderRec(rec) {
    // Screen first: the civilian answer waits until every screening question is answered no;
    // meanwhile the responder shown is who to send if the call-taker cannot ask.
    const pending = !!rec && rec.status === "screen_first";
    $("rec-empty").hidden = !!rec;
    $("rec-body").hidden = !rec;
    $("script-box").hidden = !rec;
    $("accept").disabled = !rec || pending;
    $("accept-unscreened").hidden = !pending;
    $("override-toggle").disabled = !rec;
    $("rec-screen").hidden = !pending;
    $("rec-then").hidden = !pending;
    if (!rec) { $("accept-who").textContent = "the recommendation"; return; }
    $("rec-send-label").textContent = pending ? "If you cannot ask, send" : "Send";
    const after = rec.if_screened;
    $("rec-then").textContent = pending ? "Once every answer is no: " + who(after.responder, after.co_responder) + "." : "";
    $("accept-who").textContent = pending ? who(after.responder, after.co_responder) : who(rec.responder, rec.co_responder);
    $("unscreened-who").textContent = who(rec.responder, rec.co_responder);
    const kind = responderKind(rec.responder);
    const k = $("rec-kind");
    k.textContent = KIND_LABEL[kind] || kind;
    k.className = "kind " + kind;
    $("rec-responder").textContent = responderName(rec.responder);
    $("rec-co").hidden = !rec.co_responder;
    $("rec-co").textContent = rec.co_responder ? "with " + responderName(rec.co_responder) : "";
    $("rec-reason").textContent = rec.reason;
    $("rec-fallback").textContent = rec.fallback ? responderName(rec.fallback) : "–";
    $("rec-category").textContent = rec.category || "not classified";
    $("rec-rule").textContent = rec.rule;

    const script = $("script");
    script.replaceChildren();
    for (const q of rec.ask) script.append(el("li", { class: "ask" }, el("strong", { text: "Ask: " }), q.text));
    const send = "Dispatch " + responderName(rec.responder) + (rec.co_responder ? " with " + responderName(rec.co_responder) : "") + ".";
    if (pending) {
      script.append(el("li", {}, el("strong", { text: "If you cannot ask: " }), send));
      script.append(el("li", {}, el("strong", { text: "Once every answer is no: " }),
        "dispatch " + who(after.responder, after.co_responder) + "."));
    } else {
      script.append(el("li", {}, el("strong", { text: "Send: " }), send));
    }
    if (rec.fallback) script.append(el("li", {}, el("strong", { text: "If unavailable: " }), "send " + responderName(rec.fallback) + "."));
    for (const n of rec.notes || []) script.append(el("li", {}, el("strong", { text: "Note: " }), n));
    const remote = responderKind(rec.responder) === "remote";
    script.append(el("li", {}, el("strong", { text: "Tell the caller: " }), remote
      ? "how the call will be handled (" + responderName(rec.responder) + "), and to call back if anything changes."
      : "help is on the way: " + responderName(rec.responder) + ". Call back at once if anything changes."));
    renderDispatchOptions();
  }

  function renderDispatchOptions() {
    const box = $("dispatch-options");
    if (box.children.length || !state.policy) return;
    for (const [rid, r] of Object.entries(state.policy.responders)) {
      const id = "dispatch-" + rid;
      box.append(el("label", { for: id },
        el("input", { type: "radio", name: "dispatched", id, value: rid }),
        el("span", {}, r.name, el("span", { class: "rid", text: (KIND_LABEL[r.kind] || r.kind) + " · " + rid }))));
    }
  }

  // ------------------------------------------------------------------ recording

  async function record(dispatched, reason, note) {
    if (!state.rec) return;
    if (!taker() || !token()) {
      status("Enter your call-taker ID and access token (top right) before recording.", "error");
      (taker() ? $("token") : $("taker")).focus();
      return;
    }
    const body = {
      ...callBody(), id: crypto.randomUUID ? crypto.randomUUID() : undefined,
      policy: state.rec.policy, policy_hash: state.rec.policy_hash,
      dispatched, dispatched_co: dispatched === state.rec.responder ? state.rec.co_responder : null,
      call_taker: taker(), recommended_at: state.recommendedAt,
    };
    if (reason) body.override_reason = reason;
    if (note) body.override_note = note;
    try {
      const r = await api("/v1/decisions", { method: "POST", body });
      const what = r.accepted ? "Accepted" : "Override";
      const instead = r.accepted ? "" : ` instead of ${responderName(r.responder)}`;
      status(`${what} recorded: ${responderName(r.dispatched)} dispatched${instead} (decision ${r.id.slice(0, 8)}). Alt+N starts a new call.`, "ok");
      $("accept").disabled = true;
      $("accept-unscreened").hidden = true;
      $("override-toggle").disabled = true;
      $("override").hidden = true;
      $("override-toggle").setAttribute("aria-expanded", "false");
      $("newcall").focus();
    } catch (e) {
      status("Not recorded: " + e.message, "error");
    }
  }

  function toggleOverride(show) {
    const form = $("override");
    const open = show === undefined ? form.hidden : show;
    form.hidden = !open;
    $("override-toggle").setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      const first = form.querySelector('input[name="dispatched"]:checked') || form.querySelector('input[name="dispatched"]');
      if (first) first.focus();
    }
  }

  function newCall() {
    state.answers = {};
    state.unknown = new Set();
    state.asked = [];
    state.rec = null;
    state.seq++;
    input().value = "";
    $("priority").value = "";
    $("at").value = localNow();
    $("note").value = "";
    $("reason").value = "";
    for (const r of document.querySelectorAll('input[name="dispatched"]')) r.checked = false;
    $("override").hidden = true;
    $("override-toggle").setAttribute("aria-expanded", "false");
    $("questions").replaceChildren();
    $("no-questions").textContent = "Choose a call type to see the questions the policy asks.";
    renderQuestions();
    renderRec(null);
    status("");
    input().focus();
  }

  // ------------------------------------------------------------------ start

  async function loadPolicy(id) {
    state.policy = await api("/v1/policies/" + encodeURIComponent(id));
    $("policy-hash").textContent = "v " + state.policy.hash.slice(0, 12);
    $("dispatch-options").replaceChildren();
    renderDispatchOptions();
  }

  async function start() {
    $("taker").value = taker();
    $("token").value = token();
    $("taker").addEventListener("change", () => sessionStorage.setItem("rr-taker", $("taker").value.trim()));
    $("token").addEventListener("change", () => sessionStorage.setItem("rr-token", $("token").value.trim()));
    $("signin").addEventListener("submit", (ev) => { ev.preventDefault(); input().focus(); });
    $("at").value = localNow();

    try {
      state.config = await api("/v1/console");
      const sel = $("policy");
      for (const p of state.config.policies) {
        sel.append(el("option", { value: p.id, title: p.title, text: p.title.split(" - ")[0] }));
      }
      sel.value = state.config.default_policy;
      $("practice-link").hidden = !state.config.practice;
      sel.addEventListener("change", async () => { await loadPolicy(sel.value); runTriage(); });
      for (const r of state.config.override_reasons) $("reason").append(el("option", { value: r.code, text: r.label }));
      await loadPolicy(sel.value);
      const ct = await api("/v1/call-types");
      state.callTypes = prepare(ct.call_types);
      $("calltype-count").textContent = `${state.callTypes.length.toLocaleString()} known call types.`;
    } catch (e) {
      status("The service is not reachable: " + e.message, "error");
    }

    input().addEventListener("input", () => openList(search(input().value)));
    input().addEventListener("keydown", (ev) => {
      if (ev.key === "ArrowDown") { ev.preventDefault(); if (list().hidden) openList(search(input().value)); else move(1); }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); move(-1); }
      else if (ev.key === "Enter") { ev.preventDefault(); confirmTyped(); }
      else if (ev.key === "Escape") { closeList(); }
      else if (ev.key === "Tab" && !list().hidden && state.active >= 0) { choose(state.active); }
    });
    // Close shortly after focus leaves (a click on an option lands first), unless focus came back
    // and the list was reopened meanwhile: a quick Tab away and back must not close the new list.
    input().addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input()) closeList(); }, 100));
    $("priority").addEventListener("change", runTriage);
    $("at").addEventListener("change", runTriage);
    // Accept dispatches the final recommendation; it is disabled while the screen is incomplete.
    $("accept").addEventListener("click", () => state.rec && state.rec.status !== "screen_first" && record(state.rec.responder));
    $("accept-unscreened").addEventListener("click", () => state.rec && state.rec.status === "screen_first" && record(state.rec.responder));
    $("override-toggle").addEventListener("click", () => toggleOverride());
    $("override").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const chosen = document.querySelector('input[name="dispatched"]:checked');
      const reason = $("reason").value;
      if (!chosen) { status("Choose who was dispatched instead.", "error"); document.querySelector('input[name="dispatched"]').focus(); return; }
      if (!reason) { status("Choose a reason for the override.", "error"); $("reason").focus(); return; }
      record(chosen.value, reason, $("note").value.trim());
    });
    $("newcall").addEventListener("click", newCall);
    document.addEventListener("keydown", (ev) => {
      if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const k = ev.key.toLowerCase();
      if (k === "a" && !$("accept").disabled) { ev.preventDefault(); $("accept").click(); }
      else if (k === "c" && !$("accept-unscreened").hidden) { ev.preventDefault(); $("accept-unscreened").click(); }
      else if (k === "o" && !$("override-toggle").disabled) { ev.preventDefault(); toggleOverride(true); }
      else if (k === "n") { ev.preventDefault(); newCall(); }
    });
    input().focus();
    api("/healthz").then((h) => { $("health").textContent = h.ready ? "" : "Warming up: unlisted call types may take a few seconds."; }).catch(() => {});
  }

  document.addEventListener("DOMContentLoaded", start);
})();
