"""Turn a raw CAD call-type value into comparable text.

Cities write the same call type in many ways ("BURG VEH", "11V - Burg Motor Veh",
"SIMPLE BURGLARY VEHICLE"). Cleaning, stripping agency code prefixes and expanding
abbreviations makes the rules and the model see the words, not the local spelling.
All tables live in ``data/`` so they can be read and extended without code changes.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass

import yaml

from .taxonomy import DATA_DIR

_WS = re.compile(r"\s+")
_DOTTED = re.compile(r"\b(?:[A-Z]\.){2,}[A-Z]?\.?")
_WORD = re.compile(r"[A-Z0-9']+")


@dataclass(frozen=True)
class _Tables:
    prefixes: tuple[re.Pattern, ...]
    code_only: re.Pattern
    negation: re.Pattern
    phrases: tuple[tuple[re.Pattern, str], ...]
    words: dict


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    with open(DATA_DIR / "normalize.yaml", encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    phrases, words = [], {}
    with open(DATA_DIR / "abbreviations.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            abbr = (row["abbreviation"] or "").strip().upper()
            if not abbr or abbr.startswith("#"):
                continue
            exp = row["expansion"].upper()
            if re.fullmatch(r"[A-Z0-9]+", abbr):
                words[abbr] = exp.strip()
            else:
                # Phrase: bounded by non-word characters on the sides that are word chars.
                left = r"(?<![A-Z0-9])" if abbr[0].isalnum() else ""
                right = r"(?![A-Z0-9])" if abbr[-1].isalnum() else ""
                phrases.append((re.compile(left + re.escape(abbr) + right), " " + exp + " "))
    phrases.sort(key=lambda p: -len(p[0].pattern))
    return _Tables(
        prefixes=tuple(re.compile(p) for p in cfg["code_prefixes"]),
        code_only=re.compile(cfg["code_only"]),
        negation=re.compile(cfg["negation_scope"]),
        phrases=tuple(phrases),
        words=words,
    )


def clean(value: object) -> str:
    """Upper-case, Unicode-normalize and collapse whitespace; '' for missing values."""
    if value is None:
        return ""
    s = str(value)
    if s != s or s.lower() in ("nan", "none", "<na>"):  # float NaN / pandas NA rendered
        return ""
    s = unicodedata.normalize("NFKC", s).replace("\ufeff", "")
    return _WS.sub(" ", s).strip().upper()


def strip_code_prefix(text: str) -> str:
    """Remove agency code prefixes ("11V - ", "104D_", "--", "24Q7 ") repeatedly."""
    t = _tables()
    prev = None
    while prev != text:
        prev = text
        for p in t.prefixes:
            text = p.sub("", text, count=1).strip()
    return text


def is_code_only(value: object) -> bool:
    """True for values like '415V' or '24Q7' that carry no words to read."""
    return bool(_tables().code_only.match(clean(value)))


def expand(text: str) -> str:
    """Expand CAD abbreviations, keeping punctuation (rules use it to scope negation)."""
    t = _tables()
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    for pat, rep in t.phrases:
        text = pat.sub(rep, text)
    text = text.replace("_", " ").replace("&", " AND ")
    text = _WORD.sub(lambda m: t.words.get(m.group(0), m.group(0)), text)
    return _WS.sub(" ", text).strip()


def normalize(value: object) -> str:
    """Cleaned, prefix-stripped, abbreviation-expanded text (punctuation kept)."""
    c = clean(value)
    stripped = strip_code_prefix(c)
    return expand(stripped or c)


def without_negated(text: str) -> str:
    """Drop negated scopes ("NO ASSAULT", "(NO THRT/ASLT/DIST)", "NOT DV")."""
    return _WS.sub(" ", _tables().negation.sub(" ", text)).strip()


def rule_text(value: object) -> str:
    """Text keyword rules see: negated scopes dropped *before* abbreviations expand, so
    "NOT DV" goes as a whole rather than leaving "VIOLENCE" behind."""
    c = clean(value)
    stripped = strip_code_prefix(c) or c
    return expand(without_negated(stripped))


def model_text(value: object) -> str:
    """Text the statistical model sees: normalized words, punctuation as spaces."""
    return _WS.sub(" ", re.sub(r"[^A-Z0-9 ]+", " ", normalize(value))).strip()


def match_key(value: object) -> str:
    """Key for exact crosswalk/override lookups: case- and whitespace-insensitive."""
    return clean(value)
