"""Triage: the policy's recommendation for one call, compiled once so each call takes microseconds.

``triage(policy, call, categories)`` is pure: the answer depends only on the policy, the call
and the categorisation passed in. The call type's category is ``Call.category`` when given,
else the ``categories`` provider's (``taxonomy.provider``: a city's overrides or model), else
the shipped classification's for the policy's taxonomy. Nothing is stored on the policy.

Three steps make routing safe by construction, for every policy, presets and a city's own
files alike (no rule can opt out):

1. **Danger read from the call type.** A call type that states a weapon, violence, a crime in
   progress, impaired driving, a prisoner, an officer in need or a suicide attempt
   (taxonomy/data/call_type_flags.yaml) sets the matching flag before the rules run. A "no"
   from the call-taker does not clear what the call type itself says.
2. **The safety floor.** When weapon, violence, crime in progress or suicide risk with means is
   present, an answer without police (a civilian team, a phone counsellor, fire/EMS alone, no
   dispatch) becomes police (with fire/EMS when the rule wanted them): only police, the police
   co-responder, or fire/EMS with police are left.
3. **Unknown is never no.** A responder without police is recommended only once every
   screening question of the rule (the four dangers and the rule's own flag questions) is
   answered no. Until then ``responder`` is who to send if the call-taker cannot ask (the
   policy's ``unscreened`` responder; fire/EMS go with it), ``status`` is "screen_first",
   ``if_screened`` says what the answer becomes once the screen is passed and ``screen``
   lists the questions left, gravest first.

Other unanswered flags whose "yes" would change who is sent are returned as questions too.
"""

from __future__ import annotations

import re
import threading
import weakref
from datetime import datetime
from typing import NamedTuple

from .call import Call, make_call
from .definition import Clause, Policy, Rule, _taxonomy_vocab, flag_info, load_policy
from .vocabulary import DANGER_BITS, FLAG_BIT, FLAGS, SCREEN_ORDER


def call_type_dangers(text: str) -> tuple[int, tuple[str, ...]]:
    """(policy flag bits, danger names) a call type states by itself, read from the text as
    written (taxonomy/data/call_type_flags.yaml; each danger names the policy flag it sets)."""
    from ..taxonomy.narrative import load_call_type_flags, text_flags

    fs = load_call_type_flags()
    kinds = text_flags(text, fs)
    sets = {f.name: f.sets for f in fs.flags}
    bits = 0
    for k in kinds:
        bits |= FLAG_BIT[sets[k]]
    return bits, kinds


# ---------------------------------------------------------------------------- compiled rules

def _mask(names) -> int:
    m = 0
    for n in names:
        m |= FLAG_BIT[n]
    return m


class CompiledClause:
    """One `when` mapping as fast predicates, one per field (lint reuses them field by field)."""

    __slots__ = ("clause", "cats", "cgs", "rx", "pri", "orgs", "time", "req", "forbid", "anym")

    def __init__(self, c: Clause):
        self.clause = c
        self.cats = c.category
        self.cgs = c.crime_group
        self.rx = re.compile("|".join(f"(?:{p})" for p in c.call_type), re.IGNORECASE) if c.call_type else None
        self.pri = c.priority
        self.orgs = c.origin
        self.time = c.time
        self.req = _mask(c.flags_true)
        self.forbid = _mask(c.flags_false)
        self.anym = _mask(c.any_flag)

    def ok_category(self, cat, cg) -> bool:
        return (self.cats is None or cat in self.cats) and (self.cgs is None or cg in self.cgs)

    def ok_priority(self, p) -> bool:
        if self.pri is None:
            return True
        if p is None:
            return False
        return any(a <= p and (b is None or p <= b) for a, b in self.pri)

    def ok_origin(self, o) -> bool:
        return self.orgs is None or o in self.orgs

    def ok_time(self, dow, minute) -> bool:
        # Time unknown: a rule limited to certain hours cannot be confirmed, so it does not match.
        return self.time is None or (minute is not None and self.time.on(dow, minute))

    def ok_flags(self, present: int) -> bool:
        return (present & self.req) == self.req and not (present & self.forbid) and (not self.anym or bool(present & self.anym))

    def ok_text(self, texts) -> bool:
        return self.rx is None or any(self.rx.search(t) for t in texts)

    def test(self, cat, cg, texts, pri, org, dow, minute, present) -> bool:
        # The per-field predicates above, inlined: this is the hot loop of triage.
        req = self.req
        if (present & req) != req or present & self.forbid or (self.anym and not present & self.anym):
            return False
        if self.cats is not None and cat not in self.cats:
            return False
        if self.cgs is not None and cg not in self.cgs:
            return False
        if self.orgs is not None and org not in self.orgs:
            return False
        if self.pri is not None:
            if pri is None:
                return False
            for a, b in self.pri:
                if a <= pri and (b is None or pri <= b):
                    break
            else:
                return False
        if self.time is not None and (minute is None or not self.time.on(dow, minute)):
            return False
        rx = self.rx
        if rx is not None:
            for t in texts:
                if rx.search(t):
                    return True
            return False
        return True


class CompiledPolicy:
    """A policy ready for fast matching, with a memo of each call type's matching text (a pure
    function of the text: it holds no categories and no configuration)."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.rules: tuple[tuple[Rule, tuple[CompiledClause, ...]], ...] = tuple(
            (r, tuple(CompiledClause(c) for c in r.clauses)) for r in policy.rules)
        self.responders = policy.responders
        _, self.cat_group, _ = _taxonomy_vocab(policy.taxonomy)
        # Adding a flag can only make a clause match if the clause asks for that flag; these
        # are the rules to re-test when asking "would a yes change the answer?".
        self.gain = {bit: tuple(k for k, (_, cs) in enumerate(self.rules) if any((c.req | c.anym) & bit for c in cs))
                     for bit in FLAG_BIT.values()}
        self.police = policy.police_responders
        self.medical = policy.medical_responders
        self.with_police = policy.with_police  # the floor's rule, written once on the policy
        # Per rule: the screening flags as bits, and who goes until they are answered.
        self.screen_bits = tuple(sum(FLAG_BIT[f] for f in r.screen_flags) for r, _ in self.rules)
        self.unscreened = tuple(r.unscreened or policy.unscreened for r, _ in self.rules)
        info = flag_info()
        self.question_text = tuple({**{f: info[f].question for f in FLAGS}, **{q.flag: q.text for q in r.questions if q.flag}}
                                   for r, _ in self.rules)
        self.own_order = tuple(tuple(q.flag for q in r.questions if q.flag) for r, _ in self.rules)
        self.free_text = tuple(tuple(q.text for q in r.questions if q.flag is None) for r, _ in self.rules)
        self._texts: dict = {}

    # -- call-type text and the dangers it states, memoized per compiled policy

    def typed(self, call_type) -> tuple[tuple[str, ...], int, tuple[str, ...]]:
        """(texts to match patterns on, flag bits the call type sets, call-type danger names).

        The texts are the call type as written and as normalized by the taxonomy; the dangers
        are read from the call type as written (taxonomy/data/call_type_flags.yaml).
        """
        if call_type is None:
            return (), 0, ()
        t = self._texts.get(call_type)
        if t is None:
            from ..taxonomy.call_type_text import clean, normalize

            raw = clean(call_type)
            norm = normalize(call_type)
            t = self._texts[call_type] = ((raw,) if norm == raw else (raw, norm), *call_type_dangers(raw))
        return t

    def texts(self, call_type) -> tuple[str, ...]:
        return self.typed(call_type)[0]

    # -- matching

    def match(self, cat, texts, pri, org, dow, minute, present) -> Rule:
        return self.rules[self.match_index(cat, texts, pri, org, dow, minute, present)][0]

    def match_index(self, cat, texts, pri, org, dow, minute, present, start: int = 0) -> int:
        cg = self.cat_group.get(cat)
        rules = self.rules
        for k in range(start, len(rules)):
            clauses = rules[k][1]
            if not clauses:
                return k
            for c in clauses:
                if c.test(cat, cg, texts, pri, org, dow, minute, present):
                    return k
        raise AssertionError("unreachable: the default rule matches every call")

    def match_with_flag(self, k: int, bit: int, cat, texts, pri, org, dow, minute, present) -> int:
        """The winning rule index once flag ``bit`` is added to a call whose winner was ``k``."""
        cg = self.cat_group.get(cat)
        p2 = present | bit
        for j in self.gain[bit]:
            if j >= k:
                break
            if any(c.test(cat, cg, texts, pri, org, dow, minute, p2) for c in self.rules[j][1]):
                return j
        cs = self.rules[k][1]
        if not cs or any(c.test(cat, cg, texts, pri, org, dow, minute, p2) for c in cs):
            return k
        return self.match_index(cat, texts, pri, org, dow, minute, p2, start=k + 1)

    def available(self, rid: str, dow, minute, unavailable) -> bool:
        if rid in unavailable:
            return False
        return minute is None or self.responders[rid].hours.on(dow, minute)

    def chain(self, rid: str, fallback: str | None, dow, minute, unavailable=frozenset()):
        """(responder, next fallback, notes): ``rid``, or down its fallback chain while it is off
        duty or busy (``fallback`` first, then each responder's own)."""
        notes = []
        r = rid
        seen = {r}
        step = fallback or self.responders[r].fallback
        while not self.available(r, dow, minute, unavailable):
            why = "busy" if r in unavailable else f"off duty at {_hhmm(minute)} (hours {self.responders[r].hours})"
            if step is None or step in seen:
                notes.append(f"{r} is {why} and has no other fallback: send {r} when available")
                break
            notes.append(f"{r} is {why}: sending {step}")
            r = step
            seen.add(r)
            step = self.responders[r].fallback
        return r, (step if step is not None and step != r else None), notes

    def resolve(self, rule: Rule, dow, minute, unavailable=frozenset()):
        """(responder, co_responder, fallback, notes) after hours and availability."""
        r, fb, notes = self.chain(rule.responder, rule.fallback, dow, minute, unavailable)
        co = rule.co_responder
        if co is not None and not self.available(co, dow, minute, unavailable):
            notes.append(f"co-responder {co} is " + ("busy" if co in unavailable else f"off duty at {_hhmm(minute)}")
                         + ": follow up later")
            co = None
        if co == r:
            co = None
        return r, co, fb, notes

    # -- the safety floor and the screen

    def floored(self, resp: str, co: str | None) -> tuple[str, str | None]:
        """What the floor sends instead of an answer without police: police, with fire/EMS when
        the rule wanted them."""
        medical = resp in self.medical or (co is not None and co in self.medical)
        return "police", ("fire_ems" if medical else None)

    def decide(self, cat, texts, pri, org, dow, minute, present, unavailable=frozenset()):
        """The answer with every screening question answered: (rule index, responder,
        co-responder, fallback, notes, floored). ``present`` already holds the call type's flags."""
        k = self.match_index(cat, texts, pri, org, dow, minute, present)
        resp, co, fb, notes = self.resolve(self.rules[k][0], dow, minute, unavailable)
        if present & DANGER_BITS and not self.with_police(resp, co):
            resp, co = self.floored(resp, co)
            return k, resp, co, None, notes, True
        return k, resp, co, fb, notes, False

    def questions(self, k: int, screen: tuple[str, ...], changing: int) -> tuple[str, ...]:
        """The questions to ask, in order: the screen (gravest first), then the other flags whose
        "yes" would change the answer (the rule's own order first), then the rule's own
        questions without a flag. Texts are the rule's own wording where it gives one."""
        if not screen and not changing and not self.free_text[k]:
            return ()
        text = self.question_text[k]
        order = list(screen) + [f for f in self.own_order[k] if changing & FLAG_BIT[f] and f not in screen]
        order += [f for f in FLAGS if changing & FLAG_BIT[f] and f not in order]
        return tuple(text[f] for f in order) + self.free_text[k]

    def unscreened_answer(self, k: int, resp: str, dow, minute, unavailable=frozenset()):
        """(responder, co-responder, fallback, notes) while rule ``k``'s screen is incomplete:
        the unscreened responder, with fire/EMS leading when the rule sends fire/EMS."""
        u, fb, notes = self.chain(self.unscreened[k], None, dow, minute, unavailable)
        if resp in self.medical:
            return resp, u, None, notes
        return u, None, fb, notes


def _hhmm(minute) -> str:
    return "unknown time" if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


# ---------------------------------------------------------------------------- triage

class Recommendation(NamedTuple):
    """One triage answer (immutable). A named tuple rather than a frozen dataclass: it is built
    on every triage, and the dataclass's field-by-field frozen __init__ cost about 1 us of the
    11 us a call took (benchmarks/triage.py, CPU time: 88,000 -> 98,000 calls/s)."""

    responder: str
    co_responder: str | None
    fallback: str | None
    rule: str
    reason: str
    questions: tuple[str, ...]
    policy_hash: str
    policy: str
    category: str | None
    intended: str  # the rule's responder before hours and availability (police when the floor applies)
    notes: tuple[str, ...] = ()
    status: str = "final"  # "screen_first": the responder is who to send if the call-taker cannot ask
    if_screened: dict | None = None  # the answer once every screening question is answered no
    screen: tuple[str, ...] = ()  # screening flags still unanswered, gravest first
    call_type_flags: tuple[str, ...] = ()  # policy flags the call type itself sets
    call_type_dangers: tuple[str, ...] = ()  # what the call type states (impaired_driving, prisoner, ...)
    floor: dict | None = None  # {rule, would_send, flags} when the safety floor overrode the rule

    def to_dict(self) -> dict:
        """The CLI's --json contract (the API adds policy, category, intended, notes and ask)."""
        return {"responder": self.responder, "co_responder": self.co_responder, "fallback": self.fallback,
                "rule": self.rule, "reason": self.reason, "questions": list(self.questions),
                "policy_hash": self.policy_hash, "status": self.status, "if_screened": self.if_screened,
                "screen": list(self.screen), "call_type_flags": list(self.call_type_flags),
                "call_type_dangers": list(self.call_type_dangers), "floor": self.floor}

    def explain(self) -> dict:
        return {**self.to_dict(), "policy": self.policy, "category": self.category, "intended": self.intended,
                "notes": list(self.notes)}

    def format(self) -> str:
        send = self.responder + (f" + {self.co_responder}" if self.co_responder else "")
        if self.status == "screen_first":
            s = self.if_screened
            then = s["responder"] + (f" + {s['co_responder']}" if s.get("co_responder") else "")
            lines = [f"SCREEN FIRST: ask {', '.join(self.screen)}",
                     f"send now (cannot ask): {send}", f"once every answer is no: {then}"]
        else:
            lines = [f"send: {send}"]
        lines.append(f"why:  {self.reason}  [rule {self.rule}]")
        if self.fallback:
            lines.append(f"if busy: {self.fallback}")
        if self.category:
            lines.append(f"category: {self.category}")
        if self.call_type_dangers:
            lines.append(f"call type states: {', '.join(self.call_type_dangers)}")
        if self.questions:
            lines.append("ask:")
            lines += [f"  - {q}" for q in self.questions]
        lines.append(f"policy: {self.policy} {self.policy_hash[:12]}")
        return "\n".join(lines)


# The flags set in each combination of bits, gravest first: a table, since every triage names them.
_NAMES = tuple(tuple(f for f in SCREEN_ORDER if bits & FLAG_BIT[f]) for bits in range(1 << len(FLAGS)))
_BITS = tuple(FLAG_BIT[f] for f in FLAGS)


_COMPILED: "weakref.WeakKeyDictionary[Policy, CompiledPolicy]" = weakref.WeakKeyDictionary()
_COMPILED_LOCK = threading.Lock()


def compiled(policy: Policy) -> CompiledPolicy:
    """The policy's rules as fast predicates, built on the policy's first triage.

    A pure function of an immutable policy, kept only as long as the policy object lives (a
    weak map keyed by the object), so it can never change an answer; it lives here rather
    than on the policy so that the policy's definition does not import triage."""
    cp = _COMPILED.get(policy)
    if cp is None:
        with _COMPILED_LOCK:
            cp = _COMPILED.get(policy)
            if cp is None:
                cp = _COMPILED[policy] = CompiledPolicy(policy)
    return cp


def shipped_categories(policy: Policy, agency: str | None = None):
    """The shipped classification for the policy's taxonomy (with an agency's crosswalk if
    given): the category provider triage uses when no other is passed in."""
    from ..taxonomy.provider import category_provider

    return category_provider(taxonomy_path=policy.taxonomy, agency=agency)


def triage(policy: Policy, call: Call, categories=None) -> Recommendation:
    """Who to send, why, and what to ask: the policy's answer for one call.

    ``categories``: the ``taxonomy.provider.CategoryProvider`` that classifies a call type the
    call gives no category for (a city's overrides or model); default, the shipped one for the
    policy's taxonomy."""
    cp = compiled(policy)
    cat = call.category
    if cat is None and call.call_type is not None:
        cat = (categories if categories is not None else shipped_categories(policy)).category(call.call_type)
    cat = cat or None
    texts, tbits, kinds = cp.typed(call.call_type)
    present = call.present | tbits
    known = call.known | tbits
    dow, minute, unavailable = call.dow, call.minute, call.unavailable
    args = (cat, texts, call.priority, call.origin, dow, minute, present)
    k, resp, co, fb, notes, floored = cp.decide(*args, unavailable)
    rule = cp.rules[k][0]
    overruled = tbits & ~call.present & call.known
    if overruled:
        notes.append(f"the call type says {', '.join(_NAMES[overruled])}: a 'no' answer does not override it")

    # Unknown is never no, and yes is not no: without police, every question of the rule's
    # screen must be answered no. A yes to one of them (a rule that asks about injury and also
    # matches an injured caller; a danger's yes is the floor's) fails the screen: the rule's
    # responder is not sent, the unscreened responder is, as when the call-taker cannot ask.
    civilian = not (floored or cp.with_police(resp, co))
    failed = cp.screen_bits[k] & present if civilian else 0
    screen_bits = cp.screen_bits[k] & ~known if civilian and not failed else 0
    base = (resp, co)  # the answer the questions below are weighed against: the screened one
    after = None
    if failed:
        would = resp
        resp, co, fb, u_notes = cp.unscreened_answer(k, resp, dow, minute, unavailable)
        notes += [f"the screen failed ({', '.join(_NAMES[failed])} answered yes): {would} is not sent", *u_notes]
    if screen_bits:
        after = {"responder": resp, "co_responder": co, "fallback": fb}
        resp, co, fb, u_notes = cp.unscreened_answer(k, resp, dow, minute, unavailable)
        notes += u_notes

    # Unanswered questions outside the screen whose "yes" would change who is sent. (A danger
    # flag that leaves the rule unchanged cannot: the answer has police already, or the flag
    # is in the screen.)
    changing = 0
    unknown = ~known & ~screen_bits
    for bit in _BITS:
        if unknown & bit:
            j = cp.match_with_flag(k, bit, *args)
            if j != k:
                a_resp, a_co, _, _ = cp.resolve(cp.rules[j][0], dow, minute, unavailable)
                if (present | bit) & DANGER_BITS and not cp.with_police(a_resp, a_co):
                    a_resp, a_co = cp.floored(a_resp, a_co)
                if (a_resp, a_co) != base:
                    changing |= bit
    screen = _NAMES[screen_bits]
    questions = cp.questions(k, screen, changing)

    reason = rule.reason
    floor = None
    if floored:
        would = cp.resolve(rule, dow, minute, unavailable)[0]
        flags = _NAMES[present & DANGER_BITS]
        floor = {"rule": rule.id, "would_send": would, "flags": list(flags)}
        reason = (f"Safety floor: {', '.join(flags)}{' (stated by the call type)' if tbits & DANGER_BITS else ''}; "
                  f"rule {rule.id} would send {would}, but no policy sends a responder without police into danger.")
    elif screen_bits:
        then = after["responder"] + (f" with {after['co_responder']}" if after["co_responder"] else "")
        reason = (f"Screen first: ask about {', '.join(screen)}. If you cannot ask, send {resp}"
                  + (f" with {co}" if co else "") + f". Once every answer is no: {then}. {rule.reason}")
    elif tbits & DANGER_BITS:
        reason += f" (the call type states {', '.join(kinds)})"
    if notes:
        reason = reason + " (" + "; ".join(notes) + ")"
    if minute is None and not policy.responders[resp].hours.always:
        reason += f" (time not given: assumes {resp} is on duty, hours {policy.responders[resp].hours})"
    return Recommendation(resp, co, fb, rule.id, reason, questions, policy.hash, policy.id, cat,
                          "police" if floored else rule.responder, tuple(notes),
                          "screen_first" if screen_bits else "final", after, screen, _NAMES[tbits], kinds, floor)


def triage_args(policy, call_type: str, flags=(), priority=None, at=None, origin=None, category=None,
                unavailable=None, model_path=None, overrides=None) -> Recommendation:
    """The `rightresponse triage` command: policy name or file, free-text call type, flags.

    ``at`` defaults to the local time now. Flags are names (present) or ``no_NAME``
    (confirmed absent). ``model_path``: a saved taxonomy model, so a one-off command does
    not retrain it; ``overrides``: a city's category overrides. Raises ValueError (bad
    input) or PolicyError (bad policy).
    """
    pol = load_policy(policy)
    from ..taxonomy.provider import category_provider

    categories = category_provider(taxonomy_path=pol.taxonomy, model_path=model_path, overrides=overrides)
    if at is None:
        at = datetime.now()
    call = make_call(call_type=call_type, category=category, priority=priority, origin=origin, at=at,
                     flags=list(flags or ()), unavailable=unavailable)
    return triage(pol, call, categories)
