"""Triage: the policy's recommendation for one call, compiled once so each call takes microseconds.

``triage(policy, call)`` is pure: the answer depends only on the policy and the call. The
call type's category comes from the taxonomy classifier before matching; it is memoized on
the policy object (or passed in as ``Call.category``), never in a module-level cache.

Unknown answers: a flag nobody has asked about counts as absent for the recommendation
(the policy as written), and every unanswered flag whose "yes" would change the answer is
returned as a question for the call-taker, so the recommendation is never silently
optimistic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from ..schema import ORIGINS
from .model import FLAG_BIT, FLAGS, RESPONDERS, Clause, Policy, Rule, _taxonomy_vocab, flag_info, load_policy


# ---------------------------------------------------------------------------- the call

@dataclass(frozen=True)
class Call:
    """What the call-taker knows. ``flags`` holds answered questions: name -> True/False.

    ``category``: None = not classified yet (triage classifies ``call_type`` via the taxonomy,
    memoized on the policy); ``""`` = classified, no category fits.
    """

    call_type: str | None = None
    category: str | None = None
    priority: int | None = None
    origin: str | None = None
    dow: int | None = None  # 0 = Monday; None = day unknown
    minute: int | None = None  # minute of the local day; None = time unknown
    flags: tuple[tuple[str, bool], ...] = ()
    unavailable: frozenset = frozenset()
    present: int = field(default=0, compare=False)
    known: int = field(default=0, compare=False)

    def __post_init__(self):
        fl = self.flags.items() if isinstance(self.flags, dict) else self.flags
        fl = tuple(sorted((str(k), bool(v)) for k, v in fl))
        object.__setattr__(self, "flags", fl)
        object.__setattr__(self, "unavailable", frozenset(self.unavailable))
        present = known = 0
        for k, v in fl:
            bit = FLAG_BIT.get(k)
            if bit is None:
                raise ValueError(f"unknown flag {k!r}; flags: {', '.join(FLAGS)}")
            known |= bit
            if v:
                present |= bit
        object.__setattr__(self, "present", present)
        object.__setattr__(self, "known", known)

    def with_flag(self, name: str, value: bool = True) -> "Call":
        fl = dict(self.flags)
        fl[name] = value
        return Call(self.call_type, self.category, self.priority, self.origin, self.dow, self.minute,
                    tuple(fl.items()), self.unavailable)


def _parse_flags(flags) -> dict:
    if flags is None:
        return {}
    if isinstance(flags, dict):
        out = {}
        for k, v in flags.items():
            if k not in FLAG_BIT:
                raise ValueError(f"unknown flag {k!r}; flags: {', '.join(FLAGS)}")
            if not isinstance(v, bool):
                raise ValueError(f"flag {k}: use true or false, not {v!r}")
            out[k] = v
        return out
    out = {}
    for item in ([flags] if isinstance(flags, str) else flags):
        s = str(item).strip().lower().replace("-", "_")
        value = True
        m = re.fullmatch(r"([a-z_]+)\s*=\s*(yes|no|true|false|y|n|1|0)", s)
        if m:
            s, value = m[1], m[2] in ("yes", "true", "y", "1")
        elif s.startswith(("no_", "not_", "!")):
            s, value = s.split("_", 1)[1] if not s.startswith("!") else s[1:], False
        if s not in FLAG_BIT:
            raise ValueError(f"unknown flag {item!r}; flags: {', '.join(FLAGS)} (prefix no_ for a confirmed 'no')")
        out[s] = value
    return out


def _parse_at(at) -> tuple[int | None, int | None]:
    """(weekday, minute of day) from a datetime, a time, 'HH:MM' or an ISO date-time.

    The wall-clock time is used as given: it is the call centre's local time.
    """
    if at is None or at == "":
        return None, None
    if isinstance(at, datetime):
        return at.weekday(), at.hour * 60 + at.minute
    if isinstance(at, time):
        return None, at.hour * 60 + at.minute
    if isinstance(at, date):
        raise ValueError(f"at={at!r}: give a time of day, not only a date")
    s = str(at).strip()
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2}(?:\.\d+)?)?", s)
    if m:
        h, mi = int(m[1]), int(m[2])
        if h > 23 or mi > 59:
            raise ValueError(f"at={at!r}: not a time of day")
        return None, h * 60 + mi
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"at={at!r}: use HH:MM or an ISO date-time like 2025-08-24T03:00") from None
    if len(s) <= 10:
        raise ValueError(f"at={at!r}: give a time of day, not only a date")
    return d.weekday(), d.hour * 60 + d.minute


def make_call(call_type=None, category=None, priority=None, origin=None, at=None, flags=None,
              unavailable=None) -> Call:
    """Build a Call from loose values (CLI strings, YAML examples); ValueError says what is wrong."""
    if priority is not None and priority != "":
        m = re.fullmatch(r"\s*[pP]?(\d+)\s*", str(priority))
        if not m or isinstance(priority, bool):
            raise ValueError(f"priority {priority!r}: give the priority rank (1 = most urgent)")
        priority = int(m[1])
    else:
        priority = None
    if origin is not None and origin not in ORIGINS:
        raise ValueError(f"origin {origin!r}: use one of {', '.join(ORIGINS)}")
    unavailable = frozenset(unavailable or ())
    for r in unavailable:
        if r not in RESPONDERS:
            raise ValueError(f"unavailable responder {r!r}: responders are {', '.join(RESPONDERS)}")
    dow, minute = _parse_at(at)
    return Call(call_type=None if call_type is None else str(call_type), category=category, priority=priority,
                origin=origin, dow=dow, minute=minute, flags=tuple(_parse_flags(flags).items()), unavailable=unavailable)


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
    """A policy ready for fast matching, with per-object caches of call-type text and category."""

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
        self._texts: dict = {}
        self._categories: dict = {}
        self._tax_opts: dict | None = None

    # -- call-type text and category, memoized per policy object

    def texts(self, call_type) -> tuple[str, ...]:
        if call_type is None:
            return ()
        t = self._texts.get(call_type)
        if t is None:
            from ..taxonomy.normalize import clean, normalize

            raw = clean(call_type)
            norm = normalize(call_type)
            t = self._texts[call_type] = (raw,) if norm == raw else (raw, norm)
        return t

    def classify(self, call_type) -> tuple[str | None, float | None]:
        """(category, confidence) of a free-text call type, via the taxonomy classifier."""
        if call_type is None or not str(call_type).strip():
            return None, None
        hit = self._categories.get(call_type)
        if hit is None:
            self.classify_many([call_type])
            hit = self._categories[call_type]
        return hit

    def use_classifier(self, classifier=None, model_path=None, overrides=None) -> None:
        """Classify with this classifier, saved model or override table (clears the memo)."""
        from .classify import taxonomy_options

        self._tax_opts = taxonomy_options(classifier, model_path, overrides, self.policy.taxonomy)
        self._categories.clear()

    def classify_many(self, values, agency: str | None = None) -> None:
        todo = [v for v in dict.fromkeys(values) if v is not None and v not in self._categories]
        if not todo:
            return
        from .classify import classify_call_types, taxonomy_options

        if self._tax_opts is None:
            self._tax_opts = taxonomy_options(taxonomy_path=self.policy.taxonomy)
        for v, (cat, conf) in classify_call_types(todo, agency=agency, **self._tax_opts).items():
            self._categories[v] = (cat, conf)

    def remember(self, call_type, category, confidence=None) -> None:
        """Seed the cache with a category decided elsewhere (e.g. a city's crosswalk)."""
        self._categories[call_type] = (category, confidence)

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

    def resolve(self, rule: Rule, dow, minute, unavailable=frozenset()):
        """(responder, co_responder, fallback, notes) after hours and availability."""
        notes = []
        r = rule.responder
        seen = {r}
        step = rule.fallback or self.responders[r].fallback
        while not self.available(r, dow, minute, unavailable):
            why = "busy" if r in unavailable else f"off duty at {_hhmm(minute)} (hours {self.responders[r].hours})"
            if step is None or step in seen:
                notes.append(f"{r} is {why} and has no other fallback: send {r} when available")
                break
            notes.append(f"{r} is {why}: sending {step}")
            r = step
            seen.add(r)
            step = self.responders[r].fallback
        co = rule.co_responder
        if co is not None and not self.available(co, dow, minute, unavailable):
            notes.append(f"co-responder {co} is " + ("busy" if co in unavailable else f"off duty at {_hhmm(minute)}")
                         + ": follow up later")
            co = None
        if co == r:
            co = None
        fb = step if step is not None and step != r else None
        return r, co, fb, notes


def _hhmm(minute) -> str:
    return "unknown time" if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


# ---------------------------------------------------------------------------- triage

@dataclass(frozen=True)
class Recommendation:
    responder: str
    co_responder: str | None
    fallback: str | None
    rule: str
    reason: str
    questions: tuple[str, ...]
    policy_hash: str
    policy: str
    category: str | None
    intended: str  # the rule's responder before hours and availability
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The CLI's --json contract."""
        return {"responder": self.responder, "co_responder": self.co_responder, "fallback": self.fallback,
                "rule": self.rule, "reason": self.reason, "questions": list(self.questions),
                "policy_hash": self.policy_hash}

    def explain(self) -> dict:
        return {**self.to_dict(), "policy": self.policy, "category": self.category, "intended": self.intended,
                "notes": list(self.notes)}

    def format(self) -> str:
        send = self.responder + (f" + {self.co_responder}" if self.co_responder else "")
        lines = [f"send: {send}", f"why:  {self.reason}  [rule {self.rule}]"]
        if self.fallback:
            lines.append(f"if busy: {self.fallback}")
        if self.category:
            lines.append(f"category: {self.category}")
        if self.questions:
            lines.append("ask:")
            lines += [f"  - {q}" for q in self.questions]
        lines.append(f"policy: {self.policy} {self.policy_hash[:12]}")
        return "\n".join(lines)


def triage(policy: Policy, call: Call) -> Recommendation:
    """Who to send, why, and what to ask: the policy's answer for one call."""
    cp = policy.compiled
    cat = call.category
    if cat is None and call.call_type is not None:
        cat = cp.classify(call.call_type)[0]
    cat = cat or None
    texts = cp.texts(call.call_type)
    args = (cat, texts, call.priority, call.origin, call.dow, call.minute, call.present)
    k = cp.match_index(*args)
    rule = cp.rules[k][0]
    resp, co, fb, notes = cp.resolve(rule, call.dow, call.minute, call.unavailable)

    # Unanswered questions whose "yes" would change who is sent.
    changing = []
    unknown = ~call.known
    for f in FLAGS:
        bit = FLAG_BIT[f]
        if unknown & bit:
            j = cp.match_with_flag(k, bit, *args)
            if j != k:
                a_resp, a_co, _, _ = cp.resolve(cp.rules[j][0], call.dow, call.minute, call.unavailable)
                if (a_resp, a_co) != (resp, co):
                    changing.append(f)
    questions = []
    if changing:
        info = flag_info()
        own = {q.flag: q.text for q in rule.questions if q.flag}
        order = [q.flag for q in rule.questions if q.flag in changing] + [f for f in changing if f not in own]
        questions = [own.get(f) or info[f].question for f in order]
    questions += [q.text for q in rule.questions if q.flag is None]

    reason = rule.reason
    if notes:
        reason = reason + " (" + "; ".join(notes) + ")"
    if call.minute is None and not policy.responders[resp].hours.always:
        reason += f" (time not given: assumes {resp} is on duty, hours {policy.responders[resp].hours})"
    return Recommendation(resp, co, fb, rule.id, reason, tuple(questions), policy.hash, policy.id, cat,
                          rule.responder, tuple(notes))


def triage_args(policy, call_type: str, flags=(), priority=None, at=None, origin=None, category=None,
                unavailable=None, model_path=None, overrides=None) -> Recommendation:
    """The `rightresponse triage` command: policy name or file, free-text call type, flags.

    ``at`` defaults to the local time now. Flags are names (present) or ``no_NAME``
    (confirmed absent). ``model_path``: a saved taxonomy model, so a one-off command does
    not retrain it; ``overrides``: a city's category overrides. Raises ValueError (bad
    input) or PolicyError (bad policy).
    """
    pol = load_policy(policy)
    if model_path is not None or overrides is not None:
        pol.compiled.use_classifier(model_path=model_path, overrides=overrides)
    if at is None:
        at = datetime.now()
    call = make_call(call_type=call_type, category=category, priority=priority, origin=origin, at=at,
                     flags=list(flags or ()), unavailable=unavailable)
    return triage(pol, call)
