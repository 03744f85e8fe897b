"""Responder policies as data: the catalogue, the YAML policy model, loading and validation.

A policy is an ordered list of rules; the first rule whose conditions match a call decides
who responds, and a default rule is required so every call gets exactly one answer.
Everything a city might argue about (which call types, which flags, which hours) lives in
YAML, so the policy can be read, reviewed, diffed and versioned like any other document.
Validation collects every problem, each naming the file and the rule, before failing.

Two things are not the policy's to decide (engine.py applies them to every policy, and no
rule can opt out): the **safety floor** (a weapon, violence, a crime in progress or suicide
risk with means, answered yes or stated by the call type itself, always gets police, the
police co-responder, or fire/EMS with police) and the **screen** (a responder without police
is sent only once the rule's screening questions are answered "no"; until then the policy's
``unscreened`` responder goes).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import RightResponseError
from ..schema import ORIGINS

DATA_DIR = Path(__file__).parent / "data"
PRESETS_DIR = Path(__file__).parent / "presets"
CATALOGUE = DATA_DIR / "responders.yaml"

RESPONDERS = ("police", "co_responder", "crisis_team", "community_responder", "non_emergency", "fire_ems", "no_dispatch")
FLAGS = ("weapon", "violence", "crime_in_progress", "injury", "suicide_risk_with_means", "intoxication", "juvenile")
KINDS = ("police", "civilian", "medical", "remote")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
FLAG_BIT = {f: 1 << i for i, f in enumerate(FLAGS)}
ALL_MINUTES = (1 << 1440) - 1
# The safety floor: a yes to any of these (or a call type that states one) never gets a
# responder without police, under any policy.
DANGER_FLAGS = ("weapon", "violence", "crime_in_progress", "suicide_risk_with_means")
DANGER_BITS = sum(FLAG_BIT[f] for f in DANGER_FLAGS)
# The order screening questions are asked in: the dangers first, the gravest first.
SCREEN_ORDER = DANGER_FLAGS + tuple(f for f in FLAGS if f not in DANGER_FLAGS)
FLOOR_TEXT = ("Safety floor (every policy, no rule can opt out): a yes to weapon, violence, crime in progress "
              "or suicide risk with means, or a call type that states one of them (a weapon, violence, a crime "
              "in progress, impaired driving, a prisoner, an officer in need), always gets police, the police "
              "co-responder, or fire/EMS with police. A responder without police is sent only once the rule's "
              "screening questions (and these four) are answered no; until then: the unscreened responder.")


class PolicyError(RightResponseError, ValueError):
    """A policy that cannot be used; ``findings`` lists every error with file and rule."""

    def __init__(self, findings: list["Finding"]):
        self.findings = findings
        super().__init__("\n".join(str(f) for f in findings))


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning | info
    file: str
    rule: str | None
    message: str
    check: str = "validate"

    def __str__(self) -> str:
        where = f"{self.file}: rule {self.rule}" if self.rule else self.file
        return f"{where}: {self.level}: {self.message}"

    def to_dict(self) -> dict:
        return {"level": self.level, "file": self.file, "rule": self.rule, "check": self.check, "message": self.message}


# ---------------------------------------------------------------------------- hours

_WINDOW = re.compile(r"^(?:(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+)?"
                     r"(?P<a>\d{1,2}):(?P<am>\d{2})\s*-\s*(?P<b>\d{1,2}):(?P<bm>\d{2})$")


@dataclass(frozen=True)
class Hours:
    """When a responder is on duty (or when a rule applies), minute by minute for each weekday."""

    spec: tuple[str, ...]
    masks: tuple[int, ...]  # 7 ints; bit m set = minute m of that day is covered

    @property
    def always(self) -> bool:
        return all(m == ALL_MINUTES for m in self.masks)

    @property
    def day_specific(self) -> bool:
        return len(set(self.masks)) > 1

    def on(self, dow: int | None, minute: int) -> bool:
        if dow is None:  # day unknown: covered only if covered on every day
            return all((m >> minute) & 1 for m in self.masks)
        return bool((self.masks[dow] >> minute) & 1)

    def breakpoints(self) -> set[int]:
        out = {0}
        for m in self.masks:
            prev = m & 1
            for i in range(1, 1440):
                b = (m >> i) & 1
                if b != prev:
                    out.add(i)
                    prev = b
        return out

    def __str__(self) -> str:
        return ", ".join(self.spec)


def _days(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = (p.strip() for p in part.split("-"))
            i, j = DAYS.index(a), DAYS.index(b)
            out += [(i + k) % 7 for k in range((j - i) % 7 + 1)]
        else:
            out.append(DAYS.index(part))
    return out


@functools.lru_cache(maxsize=256)
def parse_hours(spec) -> Hours:
    """'24/7', 'HH:MM-HH:MM' (may cross midnight), 'mon-fri 10:00-18:00', or a list of those."""
    items = [spec] if isinstance(spec, str) else list(spec)
    if not items:
        raise ValueError("empty hours")
    masks = [0] * 7
    norm = []
    for raw in items:
        s = " ".join(str(raw).strip().lower().split())
        if s in ("24/7", "always", "00:00-24:00"):
            masks = [ALL_MINUTES] * 7
            norm.append("24/7")
            continue
        m = _WINDOW.match(s)
        if not m:
            raise ValueError(f"cannot read hours {raw!r} (use '24/7', 'HH:MM-HH:MM' or 'mon-fri HH:MM-HH:MM')")
        a, am, b, bm = int(m["a"]), int(m["am"]), int(m["b"]), int(m["bm"])
        if a > 24 or b > 24 or am > 59 or bm > 59 or (a == 24 and am) or (b == 24 and bm):
            raise ValueError(f"hours {raw!r}: not a time of day")
        start, end = a * 60 + am, b * 60 + bm
        if start == end:
            raise ValueError(f"hours {raw!r}: empty window (use 24/7 for all day)")
        try:
            days = _days(m["days"]) if m["days"] else list(range(7))
        except ValueError:
            raise ValueError(f"hours {raw!r}: days must be {', '.join(DAYS)}") from None
        for d in days:
            if start < end:
                masks[d] |= ((1 << end) - 1) ^ ((1 << start) - 1)
            else:  # crosses midnight: the part after midnight belongs to the next day
                masks[d] |= ALL_MINUTES ^ ((1 << start) - 1)
                masks[(d + 1) % 7] |= (1 << end) - 1
        norm.append(s)
    return Hours(tuple(norm), tuple(masks))


# ---------------------------------------------------------------------------- catalogue

@dataclass(frozen=True)
class Responder:
    id: str
    name: str
    kind: str
    description: str
    hours: Hours
    capacity: int | None
    police_backup: bool
    fallback: str | None

    @property
    def police(self) -> bool:
        """Officers attend: the call still takes police time."""
        return self.kind == "police"

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "kind": self.kind, "hours": list(self.hours.spec),
                "capacity": self.capacity, "police_backup": self.police_backup, "fallback": self.fallback}


@dataclass(frozen=True)
class FlagInfo:
    name: str
    question: str
    toward: str | None


_RESPONDER_KEYS = {"name", "kind", "description", "hours", "capacity", "police_backup", "fallback"}
_OVERRIDE_KEYS = {"name", "description", "hours", "capacity", "police_backup", "fallback", "note"}


def _responder(rid: str, spec: dict, where: str, errors: list[str]) -> Responder | None:
    try:
        hours = parse_hours(tuple(spec["hours"]) if isinstance(spec.get("hours"), list) else str(spec.get("hours")))
    except ValueError as exc:
        errors.append(f"{where}: {exc}")
        return None
    cap = spec.get("capacity")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 0):
        errors.append(f"{where}: capacity must be a whole number of teams or null, not {cap!r}")
        return None
    if not isinstance(spec.get("police_backup"), bool):
        errors.append(f"{where}: police_backup must be true or false")
        return None
    return Responder(rid, str(spec.get("name") or rid), str(spec.get("kind")), " ".join(str(spec.get("description") or "").split()),
                     hours, cap, spec["police_backup"], spec.get("fallback"))


@functools.lru_cache(maxsize=1)
def _catalogue() -> tuple[dict, dict]:
    with open(CATALOGUE, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    errors: list[str] = []
    out = {}
    for rid in RESPONDERS:
        spec = doc["responders"][rid]
        bad = set(spec) - _RESPONDER_KEYS
        if bad or spec.get("kind") not in KINDS:
            raise RuntimeError(f"{CATALOGUE}: responder {rid}: bad keys {sorted(bad)} or kind {spec.get('kind')!r}")
        r = _responder(rid, spec, f"{CATALOGUE}: responder {rid}", errors)
        if r:
            out[rid] = r
    if errors or set(doc["responders"]) != set(RESPONDERS):
        raise RuntimeError("; ".join(errors) or f"{CATALOGUE}: responders must be exactly {RESPONDERS}")
    flags = {n: FlagInfo(n, str(doc["flags"][n]["question"]), doc["flags"][n].get("toward")) for n in FLAGS}
    return out, flags


def catalogue() -> dict[str, Responder]:
    """The built-in responders (ids, kinds, default hours, capacity, backup, fallback)."""
    return dict(_catalogue()[0])


def flag_info() -> dict[str, FlagInfo]:
    """The risk flags and the standard question that establishes each."""
    return dict(_catalogue()[1])


# ---------------------------------------------------------------------------- taxonomy

@functools.lru_cache(maxsize=4)
def _taxonomy_vocab(path: str | None) -> tuple[tuple[str, ...], dict, tuple[str, ...]]:
    from ..taxonomy.taxonomy import load_taxonomy

    tax = load_taxonomy(path)
    return tuple(tax.names), {c.name: c.crime_group for c in tax.categories}, tuple(tax.crime_groups)


# ---------------------------------------------------------------------------- rules

@dataclass(frozen=True)
class Question:
    text: str
    flag: str | None = None  # the risk flag this question establishes, if any


@dataclass(frozen=True)
class Clause:
    """Conditions that must all hold (a `when` mapping). None = no condition on that field."""

    category: frozenset | None = None
    crime_group: frozenset | None = None
    call_type: tuple[str, ...] | None = None
    priority: tuple[tuple[int, int | None], ...] | None = None
    origin: frozenset | None = None
    time: Hours | None = None
    flags_true: frozenset = frozenset()
    flags_false: frozenset = frozenset()
    any_flag: frozenset = frozenset()

    def canonical(self) -> dict:
        d: dict[str, Any] = {}
        if self.category is not None:
            d["category"] = sorted(self.category)
        if self.crime_group is not None:
            d["crime_group"] = sorted(self.crime_group)
        if self.call_type is not None:
            d["call_type"] = list(self.call_type)
        if self.priority is not None:
            d["priority"] = [list(p) for p in self.priority]
        if self.origin is not None:
            d["origin"] = sorted(self.origin)
        if self.time is not None:
            d["time"] = list(self.time.spec)
        if self.flags_true or self.flags_false:
            d["flags"] = {**{f: True for f in sorted(self.flags_true)}, **{f: False for f in sorted(self.flags_false)}}
        if self.any_flag:
            d["any_flag"] = sorted(self.any_flag)
        return d

    def describe(self) -> str:
        parts = []
        if self.category is not None:
            parts.append("category " + " or ".join(sorted(self.category)))
        if self.crime_group is not None:
            parts.append("crime group " + " or ".join(sorted(self.crime_group)))
        if self.call_type is not None:
            parts.append("call type ~ " + " | ".join(self.call_type))
        if self.priority is not None:
            parts.append("priority " + ", ".join(f"{a}" if a == b else f"{a}+" if b is None else f"{a}-{b}" for a, b in self.priority))
        if self.origin is not None:
            parts.append("origin " + " or ".join(sorted(self.origin)))
        if self.time is not None:
            parts.append("time " + str(self.time))
        parts += [f"{f}" for f in sorted(self.flags_true)]
        parts += [f"no {f}" for f in sorted(self.flags_false)]
        if self.any_flag:
            parts.append("any of " + ", ".join(sorted(self.any_flag)))
        return "; ".join(parts) or "any call"


@dataclass(frozen=True)
class Rule:
    id: str
    index: int
    clauses: tuple[Clause, ...]  # OR of clauses; empty = matches every call
    responder: str
    co_responder: str | None
    fallback: str | None
    reason: str
    questions: tuple[Question, ...]
    default: bool = False
    unscreened: str | None = None  # who goes until the screen is complete (None: the policy's)

    def canonical(self) -> dict:
        return {"id": self.id, "when": [c.canonical() for c in self.clauses], "responder": self.responder,
                "co_responder": self.co_responder, "fallback": self.fallback, "reason": self.reason,
                "questions": [q.flag or q.text for q in self.questions], "default": self.default,
                "unscreened": self.unscreened}

    @property
    def screen_flags(self) -> tuple[str, ...]:
        """The flags a call-taker must answer "no" before this rule's responder, if it sends no
        officer, is sent: the four dangers and the rule's own flag questions, gravest first."""
        own = {q.flag for q in self.questions if q.flag}
        return tuple(f for f in SCREEN_ORDER if f in DANGER_FLAGS or f in own)

    def describe(self) -> str:
        return "every call" if not self.clauses else " OR ".join(f"({c.describe()})" for c in self.clauses)


@dataclass(frozen=True)
class Example:
    index: int
    call: dict
    expect: dict
    note: str = ""
    city: str | None = None  # the sample city whose call type this is


@dataclass(frozen=True, eq=False)
class Policy:
    """A loaded, validated policy: immutable. Its version hash and compiled matching are pure
    functions of its fields, computed on first use (``cached_property``); categories are not
    the policy's: triage takes them from a ``taxonomy.provider`` passed in."""

    id: str
    title: str
    path: str
    summary: str
    version: str | None
    sources: tuple[dict, ...]
    rules: tuple[Rule, ...]  # the default rule is last
    responders: dict  # id -> Responder, effective for this policy
    examples: tuple[Example, ...]
    taxonomy: str | None = None
    unscreened: str = "police"  # who goes while a civilian rule's screen is incomplete
    anchors: tuple[dict, ...] = ()  # published figures to show beside this policy's history

    @property
    def default(self) -> Rule:
        return self.rules[-1]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def canonical(self) -> dict:
        """Everything that can change a recommendation, in a stable form (hashed for the version)."""
        return {
            "id": self.id,
            "taxonomy": self.taxonomy or "vera22",
            "rules": [r.canonical() for r in self.rules],
            "responders": {k: v.to_dict() for k, v in sorted(self.responders.items())},
            "flags": list(FLAGS),
            "safety": {"floor": list(DANGER_FLAGS), "unscreened": self.unscreened,
                       "call_type_flags": call_type_flags_digest()},
        }

    @functools.cached_property
    def hash(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @functools.cached_property
    def compiled(self):
        from .engine import CompiledPolicy

        return CompiledPolicy(self)

    def to_dict(self) -> dict:
        """The policy as data (for --json): what it decides, plus its title, sources and examples."""
        return {**self.canonical(), "title": self.title, "summary": self.summary, "version": self.version,
                "hash": self.hash, "path": self.path, "sources": list(self.sources), "floor": FLOOR_TEXT,
                "anchors": list(self.anchors),
                "examples": [{**e.call, "expect": e.expect} for e in self.examples]}

    def to_text(self) -> str:
        """A readable summary: responders, then rules in order."""
        lines = [f"{self.id}: {self.title}", f"version {self.hash[:12]}  ({self.path})"]
        if self.summary:
            lines.append(self.summary)
        for s in self.sources:
            lines.append(f"  source: {s.get('title', '')}" + (f" <{s['url']}>" if s.get("url") else ""))
        lines.append("\nresponders used:")
        used = {r.responder for r in self.rules} | {r.co_responder for r in self.rules} | {r.fallback for r in self.rules}
        for rid in RESPONDERS:
            if rid in used:
                r = self.responders[rid]
                cap = "" if r.capacity is None else f", capacity {r.capacity}"
                lines.append(f"  {rid:<20} {r.name} (hours {r.hours}{cap}; fallback {r.fallback or '-'})")
        lines.append("\n" + FLOOR_TEXT)
        lines.append(f"unscreened responder: {self.unscreened}")
        lines.append("\nrules (first match wins):")
        for r in self.rules:
            send = r.responder + (f" + {r.co_responder}" if r.co_responder else "")
            fb = f" (fallback {r.fallback})" if r.fallback else ""
            lines.append(f"  {r.index:>2}. {r.id}: {r.describe()}\n      -> {send}{fb}: {r.reason}")
            qs = [q.text for q in r.questions]
            if qs:
                lines.append("      ask: " + " / ".join(qs))
            if not self.compiled.with_police(r.responder, r.co_responder):
                lines.append(f"      screen first: {', '.join(r.screen_flags)} answered no; until then "
                             f"{r.unscreened or self.unscreened}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- loading

_TOP_KEYS = {"id", "title", "summary", "version", "sources", "responders", "rules", "default", "examples", "taxonomy",
             "unscreened", "anchors"}
_RULE_KEYS = {"id", "when", "responder", "co_responder", "fallback", "reason", "questions", "note", "unscreened"}
_DEFAULT_KEYS = {"responder", "co_responder", "fallback", "reason", "questions", "note", "unscreened"}
_WHEN_KEYS = {"category", "crime_group", "call_type", "priority", "origin", "time", "flags", "any_flag"}
_EXAMPLE_KEYS = {"call_type", "category", "priority", "origin", "at", "flags", "unavailable", "expect", "note",
                 "city", "screened"}
_EXPECT_KEYS = {"responder", "co_responder", "fallback", "rule", "status"}
_ANCHOR_KEYS = {"figure", "low", "high", "measures", "source", "differs"}


@functools.lru_cache(maxsize=1)
def call_type_flags_digest() -> str:
    """A digest of the call-type danger patterns: they change recommendations, so they are
    part of every policy's version hash."""
    from ..taxonomy.narrative import CALL_TYPE_FLAGS

    return hashlib.sha256(CALL_TYPE_FLAGS.read_bytes()).hexdigest()[:16]


def list_presets() -> list[str]:
    """Names of the bundled presets (``presets/*.yaml``)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def preset_summaries() -> list[dict]:
    """One row per preset for `policy list`: id, title, version hash, rules, sources."""
    out = []
    for name in list_presets():
        p = load_policy(name)
        out.append({"id": p.id, "title": p.title, "hash": p.hash, "rules": len(p.rules),
                    "sources": [s.get("title") for s in p.sources]})
    return out


def resolve_policy_path(name_or_file: str | os.PathLike) -> Path:
    p = Path(name_or_file)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise PolicyError([Finding("error", str(p), None, "policy file not found")])
        return p
    preset = PRESETS_DIR / f"{name_or_file}.yaml"
    if preset.exists():
        return preset
    close = difflib.get_close_matches(str(name_or_file), list_presets(), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise PolicyError([Finding("error", str(name_or_file), None,
                               f"no such policy file or preset{hint}; presets: {', '.join(list_presets())}")])


def load_policy(name_or_file, strict: bool = True) -> Policy:
    """Load a preset by name or a policy YAML file; raise PolicyError listing every error.

    ``strict=False`` returns ``(policy_or_None, findings)`` instead, for lint.
    """
    if isinstance(name_or_file, Policy):
        return name_or_file if strict else (name_or_file, [])
    path = resolve_policy_path(name_or_file).resolve()
    if path.parent == PRESETS_DIR.resolve():
        policy, findings = _load_preset(str(path))
    else:  # a city's own file may change between calls: read it every time
        policy, findings = _load(str(path))
    errors = [f for f in findings if f.level == "error"]
    if strict:
        if errors:
            raise PolicyError(errors)
        return policy
    return (None if errors else policy), list(findings)


@functools.lru_cache(maxsize=16)
def _load_preset(path: str):
    # Presets are package data and a Policy is immutable (categories are passed to triage, not
    # stored), so one object per preset is shared, with its compiled form.
    return _load(path)


def _load(path: str):
    findings: list[Finding] = []
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        return None, (Finding("error", path, None, f"not valid YAML: {exc}"),)
    except OSError as exc:
        return None, (Finding("error", path, None, f"cannot read: {exc.strerror}"),)
    policy = parse_policy(doc, path, findings)
    return policy, tuple(findings)


def parse_policy(doc: Any, path: str, findings: list[Finding]) -> Policy | None:
    """Validate a policy document; append findings; return the Policy (even with errors) or None."""

    def err(rule, msg):
        findings.append(Finding("error", path, rule, msg))

    if not isinstance(doc, dict):
        err(None, "expected a mapping with id, title, rules and default")
        return None
    for k in sorted(set(doc) - _TOP_KEYS):
        err(None, f"unknown key {k!r}" + _suggest(k, _TOP_KEYS))
    pid = str(doc.get("id") or "").strip()
    if not pid:
        err(None, "missing 'id'")
    if not str(doc.get("title") or "").strip():
        err(None, "missing 'title'")
    taxonomy = doc.get("taxonomy")
    if taxonomy is not None:
        taxonomy = str((Path(path).parent / str(taxonomy)).resolve())
    try:
        cat_names, cat_group, groups = _taxonomy_vocab(taxonomy)
    except Exception as exc:  # a bad taxonomy path is a policy error, not a crash
        err(None, f"taxonomy: {exc}")
        cat_names, cat_group, groups = (), {}, ()

    sources = doc.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, dict) and s.get("title") for s in sources):
        err(None, "sources must be a list of mappings, each with at least a 'title'")
        sources = []

    responders = _effective_responders(doc.get("responders"), path, findings)
    unscreened = _unscreened(doc.get("unscreened", "police"), None, path, findings, responders) or "police"
    anchors = _anchors(doc.get("anchors"), path, findings)

    rules: list[Rule] = []
    seen: set[str] = set()
    raw_rules = doc.get("rules") or []
    if not isinstance(raw_rules, list):
        err(None, "'rules' must be a list")
        raw_rules = []
    for i, r in enumerate(raw_rules, start=1):
        rid = str(r.get("id")).strip() if isinstance(r, dict) and r.get("id") else f"#{i}"
        if not isinstance(r, dict):
            err(rid, "expected a mapping with id, when, responder and reason")
            continue
        if not r.get("id"):
            err(rid, "missing 'id'")
        if rid in seen or rid == "default":
            err(rid, "duplicate rule id" if rid in seen else "the id 'default' is reserved for the default rule")
        seen.add(rid)
        for k in sorted(set(r) - _RULE_KEYS):
            err(rid, f"unknown key {k!r}" + _suggest(k, _RULE_KEYS))
        if "when" not in r:
            err(rid, "missing 'when' (a rule that matches every call belongs in 'default')")
        clauses = _clauses(r.get("when"), rid, path, findings, cat_names, cat_group, groups)
        rule = _rule_body(r, rid, len(rules) + 1, clauses, path, findings, responders, default=False)
        if rule:
            rules.append(rule)

    d = doc.get("default")
    if not isinstance(d, dict):
        err("default", "a default rule is required: default: {responder: police, reason: ...}")
    else:
        for k in sorted(set(d) - _DEFAULT_KEYS):
            err("default", f"unknown key {k!r}" + ("; the default rule matches every call, it has no 'when'" if k == "when" else _suggest(k, _DEFAULT_KEYS)))
        rule = _rule_body(d, "default", len(rules) + 1, (), path, findings, responders, default=True)
        if rule:
            rules.append(rule)

    examples = []
    raw_examples = doc.get("examples") or []
    if not isinstance(raw_examples, list):
        err(None, "'examples' must be a list")
        raw_examples = []
    for i, e in enumerate(raw_examples, start=1):
        ex = _example(e, i, path, findings, cat_names, set(seen) | {"default"})
        if ex:
            examples.append(ex)

    if not rules or rules[-1].id != "default":
        return None
    return Policy(
        id=pid or Path(path).stem, title=str(doc.get("title") or ""), path=path,
        summary=" ".join(str(doc.get("summary") or "").split()), version=None if doc.get("version") is None else str(doc["version"]),
        sources=tuple(dict(s) for s in sources), rules=tuple(rules), responders=responders, examples=tuple(examples),
        taxonomy=taxonomy, unscreened=unscreened, anchors=anchors,
    )


def _unscreened(v, rid, path, findings, responders) -> str | None:
    """A responder who may go before the screen is complete: one whose officers attend."""
    if v is None:
        return None
    v = str(v)
    if v not in responders or not responders[v].police:
        ok = ", ".join(r for r in RESPONDERS if responders.get(r) is not None and responders[r].police)
        findings.append(Finding("error", path, rid, f"unscreened: {v!r} is not a responder whose officers attend "
                                                    f"(use {ok}): it goes before anyone has asked about a weapon"))
        return None
    return v


def _anchors(v, path, findings) -> tuple[dict, ...]:
    """Published figures a report shows beside the policy's history (documentation only)."""
    if v is None:
        return ()
    out = []
    for i, a in enumerate(v if isinstance(v, list) else [v], start=1):
        if not isinstance(a, dict) or not a.get("figure") or not a.get("source") or set(a) - _ANCHOR_KEYS:
            findings.append(Finding("error", path, None, f"anchor {i}: a mapping with figure and source (and optionally "
                                                         f"low, high, measures, differs)"))
            continue
        for k in ("low", "high"):
            x = a.get(k)
            if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= 1):
                findings.append(Finding("error", path, None, f"anchor {i}: {k} is a share between 0 and 1, not {x!r}"))
        out.append({k: (" ".join(str(a[k]).split()) if isinstance(a[k], str) else a[k]) for k in a})
    return tuple(out)


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), sorted(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _effective_responders(over, path: str, findings: list[Finding]) -> dict:
    base = catalogue()
    if over is None:
        return base
    if not isinstance(over, dict):
        findings.append(Finding("error", path, None, "'responders' must map responder ids to overrides"))
        return base
    out = dict(base)
    for rid, spec in over.items():
        where = f"responders.{rid}"
        if rid not in base:
            findings.append(Finding("error", path, None, f"{where}: undefined responder {rid!r}{_suggest(rid, RESPONDERS)}; "
                                                         f"responders: {', '.join(RESPONDERS)}"))
            continue
        if not isinstance(spec, dict):
            findings.append(Finding("error", path, None, f"{where}: expected a mapping of overrides"))
            continue
        for k in sorted(set(spec) - _OVERRIDE_KEYS):
            findings.append(Finding("error", path, None, f"{where}: unknown key {k!r}{_suggest(k, _OVERRIDE_KEYS)}"))
        b = base[rid]
        merged = {"name": b.name, "kind": b.kind, "description": b.description, "hours": list(b.hours.spec),
                  "capacity": b.capacity, "police_backup": b.police_backup, "fallback": b.fallback}
        merged.update({k: v for k, v in spec.items() if k in _OVERRIDE_KEYS and k != "note"})
        errors: list[str] = []
        r = _responder(rid, merged, f"{where}", errors)
        for e in errors:
            findings.append(Finding("error", path, None, e))
        if r is not None:
            if r.fallback is not None and r.fallback not in base:
                findings.append(Finding("error", path, None, f"{where}: fallback {r.fallback!r} is not a responder"))
            out[rid] = r
    return out


def _as_list(v) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _priority(v, rid, path, findings) -> tuple | None:
    out = []
    for item in _as_list(v):
        s = str(item).strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+)|(\+))?", s)
        if not m or isinstance(item, bool):
            findings.append(Finding("error", path, rid, f"priority {item!r}: use a rank (1 = most urgent), 'N-M' or 'N+'"))
            continue
        a = int(m[1])
        b = None if m[3] else int(m[2]) if m[2] else a
        if b is not None and b < a:
            findings.append(Finding("error", path, rid, f"priority {item!r}: empty range"))
            continue
        out.append((a, b))
    return tuple(sorted(set(out), key=lambda p: (p[0], p[1] if p[1] is not None else 1 << 30)))


def _clauses(when, rid, path, findings, cat_names, cat_group, groups) -> tuple[Clause, ...]:
    if when is None:
        return ()
    items = when if isinstance(when, list) else [when]
    out = []
    for w in items:
        if not isinstance(w, dict) or not w:
            findings.append(Finding("error", path, rid, "'when' must be a mapping of conditions (or a list of them: any may match)"))
            continue
        for k in sorted(set(w) - _WHEN_KEYS):
            findings.append(Finding("error", path, rid, f"unknown condition {k!r}{_suggest(k, _WHEN_KEYS)}; "
                                                        f"conditions: {', '.join(sorted(_WHEN_KEYS))}"))
        kw: dict[str, Any] = {}
        if "category" in w:
            cats = [str(c) for c in _as_list(w["category"])]
            for c in cats:
                if cat_names and c not in cat_names:
                    findings.append(Finding("error", path, rid, f"unknown category {c!r}{_suggest(c, cat_names)}"))
            kw["category"] = frozenset(cats)
        if "crime_group" in w:
            gs = [str(c) for c in _as_list(w["crime_group"])]
            for g in gs:
                if groups and g not in groups:
                    findings.append(Finding("error", path, rid, f"unknown crime_group {g!r}{_suggest(g, groups)}"))
            kw["crime_group"] = frozenset(gs)
        if "call_type" in w:
            pats = tuple(str(p) for p in _as_list(w["call_type"]))
            for p in pats:
                try:
                    re.compile(p, re.IGNORECASE)
                except re.error as exc:
                    findings.append(Finding("error", path, rid, f"call_type pattern {p!r} is not a valid regular expression: {exc}"))
            kw["call_type"] = pats
        if "priority" in w:
            kw["priority"] = _priority(w["priority"], rid, path, findings)
        if "origin" in w:
            origins = [str(o) for o in _as_list(w["origin"])]
            for o in origins:
                if o not in ORIGINS:
                    findings.append(Finding("error", path, rid, f"unknown origin {o!r}{_suggest(o, ORIGINS)}; origins: {', '.join(ORIGINS)}"))
            kw["origin"] = frozenset(origins)
        if "time" in w:
            try:
                t = w["time"]
                kw["time"] = parse_hours(tuple(t) if isinstance(t, list) else str(t))
            except ValueError as exc:
                findings.append(Finding("error", path, rid, f"time: {exc}"))
        if "flags" in w:
            fl = w["flags"]
            if not isinstance(fl, dict):
                findings.append(Finding("error", path, rid, "flags must map flag names to true (present) or false (absent)"))
                fl = {}
            t, f_ = set(), set()
            for name, val in fl.items():
                if name not in FLAGS:
                    findings.append(Finding("error", path, rid, f"unknown flag {name!r}{_suggest(name, FLAGS)}; flags: {', '.join(FLAGS)}"))
                elif not isinstance(val, bool):
                    findings.append(Finding("error", path, rid, f"flag {name}: use true (present) or false (absent), not {val!r}"))
                else:
                    (t if val else f_).add(name)
            kw["flags_true"], kw["flags_false"] = frozenset(t), frozenset(f_)
        if "any_flag" in w:
            names = [str(n) for n in _as_list(w["any_flag"])]
            for n in names:
                if n not in FLAGS:
                    findings.append(Finding("error", path, rid, f"unknown flag {n!r}{_suggest(n, FLAGS)}; flags: {', '.join(FLAGS)}"))
            kw["any_flag"] = frozenset(n for n in names if n in FLAGS)
        out.append(Clause(**kw))
    return tuple(out)


def _rule_body(r: dict, rid: str, index: int, clauses, path, findings, responders, default: bool) -> Rule | None:
    ok = True

    def check_responder(key, required):
        nonlocal ok
        v = r.get(key)
        if v is None:
            if required:
                findings.append(Finding("error", path, rid, f"missing '{key}'; responders: {', '.join(RESPONDERS)}"))
                ok = False
            return None
        v = str(v)
        if v not in responders:
            findings.append(Finding("error", path, rid, f"{key}: undefined responder {v!r}{_suggest(v, RESPONDERS)}; "
                                                        f"responders: {', '.join(RESPONDERS)}"))
            ok = False
            return None
        return v

    resp = check_responder("responder", True)
    co = check_responder("co_responder", False)
    fb = check_responder("fallback", False)
    if co is not None and co == resp:
        findings.append(Finding("error", path, rid, f"co_responder {co} is the same as the responder"))
    reason = " ".join(str(r.get("reason") or "").split())
    if not reason:
        findings.append(Finding("error", path, rid, "missing 'reason': say in plain words why this responder fits"))
        ok = False
    questions = []
    flags = flag_info()
    for q in _as_list(r.get("questions") or []):
        if isinstance(q, str) and q.strip() in FLAGS:
            questions.append(Question(flags[q.strip()].question, q.strip()))
        elif isinstance(q, dict) and set(q) <= {"flag", "text"} and q.get("flag") in FLAGS:
            questions.append(Question(str(q.get("text") or flags[q["flag"]].question), q["flag"]))
        elif isinstance(q, str) and q.strip():
            questions.append(Question(" ".join(q.split())))
        else:
            findings.append(Finding("error", path, rid, f"question {q!r}: use a flag name ({', '.join(FLAGS)}), "
                                                        f"{{flag: NAME, text: ...}} or the question's text"))
    unscreened = _unscreened(r.get("unscreened"), rid, path, findings, responders)
    if not ok:
        return None
    return Rule(rid, index, clauses, resp, co, fb, reason, tuple(questions), default, unscreened)


def _example(e, i, path, findings, cat_names, rule_ids) -> Example | None:
    where = f"example {i}"
    if not isinstance(e, dict):
        findings.append(Finding("error", path, None, f"{where}: expected a mapping with call_type and expect"))
        return None
    for k in sorted(set(e) - _EXAMPLE_KEYS):
        findings.append(Finding("error", path, None, f"{where}: unknown key {k!r}{_suggest(k, _EXAMPLE_KEYS)}"))
    exp = e.get("expect")
    if isinstance(exp, str):
        exp = {"responder": exp}
    if not isinstance(exp, dict) or "responder" not in exp or set(exp) - _EXPECT_KEYS:
        findings.append(Finding("error", path, None, f"{where}: expect must be a responder id or a mapping of "
                                                     f"{', '.join(sorted(_EXPECT_KEYS))} (responder required)"))
        return None
    for k in ("responder", "co_responder", "fallback"):
        if exp.get(k) is not None and exp[k] not in RESPONDERS:
            findings.append(Finding("error", path, None, f"{where}: expect {k} {exp[k]!r} is not a responder"))
            return None
    if exp.get("rule") is not None and exp["rule"] not in rule_ids:
        findings.append(Finding("error", path, None, f"{where}: expect rule {exp['rule']!r} is not a rule of this policy"))
        return None
    if not e.get("call_type") and not e.get("category"):
        findings.append(Finding("error", path, None, f"{where}: give a call_type (or a category)"))
        return None
    if e.get("category") is not None and cat_names and e["category"] not in cat_names:
        findings.append(Finding("error", path, None, f"{where}: unknown category {e['category']!r}"))
        return None
    if exp.get("status") not in (None, "final", "screen_first"):
        findings.append(Finding("error", path, None, f"{where}: expect status is 'final' or 'screen_first'"))
        return None
    call = {k: e[k] for k in ("call_type", "category", "priority", "origin", "at", "flags", "unavailable") if k in e}
    if e.get("screened") is not None and not isinstance(e.get("screened"), bool):
        findings.append(Finding("error", path, None, f"{where}: screened is true (every unanswered flag answered no) or false"))
        return None
    try:
        from .engine import make_call, screened_flags

        if e.get("screened"):
            call["flags"] = screened_flags(call.get("flags"))
        make_call(**call)
    except ValueError as exc:
        findings.append(Finding("error", path, None, f"{where}: {exc}"))
        return None
    return Example(i, call, dict(exp), str(e.get("note") or ""), None if e.get("city") is None else str(e["city"]))
