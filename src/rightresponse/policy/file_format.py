"""The policy file format: a pydantic model of every key, its type and its checks.

``PolicyFile`` checks keys, responders, flags, origins, hours and patterns, every problem at
once, with its YAML path (``rules[3].responder``); checks that need the taxonomy a policy
names read it from the validation context. The same model is the JSON Schema editors use
(`rightresponse schema policy`). A new key: a field below, then read it in
``model.parse_policy``. Kept apart from ``model.py`` so that loading a preset, which the tests
have checked, does not build it (pydantic's schema build is 0.2 s of a `triage` command).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..errors import did_you_mean
from ..schema import ORIGINS
from ..validation import Spec, bad, check, note
from .call import make_call, screened_flags
from .findings import Finding
from .hours import parse_hours
from .vocabulary import FLAGS, RESPONDERS

ResponderId = Literal[RESPONDERS]
FlagName = Literal[FLAGS]
OriginName = Literal[ORIGINS]
_POLICE = tuple(r for r in RESPONDERS if r in ("police", "co_responder"))  # kinds fixed by the catalogue


def _one_or_many(v: Any) -> Any:
    return v if isinstance(v, list) else [v]


def _many(tp):
    """One value or a list of them (``category: Behavioral Health`` or ``[A, B]``)."""
    return Annotated[list[tp], BeforeValidator(_one_or_many, json_schema_input_type=tp | list[tp])]


def _hours(v: Any) -> Any:
    try:
        parse_hours(tuple(v) if isinstance(v, list) else str(v))
    except ValueError as exc:
        raise bad(str(exc)) from None
    return v


HoursText = Annotated[str | list[str], AfterValidator(_hours)]


class ResponderOverride(Spec):
    """A responder's hours, capacity or fallback in this city (its kind is the catalogue's)."""

    name: str | None = None
    description: str | None = None
    hours: HoursText | None = None
    capacity: Annotated[int, Field(ge=0, strict=True)] | None = Field(None, description="teams on duty; null = unlimited")
    police_backup: Annotated[bool, Field(strict=True)] | None = None
    fallback: ResponderId | None = None
    note: str | None = None


def _categories_known(names: list[str], info: ValidationInfo, key: str) -> list[str]:
    known = (info.context or {}).get(key) or ()
    for i, c in enumerate(names):
        if known and c not in known:
            what = "category" if key == "categories" else "crime_group"
            raise bad(f"unknown {what} {c!r}{did_you_mean(c, known)}", at=(i,) if len(names) > 1 else ())
    return names


def _regexes(pats: list[str]) -> list[str]:
    for p in pats:
        try:
            re.compile(p, re.IGNORECASE)
        except re.error as exc:
            raise bad(f"call_type pattern {p!r} is not a valid regular expression: {exc}") from None
    return pats


def _priorities(items: list) -> list:
    for item in items:
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+)|(\+))?", str(item).strip())
        if not m or isinstance(item, bool):
            raise bad(f"priority {item!r}: use a rank (1 = most urgent), 'N-M' or 'N+'")
        if m[2] and int(m[2]) < int(m[1]):
            raise bad(f"priority {item!r}: empty range")
    return items


class When(Spec):
    """Conditions that must all hold; a list of them: any may match."""

    category: Annotated[_many(str), AfterValidator(lambda v, info: _categories_known(v, info, "categories"))] | None = None
    crime_group: Annotated[_many(str), AfterValidator(lambda v, info: _categories_known(v, info, "groups"))] | None = None
    call_type: Annotated[_many(str), AfterValidator(_regexes)] | None = Field(
        None, description="regular expressions, case-insensitive, searched in the call type")
    priority: Annotated[_many(int | str), AfterValidator(_priorities)] | None = Field(
        None, description="ranks (1 = most urgent): 2, [1, 2], '2-4', '3+'")
    origin: _many(OriginName) | None = None
    time: HoursText | None = None
    flags: dict[FlagName, Annotated[bool, Field(strict=True)]] | None = Field(
        None, description="flag: true (present) or false (absent)")
    any_flag: _many(FlagName) | None = None

    @model_validator(mode="after")
    def _not_empty(self):
        if not self.model_fields_set:
            raise bad("a condition is needed (a rule that matches every call belongs in 'default')")
        return self


class FlagQuestion(Spec):
    flag: FlagName
    text: str | None = None


def _question(v: Any) -> Any:
    if isinstance(v, str) and not v.strip():
        raise bad("a question is a flag name, {flag: NAME, text: ...} or the question's text")
    return v


Question_ = Annotated[str | FlagQuestion, AfterValidator(_question)]


class _RuleBody(Spec):
    responder: ResponderId
    co_responder: ResponderId | None = None
    fallback: ResponderId | None = None
    reason: str = Field(description="say in plain words why this responder fits")
    questions: _many(Question_) | None = None
    note: str | None = None
    unscreened: ResponderId | None = Field(None, description="who goes until the screen is complete")

    @field_validator("reason")
    @classmethod
    def _said(cls, v: str) -> str:
        if not v.strip():
            raise bad("say in plain words why this responder fits")
        return v

    @field_validator("unscreened")
    @classmethod
    def _with_police(cls, v):
        if v is not None and v not in _POLICE:
            raise bad(f"{v!r} is not a responder whose officers attend (use {', '.join(_POLICE)}): it goes "
                      "before anyone has asked about a weapon")
        return v

    @model_validator(mode="after")
    def _two_responders(self):
        if self.co_responder is not None and self.co_responder == self.responder:
            raise bad(f"co_responder {self.co_responder} is the same as the responder", at=("co_responder",))
        return self


class RuleSpec(_RuleBody):
    id: str = Field(description="a name for the rule, unique in the policy")
    when: When | list[When] = Field(description="a rule that matches every call belongs in 'default'")

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v.strip() == "default":
            raise bad("the id 'default' is reserved for the default rule")
        return v


class DefaultRule(_RuleBody):
    """The rule for every call no other rule matches (it has no 'when')."""


class Expect(Spec):
    responder: ResponderId
    co_responder: ResponderId | None = None
    fallback: ResponderId | None = None
    rule: str | None = None
    status: Literal["final", "screen_first"] | None = None


def _expect(v: Any) -> Any:
    return {"responder": v} if isinstance(v, str) else v


class ExampleSpec(Spec):
    """A call and the answer the policy must give (checked by `policy lint`)."""

    call_type: str | None = None
    category: str | None = None
    priority: Any = None
    origin: Any = None
    at: Any = None
    flags: Any = None
    unavailable: Any = None
    expect: Annotated[Expect, BeforeValidator(_expect, json_schema_input_type=ResponderId | Expect)]
    note: str | None = None
    city: str | None = None
    screened: Annotated[bool, Field(strict=True)] | None = Field(
        None, description="true: every unanswered flag answered no")

    @model_validator(mode="after")
    def _a_call(self, info: ValidationInfo):
        if not self.call_type and not self.category:
            raise bad("give a call_type (or a category)")
        known = (info.context or {}).get("categories") or ()
        if self.category is not None and known and self.category not in known:
            raise bad(f"unknown category {self.category!r}{did_you_mean(self.category, known)}", at=("category",))

        call = {k: getattr(self, k) for k in ("call_type", "category", "priority", "origin", "at", "flags",
                                              "unavailable") if k in self.model_fields_set}
        if self.screened:
            call["flags"] = screened_flags(call.get("flags"))
        try:
            make_call(**call)
        except ValueError as exc:
            raise bad(str(exc)) from None
        return self


class Source(Spec):
    model_config = ConfigDict(extra="allow")
    title: str


class Anchor(Spec):
    """A published figure a report shows beside the policy's history (documentation only)."""

    figure: str
    source: str
    low: Annotated[float, Field(ge=0, le=1)] | None = None
    high: Annotated[float, Field(ge=0, le=1)] | None = None
    measures: str | None = None
    differs: str | None = None


class PolicyFile(Spec):
    """A responder policy: rules in order, the first that matches decides; then the default."""

    id: str = Field(description="the policy's id")
    title: str = Field(description="a title for people")
    summary: str | None = None
    version: str | None = None
    sources: list[Source] | None = None
    taxonomy: str | None = Field(None, description="a taxonomy file, relative to this one (default: Vera's 22)")
    responders: dict[ResponderId, ResponderOverride] | None = None
    unscreened: ResponderId | None = Field(None, description="who goes while a civilian rule's screen is incomplete")
    anchors: _many(Anchor) | None = None
    rules: list[RuleSpec] | None = None
    default: DefaultRule = Field(description="a default rule is required: default: {responder: police, reason: ...}")
    examples: list[ExampleSpec] | None = None

    _police_unscreened = field_validator("unscreened")(_RuleBody._with_police.__func__)

    @field_validator("id", "title")
    @classmethod
    def _said(cls, v: str) -> str:
        if not v.strip():
            raise bad("empty")
        return v

    @field_validator("rules", mode="before")
    @classmethod
    def _unique_ids(cls, v, info: ValidationInfo):
        seen = set()
        for i, r in enumerate(v if isinstance(v, list) else []):
            rid = str(r.get("id")).strip() if isinstance(r, dict) and r.get("id") else None
            if rid in seen:
                note(info, ("rules", i, "id"), f"duplicate rule id {rid!r}")
            seen.add(rid)
        return v

    @model_validator(mode="after")
    def _expected_rules(self, info: ValidationInfo):
        ids = {r.id for r in self.rules or ()} | {"default"}
        for i, e in enumerate(self.examples or ()):
            if e.expect.rule is not None and e.expect.rule not in ids:
                note(info, ("examples", i, "expect", "rule"), f"{e.expect.rule!r} is not a rule of this policy"
                     + did_you_mean(e.expect.rule, ids))
        return self


def check_policy(doc: Any, path: str, findings: list[Finding], vocab) -> bool:
    """Validate against PolicyFile; a Finding per problem (the rule's id, the YAML path)."""
    cat_names, _, groups = vocab
    problems = check(PolicyFile, doc, path, {"categories": cat_names, "groups": groups})
    for p in problems:
        rule = None
        m = re.match(r"rules\[(\d+)\]", p.path)
        if m:
            i = int(m[1])
            r = doc["rules"][i] if i < len(doc.get("rules") or []) else None
            rule = str(r.get("id")).strip() if isinstance(r, dict) and r.get("id") else f"#{i + 1}"
        elif p.path == "default" or p.path.startswith("default."):
            rule = "default"
        findings.append(Finding("error", path, rule, f"{p.path}: {p.message}" if p.path else p.message))
    return not problems
