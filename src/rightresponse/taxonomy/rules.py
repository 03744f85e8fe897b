"""Ordered keyword rules (data/keyword_rules.yaml): transparent, high-precision first pass."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from .call_type_text import rule_text
from ..yaml_data import load_yaml
from .taxonomy import DATA_DIR, TaxonomyError, load_taxonomy

DEFAULT_RULES = DATA_DIR / "keyword_rules.yaml"


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    any: tuple[str, ...]
    unless: tuple[str, ...]
    why: str
    any_re: re.Pattern | None = None  # the `any` patterns as one alternation: one scan per value
    unless_re: re.Pattern | None = None

    def matches(self, text: str) -> bool:
        if self.any_re is None or not self.any_re.search(text):
            return False
        return self.unless_re is None or not self.unless_re.search(text)


def _alternation(patterns: tuple[str, ...]) -> re.Pattern | None:
    """One compiled alternation (compiling the 400 patterns one by one as well cost a
    one-call `triage` command 40 ms); a bad pattern is then found and named one by one."""
    if not patterns:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns))
    except re.error:
        for p in patterns:
            re.compile(p)  # raises, naming the pattern's error
        raise


def load_rules(path: str | Path | None = None, taxonomy=None) -> tuple[Rule, ...]:
    """Rules in precedence order; categories are checked against the taxonomy."""
    tax = taxonomy or load_taxonomy()
    rules = _load_rules(str(Path(path).resolve()) if path else str(DEFAULT_RULES))
    for r in rules:
        if r.category not in tax:
            raise TaxonomyError(f"{path or DEFAULT_RULES}: rule {r.id!r}: category {r.category!r} is not in taxonomy {tax.name}")
    return rules


@functools.lru_cache(maxsize=4)
def _load_rules(path: str) -> tuple[Rule, ...]:
    with open(path, encoding="utf-8") as f:
        doc = load_yaml(f)
    out, seen = [], set()
    for i, r in enumerate(doc.get("rules") or [], start=1):
        rid = str(r.get("id") or f"rule{i}")
        if rid in seen:
            raise TaxonomyError(f"{path}: duplicate rule id {rid!r}")
        seen.add(rid)
        try:
            any_, unless = tuple(str(p) for p in r["any"]), tuple(str(p) for p in r.get("unless") or ())
            out.append(Rule(id=rid, category=str(r["category"]), any=any_, unless=unless,
                            why=str(r.get("why") or ""), any_re=_alternation(any_), unless_re=_alternation(unless)))
        except (KeyError, re.error) as exc:
            raise TaxonomyError(f"{path}: rule {rid!r}: {exc}") from None
    return tuple(out)


def apply_rules(value: object, rules: tuple[Rule, ...], lexicon=None) -> Rule | None:
    """The first rule that fires on the value, or None. ``lexicon``: the spellings and
    abbreviations a fitted classifier learned (taxonomy.lexicon), read before the rules."""
    return first_rule(rule_text(value, lexicon), rules)


def first_rule(text: str, rules: tuple[Rule, ...]) -> Rule | None:
    """The first rule that fires on an already prepared rule text."""
    if not text:
        return None
    for r in rules:
        if r.matches(text):
            return r
    return None


_RULE_WORD = re.compile(r"(?<![A-Za-z\\])[A-Z]{4,}")


def rule_words(rules) -> frozenset[str]:
    """The words (four letters or more) the rules' patterns are written with: words a
    dispatcher's text means literally, so the learned lexicon never reads them as a
    misspelling of something else."""
    return frozenset(w for r in rules for p in r.any + r.unless for w in _RULE_WORD.findall(p))
