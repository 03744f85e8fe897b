/* rightresponse practice page: deal a past call, answer, see the policy's answer. No external code. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const KIND_LABEL = { police: "Police", civilian: "Civilian", medical: "Medical", remote: "Remote" };
  const SHOWN = {
    weapon: "a weapon", violence: "violence or a threat to others", crime_in_progress: "a crime in progress",
    injury: "an injury", substance: "alcohol or drugs", mental_health: "signs of a mental-health crisis",
    homeless: "a person without housing", impaired_driving: "impaired driving", prisoner: "a prisoner",
    officer_needs_help: "an officer in need of help", suicide_with_means: "a suicide attempt or means at hand",
  };
  const state = { card: null, answers: {}, asked: new Set(), responders: {}, done: false, n: 0, ok: 0, unsafe: 0 };

  function trainee() { return sessionStorage.getItem("rr-trainee") || ""; }

  function api(path, body) {
    return window.rr.request(path, { method: body === undefined ? "GET" : "POST", body });
  }

  const el = window.rr.el;

  function status(msg, kind) {
    const s = $("status");
    s.textContent = msg;
    s.className = "status" + (kind ? " " + kind : "");
  }

  function name(rid) { return (state.responders[rid] && state.responders[rid].name) || rid || ""; }

  // ------------------------------------------------------------------ the call

  async function deal() {
    const body = { policy: $("policy").value || undefined };
    if (trainee()) body.trainee = trainee();
    try {
      const c = await api("/v1/practice/deal", body);
      state.card = c;
      state.answers = {};
      state.asked = new Set();
      state.done = false;
      state.responders = Object.fromEntries(c.responders.map((r) => [r.id, r]));
      renderCard(c);
      status("");
      const first = document.querySelector("#questions input");
      if (first) first.focus();
    } catch (e) {
      status("Could not deal a call: " + e.message, "error");
    }
  }

  function renderCard(c) {
    $("card").hidden = false;
    $("c-type").textContent = c.call_type;
    $("c-priority").textContent = c.priority === null ? "not recorded" : String(c.priority);
    $("c-origin").textContent = c.origin ? c.origin.replace(/_/g, " ") : "not recorded";
    $("c-time").textContent = c.time;
    $("c-category").textContent = c.category || "not classified";
    const shows = $("c-shows");
    shows.replaceChildren();
    for (const f of c.call_type_dangers) shows.append(el("li", { class: "risk", "data-flag": f }, el("strong", { text: SHOWN[f] || f }), " (the call type says so)"));
    for (const f of c.narrative_flags) shows.append(el("li", { class: "risk", "data-flag": f }, el("strong", { text: SHOWN[f] || f }), " (the call-taker's notes)"));
    if (!shows.children.length) {
      shows.append(el("li", { class: "none", text: c.narrative ? "No risk in the call type or the notes." : "No risk in the call type (no notes were recorded)." }));
    }
    const box = $("questions");
    box.replaceChildren();
    for (const q of c.questions) box.append(question(q));
    const opts = $("responders");
    opts.replaceChildren();
    for (const r of c.responders) {
      const id = "send-" + r.id;
      const input = el("input", { type: "radio", name: "send", id, value: r.id });
      input.addEventListener("change", () => { $("submit").disabled = state.done; });
      opts.append(el("label", { for: id }, input, el("span", {}, r.name, el("span", { class: "rid", text: (KIND_LABEL[r.kind] || r.kind) + " · " + r.id }))));
    }
    $("submit").disabled = true;
    $("result").hidden = true;
    $("unsafe").hidden = true;
  }

  function question(q) {
    const fs = el("fieldset", { class: "q", "data-flag": q.flag });
    fs.append(el("legend", { text: q.text }));
    const choices = el("div", { class: "choices" });
    for (const [value, label, key] of [["yes", "Yes", "Y"], ["no", "No", "N"], ["skip", "Not asked", "S"]]) {
      const id = `q-${q.flag}-${value}`;
      const r = el("input", { type: "radio", name: "q-" + q.flag, id, value });
      r.addEventListener("change", () => answer(q.flag, value));
      choices.append(r, el("label", { for: id }, label, el("span", { class: "key", "aria-hidden": "true", text: key })));
    }
    fs.append(choices);
    fs.addEventListener("keydown", (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const k = ev.key.toLowerCase();
      const value = k === "y" ? "yes" : k === "n" ? "no" : k === "s" ? "skip" : null;
      if (!value) return;
      ev.preventDefault();
      fs.querySelector(`input[value="${value}"]`).checked = true;
      answer(q.flag, value);
      const sets = [...$("questions").children];
      const next = sets[sets.indexOf(fs) + 1];
      if (next) next.querySelector("input").focus();
      else { const r = document.querySelector('input[name="send"]'); if (r) r.focus(); }
    });
    return fs;
  }

  function answer(flag, value) {
    if (value === "skip") delete state.answers[flag];
    else state.answers[flag] = value === "yes";
    const fs = document.querySelector(`fieldset.q[data-flag="${flag}"]`);
    if (fs) fs.classList.add("answered");
  }

  // ------------------------------------------------------------------ the answer

  async function submit() {
    const chosen = document.querySelector('input[name="send"]:checked');
    if (!state.card || state.done) return;
    if (!chosen) { status("Choose who you would send.", "error"); return; }
    try {
      const r = await api("/v1/practice/answer", { id: state.card.id, answers: state.answers, responder: chosen.value });
      state.done = true;
      $("submit").disabled = true;
      renderResult(r);
      state.n += 1; if (r.correct) state.ok += 1; if (r.unsafe) state.unsafe += 1;
      $("tally").textContent = `This session: ${state.n} answered, ${state.ok} correct, ${state.unsafe} unsafe.`;
      $("deal").focus();
    } catch (e) {
      status("Not checked: " + e.message, "error");
    }
  }

  function renderResult(r) {
    const x = r.expected;
    $("result").hidden = false;
    $("unsafe").hidden = !r.unsafe;
    $("unsafe-reason").textContent = r.unsafe_reason || "";
    $("result").classList.toggle("is-unsafe", !!r.unsafe);
    const v = $("verdict");
    v.textContent = r.correct ? "Correct: you sent who the policy sends." :
      r.agrees ? "Right responder, but not safely chosen." : `Not the policy's answer: you sent ${name(r.responder)}.`;
    v.className = "verdict " + (r.correct ? "good" : "bad");
    const kind = state.responders[x.responder] ? state.responders[x.responder].kind : "";
    $("r-kind").textContent = KIND_LABEL[kind] || kind;
    $("r-kind").className = "kind " + kind;
    $("r-responder").textContent = name(x.responder);
    $("r-co").hidden = !x.co_responder;
    $("r-co").textContent = x.co_responder ? "with " + name(x.co_responder) : "";
    $("r-reason").textContent = r.reason;
    $("r-fallback").textContent = x.fallback ? name(x.fallback) : "–";
    $("r-rule").textContent = x.rule;
    const ul = $("r-answers");
    ul.replaceChildren();
    for (const a of r.answers) {
      const given = a.given === true ? "yes" : a.given === false ? "no" : "not asked";
      const exp = a.expected ? "yes" : "no";
      const ok = a.given === a.expected;
      ul.append(el("li", { class: ok ? "ok" : (a.screen ? "miss screen" : "miss") },
        el("span", { text: a.question + " " }),
        el("strong", { text: `You: ${given}. The caller: ${exp}.` }),
        a.screen && !ok ? el("span", { class: "screen-tag", text: "screening question" }) : null));
    }
  }

  // ------------------------------------------------------------------ start

  async function start() {
    $("trainee").value = trainee();
    $("trainee").addEventListener("change", () => sessionStorage.setItem("rr-trainee", $("trainee").value.trim()));
    $("signin").addEventListener("submit", (ev) => { ev.preventDefault(); $("deal").focus(); });
    try {
      const cfg = await api("/v1/console");
      const sel = $("policy");
      for (const p of cfg.policies) sel.append(el("option", { value: p.id, title: p.title, text: p.title.split(" - ")[0] }));
      sel.value = cfg.default_policy;
    } catch (e) {
      status("The service is not reachable: " + e.message, "error");
    }
    $("deal").addEventListener("click", deal);
    $("submit").addEventListener("click", submit);
    document.addEventListener("keydown", (ev) => {
      if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const k = ev.key.toLowerCase();
      if (k === "d") { ev.preventDefault(); deal(); }
      else if (k === "enter") { ev.preventDefault(); submit(); }
    });
    $("deal").focus();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
