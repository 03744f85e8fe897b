"""Responder policies as data: the catalogue, the YAML policy model, loading and validation.

A policy is an ordered list of rules; the first rule whose conditions match a call decides
who responds, and a default rule is required so every call gets exactly one answer.
Everything a city might argue about (which call types, which flags, which hours) lives in
YAML, so the policy can be read, reviewed, diffed and versioned like any other document.
Validation collects every problem, each naming the file and the rule, before failing.

Two things are not the policy's to decide (triage.py applies them to every policy, and no
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

from .call import screened_flags
from .findings import Finding, PolicyError
from .hours import Hours, parse_hours
from .vocabulary import DANGER_FLAGS, FLAGS, FLOOR_TEXT, KINDS, RESPONDERS, SCREEN_ORDER
from ..yaml_data import load_yaml

DATA_DIR = Path(__file__).parent / "data"
PRESETS_DIR = Path(__file__).parent / "presets"
CATALOGUE = DATA_DIR / "responders.yaml"


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
        doc = load_yaml(f)
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
    """A loaded, validated policy: immutable. Its version hash is a pure function of its
    fields, computed on first use (``cached_property``); its compiled matching is triage's
    (``triage.compiled``); categories are not the policy's: triage takes them from a
    ``taxonomy.provider`` passed in."""

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
    def police_responders(self) -> frozenset:
        return frozenset(r for r, v in self.responders.items() if v.police)

    @functools.cached_property
    def medical_responders(self) -> frozenset:
        return frozenset(r for r, v in self.responders.items() if v.kind == "medical")

    def with_police(self, resp: str, co: str | None) -> bool:
        """The answer keeps an officer on the call in a form the safety floor accepts: police or
        the police co-responder leading, or fire/EMS with police."""
        return resp in self.police_responders or (
            co is not None and co in self.police_responders and resp in self.medical_responders)

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
            if not self.with_police(r.responder, r.co_responder):
                lines.append(f"      screen first: {', '.join(r.screen_flags)} answered no; until then "
                             f"{r.unscreened or self.unscreened}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- loading

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
    # stored), so one object per preset is shared, with its compiled form. The tests check
    # each preset against PolicyFile; loading one only builds it.
    return _load(path, validate=False)


def _load(path: str, validate: bool = True):
    findings: list[Finding] = []
    try:
        with open(path, encoding="utf-8") as f:
            doc = load_yaml(f)
    except yaml.YAMLError as exc:
        return None, (Finding("error", path, None, f"not valid YAML: {exc}"),)
    except OSError as exc:
        return None, (Finding("error", path, None, f"cannot read: {exc.strerror}"),)
    policy = parse_policy(doc, path, findings, validate)
    return policy, tuple(findings)


def parse_policy(doc: Any, path: str, findings: list[Finding], validate: bool = True) -> Policy | None:
    """Validate a policy document (``file_format.PolicyFile``); append a Finding per problem;
    the Policy, or None when there was an error. ``validate=False``: a preset, which the tests
    check (tests/test_file_schemas.py), is only built."""
    if not isinstance(doc, dict):
        findings.append(Finding("error", path, None, "expected a mapping with id, title, rules and default"))
        return None
    taxonomy = doc.get("taxonomy")
    if taxonomy is not None:
        taxonomy = str((Path(path).parent / str(taxonomy)).resolve())
    try:
        vocab = _taxonomy_vocab(taxonomy)
    except Exception as exc:  # a bad taxonomy path is a policy error, not a crash
        findings.append(Finding("error", path, None, f"taxonomy: {exc}"))
        vocab = ((), {}, ())
    if validate:
        from .file_format import check_policy

        if not check_policy(doc, path, findings, vocab):
            return None
    if any(f.level == "error" for f in findings):
        return None
    responders = _effective_responders(doc.get("responders"))
    rules = [_rule(r, str(r["id"]).strip(), i, _clauses(r["when"])) for i, r in enumerate(doc.get("rules") or [], 1)]
    rules.append(_rule(doc["default"], "default", len(rules) + 1, (), default=True))
    examples = tuple(_example(e, i) for i, e in enumerate(doc.get("examples") or [], start=1))
    anchors = doc.get("anchors")
    anchors = () if anchors is None else tuple(
        {k: (" ".join(str(v).split()) if isinstance(v, str) else v) for k, v in a.items()}
        for a in (anchors if isinstance(anchors, list) else [anchors]))
    return Policy(
        id=str(doc["id"]).strip(), title=str(doc["title"]), path=path,
        summary=" ".join(str(doc.get("summary") or "").split()),
        version=None if doc.get("version") is None else str(doc["version"]),
        sources=tuple(dict(s) for s in doc.get("sources") or ()), rules=tuple(rules), responders=responders,
        examples=examples, taxonomy=taxonomy, unscreened=str(doc.get("unscreened") or "police"), anchors=anchors,
    )


# Builders: from a document PolicyFile accepted, the immutable objects triage uses.

def _effective_responders(over) -> dict:
    """The catalogue with this policy's overrides of hours, capacity, backup and fallback."""
    out = catalogue()
    for rid, spec in (over or {}).items():
        b = out[rid]
        merged = {"name": b.name, "kind": b.kind, "description": b.description, "hours": list(b.hours.spec),
                  "capacity": b.capacity, "police_backup": b.police_backup, "fallback": b.fallback}
        merged.update({k: v for k, v in spec.items() if k != "note"})
        errors: list[str] = []
        out[rid] = _responder(rid, merged, f"responders.{rid}", errors)
        assert not errors, errors  # PolicyFile checked them
    return out


def _as_list(v) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _priority(v) -> tuple:
    out = []
    for item in _as_list(v):
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+)|(\+))?", str(item).strip())
        a = int(m[1])
        out.append((a, None if m[3] else int(m[2]) if m[2] else a))
    return tuple(sorted(set(out), key=lambda p: (p[0], p[1] if p[1] is not None else 1 << 30)))


def _clauses(when) -> tuple[Clause, ...]:
    out = []
    for w in _as_list(when):
        kw: dict[str, Any] = {}
        if "category" in w:
            kw["category"] = frozenset(str(c) for c in _as_list(w["category"]))
        if "crime_group" in w:
            kw["crime_group"] = frozenset(str(c) for c in _as_list(w["crime_group"]))
        if "call_type" in w:
            kw["call_type"] = tuple(str(p) for p in _as_list(w["call_type"]))
        if "priority" in w:
            kw["priority"] = _priority(w["priority"])
        if "origin" in w:
            kw["origin"] = frozenset(str(o) for o in _as_list(w["origin"]))
        if "time" in w:
            t = w["time"]
            kw["time"] = parse_hours(tuple(t) if isinstance(t, list) else str(t))
        if "flags" in w:
            kw["flags_true"] = frozenset(f for f, v in w["flags"].items() if v)
            kw["flags_false"] = frozenset(f for f, v in w["flags"].items() if not v)
        if "any_flag" in w:
            kw["any_flag"] = frozenset(_as_list(w["any_flag"]))
        out.append(Clause(**kw))
    return tuple(out)


def _rule(r: dict, rid: str, index: int, clauses, default: bool = False) -> Rule:
    flags = flag_info()
    questions = []
    for q in _as_list(r.get("questions") or []):
        if isinstance(q, str) and q.strip() in FLAGS:
            questions.append(Question(flags[q.strip()].question, q.strip()))
        elif isinstance(q, dict):
            questions.append(Question(str(q.get("text") or flags[q["flag"]].question), q["flag"]))
        else:
            questions.append(Question(" ".join(q.split())))
    return Rule(rid, index, clauses, str(r["responder"]), r.get("co_responder"), r.get("fallback"),
                " ".join(str(r["reason"]).split()), tuple(questions), default, r.get("unscreened"))


def _example(e: dict, i: int) -> Example:
    exp = e["expect"]
    exp = {"responder": exp} if isinstance(exp, str) else dict(exp)
    call = {k: e[k] for k in ("call_type", "category", "priority", "origin", "at", "flags", "unavailable") if k in e}
    if e.get("screened"):
        call["flags"] = screened_flags(call.get("flags"))
    return Example(i, call, exp, str(e.get("note") or ""), None if e.get("city") is None else str(e["city"]))
