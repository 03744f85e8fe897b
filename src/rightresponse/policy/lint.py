"""`policy lint`: prove things about a policy by checking every kind of call, not a sample.

The call space is finite once each field is cut into the pieces the policy can tell apart:
taxonomy categories, the call-type patterns the rules name (plus "none of them"), priority
ranges, origins, the times of day at which any rule or responder's hours change, and all
128 combinations of the 7 risk flags. For each piece lint knows which rule wins, so it can
say exactly which rules are never reached, whether a "yes" to a danger can ever take a call
away from police as the policy is written, which rules the engine's safety floor overrides,
and which unasked questions could change the answer.

The floor keeps an officer on every call whose danger flags are set; what could still escape
it is a dangerous call type the call-type flags do not recognise. So lint also runs every
rule against the dangerous call types of the hand-labelled sample set
(data/call_types_labelled.csv), with every flag combination, priority, origin and time, and
fails on any that would get a responder without police.

Call-type patterns are treated as labels: lint assumes a call type matches one pattern at
a time, so it never reports a rule as shadowed unless earlier rules name the very same
pattern (or no pattern at all). Property tests with real strings cover the rest.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..schema import ORIGINS
from ..taxonomy.crosswalk import available_crosswalks
from .call import make_call
from .definition import DATA_DIR, Policy, _taxonomy_vocab, load_policy
from .findings import Finding
from .triage import CompiledPolicy, compiled, shipped_categories, triage
from .vocabulary import DANGER_BITS, DANGER_FLAGS, FLAGS, FLAG_BIT, RESPONDERS

N_COMBOS = 1 << len(FLAGS)
_COMBOS = np.arange(N_COMBOS)
_DANGER_COMBO = (_COMBOS & DANGER_BITS) != 0
LABELLED = DATA_DIR / "call_types_labelled.csv"
# The labelled set's columns: the dangers a call type can state (call_type_flags.yaml's flags).
LABEL_FLAGS = ("weapon", "violence", "crime_in_progress", "impaired_driving", "prisoner", "officer_needs_help",
               "suicide_with_means")


@functools.lru_cache(maxsize=1)
def _labelled() -> pd.DataFrame:
    df = pd.read_csv(LABELLED, dtype={"city": str, "call_type": str, "reasoning": str}, keep_default_na=False)
    df[list(LABEL_FLAGS)] = df[list(LABEL_FLAGS)].astype("int8")
    return df


def labelled_call_types(dangerous_only: bool = False) -> pd.DataFrame:
    """The hand-labelled call types of the sample cities: city, call_type, one 0/1 column per
    danger the type states, and the labeller's reasoning (a copy; package data)."""
    df = _labelled()
    if dangerous_only:
        df = df[df[list(LABEL_FLAGS)].any(axis=1)]
    return df.reset_index(drop=True).copy()


@dataclass
class LintReport:
    file: str
    policy: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def format(self, show_info: bool = True) -> str:
        lines = []
        order = {"error": 0, "warning": 1, "info": 2}
        for f in sorted(self.findings, key=lambda f: order[f.level]):
            if f.level == "info" and not show_info:
                continue
            where = f"rule {f.rule}: " if f.rule else ""
            lines.append(f"{f.level:<7} {where}{f.message}")
        n_info = sum(f.level == "info" for f in self.findings)
        lines.append(f"{self.file}: {len(self.errors)} error(s), {len(self.warnings)} warning(s), {n_info} note(s)"
                     + ("" if self.errors else " - ok"))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"file": self.file, "policy": self.policy, "ok": self.ok,
                "findings": [f.to_dict() for f in self.findings]}


def lint_policy(name_or_file, run_examples: bool = True) -> LintReport:
    """Validate and analyse a policy (preset name, file or Policy). ``report.ok`` is False on errors."""
    policy, findings = load_policy(name_or_file, strict=False)
    file = policy.path if policy else (findings[0].file if findings else str(name_or_file))
    report = LintReport(file, policy.id if policy else None, list(findings))
    if policy is None:
        return report
    report.findings += _static_checks(policy)
    space = CallSpace(policy)
    report.findings += space.analyse()
    report.findings += space.dangerous_types()
    if run_examples:
        report.findings += check_examples(policy)
    return report


# ---------------------------------------------------------------------------- static checks

def _static_checks(p: Policy) -> list[Finding]:
    out = []
    f = p.path
    if not p.sources:
        out.append(Finding("warning", f, None, "no sources: say which published criteria the policy follows", "sources"))
    used = set()
    for r in p.rules:
        used.add(r.responder)
        primary = p.responders[r.responder]
        chain, step, seen = [], r.fallback or primary.fallback, {r.responder}
        while step is not None and step not in seen:
            chain.append(step)
            seen.add(step)
            step = p.responders[step].fallback
        if not primary.hours.always and not chain:
            out.append(Finding("error", f, r.id, f"{r.responder} works {primary.hours} but no fallback is named "
                                                 "for when it is off duty", "fallback"))
        if chain and not p.responders[chain[-1]].hours.always and step is None:
            out.append(Finding("error", f, r.id, f"fallback chain {' -> '.join([r.responder] + chain)} ends with a "
                                                 f"responder that is not always on duty", "fallback"))
        if primary.police and any(not p.responders[c].police for c in chain):
            bad = next(c for c in chain if not p.responders[c].police)
            out.append(Finding("error", f, r.id, f"sends {r.responder} (officers attend) but falls back to {bad}, "
                                                 "which sends none: a call judged to need police could go without", "fallback"))
        if primary.kind == "civilian" and not primary.police_backup:
            out.append(Finding("warning", f, r.id, f"{r.responder} has no police backup on call", "backup"))
        if primary.kind != "police" and not r.questions and not r.default:
            out.append(Finding("error", f, r.id, f"sends {r.responder} (no officer) but names no question the "
                                                 "call-taker must ask to confirm it", "questions"))
    if p.default.responder != "police" and not p.responders[p.default.responder].police:
        out.append(Finding("warning", f, "default", f"the default sends {p.default.responder}: calls no rule "
                                                    "recognises get no officer", "default"))
    return out


# ---------------------------------------------------------------------------- the call space

class CallSpace:
    """Every distinguishable kind of call for one policy, and the rule that wins for each."""

    def __init__(self, policy: Policy):
        self.p = policy
        self.cp: CompiledPolicy = compiled(policy)
        names, self.cat_group, _ = _taxonomy_vocab(policy.taxonomy)
        self.cats = list(names) + [None]
        clauses = [c for _, cs in self.cp.rules for c in cs]
        pats = []
        for c in clauses:
            for pat in c.clause.call_type or ():
                if pat not in pats:
                    pats.append(pat)
        self.patterns = pats + [None]
        prio = {1}
        for c in clauses:
            for a, b in c.pri or ():
                prio.add(a)
                if b is not None:
                    prio.add(b + 1)
        self.prios = ([None] + sorted(prio)) if any(c.pri is not None for c in clauses) else [None]
        self.origins = (list(ORIGINS) + [None]) if any(c.orgs is not None for c in clauses) else [None]
        hours = [c.time for c in clauses if c.time is not None] + [r.hours for r in policy.responders.values()]
        cuts = set()
        for h in hours:
            cuts |= h.breakpoints()
        days = list(range(7)) if any(h.day_specific for h in hours) else [None]
        self.times = [(d, m) for d in days for m in sorted(cuts)] + [(None, None)]

        # Per-clause masks over each field.
        self.clause_masks = []
        for rule, cs in self.cp.rules:
            ms = []
            for c in cs:
                ms.append((
                    c,
                    np.array([c.clause.call_type is None or (pt is not None and pt in c.clause.call_type) for pt in self.patterns]),
                    np.array([c.ok_priority(x) for x in self.prios]),
                    np.array([c.ok_origin(x) for x in self.origins]),
                    np.array([c.ok_time(d, m) for d, m in self.times]),
                    np.array([c.ok_flags(int(x)) for x in _COMBOS]),
                ))
            self.clause_masks.append((rule, ms))

        # Effective (responder, co-responder) of each rule at each time.
        self.rid = {r: i for i, r in enumerate(RESPONDERS)}
        n_rules, n_t = len(self.cp.rules), len(self.times)
        self.eff_resp = np.zeros((n_rules, n_t), dtype=np.int16)
        self.eff_key = np.zeros((n_rules, n_t), dtype=np.int16)
        for k, (rule, _) in enumerate(self.cp.rules):
            for t, (d, m) in enumerate(self.times):
                resp, co, _, _ = self.cp.resolve(rule, d, m)
                self.eff_resp[k, t] = self.rid[resp]
                self.eff_key[k, t] = self.rid[resp] * 8 + (0 if co is None else self.rid[co] + 1)
        self.is_police = np.array([self.p.responders[r].police for r in RESPONDERS])
        # The engine's safety floor per (rule, time): whether the answer already keeps an officer
        # on the call, and what the floor sends when a danger flag is set and it does not.
        self.floor_ok = np.zeros((n_rules, n_t), dtype=bool)
        self.floor_resp = np.zeros((n_rules, n_t), dtype=np.int16)
        self.floor_key = np.zeros((n_rules, n_t), dtype=np.int16)
        for k, (rule, _) in enumerate(self.cp.rules):
            for t, (d, m) in enumerate(self.times):
                resp, co, _, _ = self.cp.resolve(rule, d, m)
                self.floor_ok[k, t] = self.cp.with_police(resp, co)
                fr, fco = self.cp.floored(resp, co)
                self.floor_resp[k, t] = self.rid[fr]
                self.floor_key[k, t] = self.rid[fr] * 8 + (0 if fco is None else self.rid[fco] + 1)
        self.shape = (len(self.patterns), len(self.prios), len(self.origins), n_t, N_COMBOS)

    def describe(self, cat, idx) -> str:
        i, j, o, t, fl = idx
        parts = [f"category {cat or '(unclassified)'}"]
        pt = self.patterns[i]
        parts.append(f"call type ~ {pt}" if pt else "a call type no rule names")
        if self.prios[j] is not None:
            parts.append(f"priority {self.prios[j]}")
        if self.origins[o] is not None:
            parts.append(f"origin {self.origins[o]}")
        d, m = self.times[t]
        if m is not None:
            parts.append(("" if d is None else ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][d] + " ") + f"{m // 60:02d}:{m % 60:02d}")
        else:
            parts.append("time unknown")
        flags = [f for f in FLAGS if fl & FLAG_BIT[f]]
        parts.append("flags: " + (", ".join(flags) if flags else "none"))
        return "; ".join(parts)

    def assign(self, cat):
        """(assigned rule index per cell, per-rule region-nonempty, per-rule won, shadowers) for one category."""
        cg = self.cat_group.get(cat)
        assigned = np.full(self.shape, -1, dtype=np.int16)
        nonempty, won, shadow = [], [], []
        for k, (rule, ms) in enumerate(self.clause_masks):
            if not ms:  # the default
                region = np.ones(self.shape, dtype=bool)
            else:
                region = np.zeros(self.shape, dtype=bool)
                for c, mt, mp, mo, mti, mf in ms:
                    if not c.ok_category(cat, cg):
                        continue
                    region |= (mt[:, None, None, None, None] & mp[None, :, None, None, None] & mo[None, None, :, None, None]
                               & mti[None, None, None, :, None] & mf[None, None, None, None, :])
            any_region = bool(region.any())
            new = region & (assigned < 0)
            any_new = bool(new.any())
            nonempty.append(any_region)
            won.append(any_new)
            shadow.append(set(np.unique(assigned[region]).tolist()) - {-1} if any_region and not any_new else set())
            assigned[new] = k
        return assigned, nonempty, won, shadow

    def final(self, assigned, t_idx):
        """(responder, key, police?) per cell as the engine answers with every screening question
        answered: the rule's answer, or the safety floor's where a danger flag is set and the
        rule's answer sends no officer. Also the cells where the floor overrides the rule."""
        ok = self.floor_ok[assigned, t_idx]
        over = ~ok & _DANGER_COMBO
        resp = np.where(over, self.floor_resp[assigned, t_idx], self.eff_resp[assigned, t_idx])
        key = np.where(over, self.floor_key[assigned, t_idx], self.eff_key[assigned, t_idx])
        return resp, key, self.is_police[resp] | ok, over

    def analyse(self) -> list[Finding]:
        p, f = self.p, self.p.path
        out: list[Finding] = []
        rules = [r for r, _ in self.cp.rules]
        n = len(rules)
        ever_nonempty = [False] * n
        ever_won = [False] * n
        shadowers: list[set] = [set() for _ in range(n)]
        safety: dict = {}
        missing: dict = {}
        overridden: dict = {}
        escaped = None
        t_idx = np.arange(len(self.times))[None, None, None, :, None]
        asked = [{q.flag for q in r.questions if q.flag} for r in rules]
        for cat in self.cats:
            assigned, nonempty, won, shadow = self.assign(cat)
            assert (assigned >= 0).all(), "the default rule must match every call"
            for k in range(n):
                ever_nonempty[k] |= nonempty[k]
                ever_won[k] |= won[k]
                shadowers[k] |= shadow[k]
            # As written: a yes to a danger must never take a call away from police.
            police = self.is_police[self.eff_resp[assigned, t_idx]]
            for flag in DANGER_FLAGS:
                bit = FLAG_BIT[flag]
                wo = _COMBOS[(_COMBOS & bit) == 0]
                bad = police[..., wo] & ~police[..., wo | bit]
                if bad.any() and flag not in safety:
                    idx = tuple(int(x) for x in np.argwhere(bad)[0])
                    cell = idx[:4] + (int(wo[idx[4]]),)
                    before = int(assigned[cell])
                    after = int(assigned[cell[:4] + (cell[4] | bit,)])
                    safety[flag] = (cat, cell, before, after)
            # As the engine answers: the floor's overrides, and (never) a danger cell without police.
            resp, key, final_police, over = self.final(assigned, t_idx)
            if over.any():
                for k in np.unique(assigned[over]).tolist():
                    hit = over & (assigned == k)
                    flags_seen = overridden.setdefault(k, [set(), None])
                    for fl in np.unique(np.argwhere(hit)[:, 4]).tolist():
                        flags_seen[0] |= {d for d in DANGER_FLAGS if fl & FLAG_BIT[d]}
                    if flags_seen[1] is None:
                        flags_seen[1] = (cat, tuple(int(x) for x in np.argwhere(hit)[0]))
            bad = _DANGER_COMBO & ~final_police
            if bad.any() and escaped is None:
                escaped = (cat, tuple(int(x) for x in np.argwhere(bad)[0]))
            for flag in FLAGS:
                bit = FLAG_BIT[flag]
                wo = _COMBOS[(_COMBOS & bit) == 0]
                a0 = assigned[..., wo]
                changed = key[..., wo] != key[..., wo | bit]
                for k in np.unique(a0[changed]).tolist():
                    r = rules[k]
                    if p.responders[r.responder].kind != "police" and flag not in asked[k] and (k, flag) not in missing:
                        cell_i = tuple(int(x) for x in np.argwhere(changed & (a0 == k))[0])
                        cell = cell_i[:4] + (int(wo[cell_i[4]]),)
                        yes = cell[:4] + (cell[4] | bit,)
                        missing[(k, flag)] = (cat, cell, int(assigned[yes]), int(key[yes]), bool(over[yes]))

        for k, r in enumerate(rules):
            if r.default:
                continue
            if not ever_nonempty[k]:
                out.append(Finding("error", f, r.id, f"unreachable: no call can satisfy its conditions ({r.describe()})", "unreachable"))
            elif not ever_won[k]:
                by = ", ".join(rules[j].id for j in sorted(shadowers[k]))
                out.append(Finding("error", f, r.id, f"shadowed: every call it matches is taken first by {by}", "shadowed"))
        for flag, (cat, cell, before, after) in safety.items():
            rb, ra = rules[before], rules[after]
            out.append(Finding("error", f, ra.id, (
                f"adding {flag} moves a call from {rb.responder} (rule {rb.id}) to {ra.responder}, which sends no officer: "
                f"{self.describe(cat, cell)}"), "safety"))
        for k, (flags_seen, (cat, cell)) in sorted(overridden.items()):
            r = rules[k]
            out.append(Finding("warning", f, r.id, (
                f"the safety floor overrides this rule: it sends {r.responder}"
                f"{' + ' + r.co_responder if r.co_responder else ''} even when "
                f"{' or '.join(d for d in DANGER_FLAGS if d in flags_seen)} is yes (e.g. {self.describe(cat, cell)}); "
                "the engine sends police instead. Put a rule for these flags before it, or add "
                f"{{flags: {{{', '.join(d + ': false' for d in DANGER_FLAGS if d in flags_seen)}}}}} to its conditions"),
                "floor"))
        if escaped is not None:  # the floor is built into the engine: this would be a bug in it
            cat, cell = escaped
            out.append(Finding("error", f, None, f"a call with a danger flag gets no officer: {self.describe(cat, cell)}",
                               "floor"))
        for (k, flag), (cat, cell, alt, alt_key, floored) in sorted(missing.items()):
            r, ra = rules[k], rules[alt]
            sent = RESPONDERS[alt_key // 8] + (f" + {RESPONDERS[alt_key % 8 - 1]}" if alt_key % 8 else "")
            by = "the safety floor" if floored else f"rule {ra.id}"
            out.append(Finding("error", f, r.id, (
                f"sends {r.responder} but does not ask about {flag}; a yes would send {sent} ({by}), "
                f"e.g. {self.describe(cat, cell)}"), "questions"))
        named = set()
        for r, ms in self.clause_masks:
            if r.default:
                continue
            for c, *_ in ms:
                if c.cats is not None:
                    named |= set(c.cats)
                if c.cgs is not None:
                    named |= {x for x in self.cats if self.cat_group.get(x) in c.cgs}
        for cat in self.cats[:-1]:
            if cat not in named:
                out.append(Finding("info", f, None, f"category {cat!r} is named by no rule: its calls go to the default "
                                                    f"({p.default.responder}) unless a call-type pattern or flag rule catches them",
                                   "coverage"))
        return out


    def assign_text(self, cat, texts) -> np.ndarray:
        """The winning rule per (priority, origin, time, flags) for one real call type: its
        category and its texts (every pattern it matches, not one label at a time)."""
        cg = self.cat_group.get(cat)
        shape = self.shape[1:]
        assigned = np.full(shape, -1, dtype=np.int16)
        for k, (rule, ms) in enumerate(self.clause_masks):
            if not ms:
                region = np.ones(shape, dtype=bool)
            else:
                region = np.zeros(shape, dtype=bool)
                for c, _mt, mp, mo, mti, mf in ms:
                    if not c.ok_category(cat, cg) or not c.ok_text(texts):
                        continue
                    region |= mp[:, None, None, None] & mo[None, :, None, None] & mti[None, None, :, None] & mf[None, None, None, :]
            assigned[region & (assigned < 0)] = k
        return assigned

    def dangerous_types(self) -> list[Finding]:
        """Every rule against every dangerous call type of the labelled sample set, with every
        flag combination, priority, origin and time: an error per rule that would send a
        responder without police to one of them (the call type's danger went unrecognised)."""
        p, f = self.p, self.p.path
        danger = labelled_call_types(dangerous_only=True)
        cp = self.cp
        try:  # each city's call types with its own crosswalk, and with the classifier alone
            local = {(city, v): c for city, g in danger.groupby("city")
                     for v, (c, _) in shipped_categories(p, agency=city).classify(g["call_type"]).items()}
            plain = {v: c for v, (c, _) in shipped_categories(p).classify(danger["call_type"].unique()).items()}
        except Exception as exc:  # classification is the taxonomy's job; say so rather than crash
            return [Finding("error", f, None, f"dangerous call types: cannot classify: {exc}", "dangerous_types")]
        t_idx = np.arange(len(self.times))[None, None, :, None]
        rules = [r for r, _ in cp.rules]
        escapes: dict[int, list] = {}
        for row in danger.itertuples(index=False):
            texts, tbits, _ = cp.typed(row.call_type)
            combos = (_COMBOS & tbits) == tbits  # the call type's own flags are always set
            for cat in dict.fromkeys((local[(row.city, row.call_type)], plain[row.call_type])):
                assigned = self.assign_text(cat, texts)
                resp, _, final_police, _ = self.final(assigned[None], t_idx[None])
                bad = ~final_police[0] & combos
                if bad.any():
                    cell = tuple(int(x) for x in np.argwhere(bad)[0])
                    labels = [c for c in LABEL_FLAGS if getattr(row, c)]
                    escapes.setdefault(int(assigned[cell]), []).append(
                        (row.city, row.call_type, labels, cat, cell, RESPONDERS[int(resp[0][cell])]))
                    break
        out = []
        for k, items in sorted(escapes.items()):
            shown = "; ".join(f"{ct!r} ({city}: {', '.join(lab)}) -> {sent}" for city, ct, lab, _, _, sent in items[:3])
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            out.append(Finding("error", f, rules[k].id, (
                f"sends a responder without police to {len(items)} dangerous call type(s) of the labelled sample set "
                f"that the call-type flags do not recognise: {shown}{more}. Narrow the rule's patterns or categories, "
                "or teach taxonomy/data/call_type_flags.yaml the wording"), "dangerous_types"))
        return out


# ---------------------------------------------------------------------------- examples

def check_examples(p: Policy) -> list[Finding]:
    """Run the policy's example calls and report each one whose answer differs from `expect`."""
    out = []
    # An example from a sample city is classified as that city's calls are: with its crosswalk
    # (a 311 request type is known by its crosswalk alone, not by the CAD call-type model).
    shipped = set(available_crosswalks())
    categories = {city: shipped_categories(p, agency=city if city in shipped else None)
                  for city in {e.city for e in p.examples}}
    try:
        for city, provider in categories.items():
            provider.classify([e.call.get("call_type") for e in p.examples
                               if e.city == city and e.call.get("call_type") and not e.call.get("category")])
    except Exception as exc:  # classification is the taxonomy's job; say so rather than crash
        return [Finding("error", p.path, None, f"examples: cannot classify call types: {exc}", "examples")]
    for e in p.examples:
        rec = triage(p, make_call(**e.call), categories=categories[e.city])
        got = {"responder": rec.responder, "co_responder": rec.co_responder, "fallback": rec.fallback, "rule": rec.rule,
               "status": rec.status}
        wrong = {k: v for k, v in e.expect.items() if got[k] != v}
        if wrong:
            desc = ", ".join(f"{k} {got[k]!r} (expected {v!r})" for k, v in wrong.items())
            call = ", ".join(f"{k}={v!r}" for k, v in e.call.items())
            out.append(Finding("error", p.path, rec.rule, f"example {e.index} ({call}): got {desc}; category {rec.category!r}",
                               "examples"))
    return out
