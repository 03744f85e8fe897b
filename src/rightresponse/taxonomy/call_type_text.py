"""Turn a raw CAD call-type value into comparable text.

Cities write the same call type in many ways ("BURG VEH", "11V - Burg Motor Veh",
"SIMPLE BURGLARY VEHICLE", "459 SUSPECT THERE NOW"). Cleaning, stripping agency code
prefixes, reading statute citations and expanding abbreviations makes the rules and the
model see the words, not the local spelling. The curated tables live in ``data/`` so they
can be read and extended without code changes; what is learned from labelled call types
(spellings, abbreviations, code numbers) is a ``Lexicon`` that the fitted classifier
carries (``taxonomy.lexicon``), so a city it was not fitted on never shapes it.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass

from ..yaml_data import load_yaml
from .taxonomy import DATA_DIR

_WS = re.compile(r"\s+")
_DOTTED = re.compile(r"\b(?:[A-Z]\.){2,}[A-Z]?\.?")
_WORD = re.compile(r"[A-Z0-9']+")


# A statute or code number inside the text: "459 SUSPECT", "PC459", "459PC", "647(F)",
# "10851R". Three or five digits (California's code sections as agencies cite them);
# four-digit numbers are left alone: they are local radio codes (San Diego 1180 = 11-80).
_CITATION = re.compile(r"(?<![A-Z0-9.$/-])(?:(PC|VC|HS|WI|WIC|BP|CVC|CPC|PEN)\s*)?(\d{3}|\d{5})(?:\.\d+)?"
                       r"(?:\s*\(?([A-Z])\)?)?(?:\s*(PC|VC|HS|WI|WIC|BP|CVC|CPC))?(?![0-9])(?![A-Z]{3})")
_DOLLARS = re.compile(r"[<>]?\s*\$\s*\d[\d,]*(?:\.\d+)?\s*\+?")
_NUMERIC_TOKEN = re.compile(r"\b(?!911\b)\d+[A-Z]?\b")


@dataclass(frozen=True)
class _Tables:
    prefixes: tuple[re.Pattern, ...]
    negation: re.Pattern
    phrases: tuple[tuple[re.Pattern, str], ...]
    words: dict
    alternatives: dict  # abbreviation -> (expansion, ...) whose choice depends on the other words
    statutes: dict  # "459" / "647F" -> words (data/statutes.csv)


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    with open(DATA_DIR / "normalize.yaml", encoding="utf-8") as f:
        cfg = load_yaml(f)
    phrases, words, alternatives = [], {}, {}
    with open(DATA_DIR / "abbreviations.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            abbr = (row["abbreviation"] or "").strip().upper()
            if not abbr or abbr.startswith("#"):
                continue
            exp = row["expansion"].upper()
            if "|" in exp:  # context decides: ACC = ACCIDENT | ACCESSORY
                alternatives[abbr] = tuple(e.strip() for e in exp.split("|"))
                words[abbr] = alternatives[abbr][0]
            elif re.fullmatch(r"[A-Z0-9]+", abbr):
                words[abbr] = exp.strip()
            else:
                # Phrase: bounded by non-word characters on the sides that are word chars.
                left = r"(?<![A-Z0-9])" if abbr[0].isalnum() else ""
                right = r"(?![A-Z0-9])" if abbr[-1].isalnum() else ""
                phrases.append((re.compile(left + re.escape(abbr) + right), " " + exp + " "))
    phrases.sort(key=lambda p: -len(p[0].pattern))
    statutes = {}
    with open(DATA_DIR / "statutes.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            statutes[row["section"].strip().upper()] = row["words"].strip().upper()
    return _Tables(
        prefixes=tuple(re.compile(p) for p in cfg["code_prefixes"]),
        negation=re.compile(cfg["negation_scope"]),
        phrases=tuple(phrases),
        words=words,
        alternatives=alternatives,
        statutes=statutes,
    )


def curated_words() -> frozenset[str]:
    """Every word the curated tables expand to (abbreviations, statutes): real words, which
    the learned lexicon must not read as misspellings."""
    t = _tables()
    texts = [*t.words.values(), *(e for alts in t.alternatives.values() for e in alts),
             *(rep for _, rep in t.phrases), *t.statutes.values()]
    return frozenset(w for x in texts for w in _WORD.findall(x.upper()) if w.isalpha() and len(w) >= 4)


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


def read_citations(text: str, codes=None) -> str:
    """Statute citations and dollar amounts as words: "459 SUSPECT" -> "BURGLARY SUSPECT",
    "THEFT > $950" -> "THEFT VALUE". ``codes``: learned code numbers (a Lexicon's), tried
    after the curated statutes of data/statutes.csv."""
    t = _tables()
    text = _DOLLARS.sub(" VALUE ", text)

    def sub(m):
        num, letter = m.group(2), m.group(3) or ""
        for key in (num + letter, num):
            words = t.statutes.get(key) or (codes.get(key) if codes else None)
            if words:
                return " " + words + " "
        return m.group(0)

    return _CITATION.sub(sub, text)


def expand(text: str, choose=None) -> str:
    """Expand CAD abbreviations, keeping punctuation (rules use it to scope negation).

    ``choose(abbreviation, alternatives, words)``: picks among the expansions of an
    abbreviation whose meaning depends on context (a Lexicon's ``choose``); without it the
    first listed expansion is used."""
    t = _tables()
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    for pat, rep in t.phrases:
        text = pat.sub(rep, text)
    text = text.replace("_", " ").replace("&", " AND ")
    if choose is not None and t.alternatives:
        context = tuple(_WORD.findall(text))
        alts = t.alternatives

        def word(m):
            w = m.group(0)
            return choose(w, alts[w], context) if w in alts else t.words.get(w, w)
        text = _WORD.sub(word, text)
    else:
        text = _WORD.sub(lambda m: t.words.get(m.group(0), m.group(0)), text)
    return _WS.sub(" ", text).strip()


def normalize(value: object, lexicon=None) -> str:
    """Cleaned, prefix-stripped, citation-read, abbreviation-expanded text (punctuation kept)."""
    c = clean(value)
    stripped = strip_code_prefix(c) or c
    return _expand_with(read_citations(stripped, lexicon.codes if lexicon else None), lexicon)


def _expand_with(text: str, lexicon) -> str:
    if lexicon is None:
        return expand(text)
    return lexicon.rewrite(expand(text, lexicon.choose))


def without_negated(text: str) -> str:
    """Drop negated scopes ("NO ASSAULT", "(NO THRT/ASLT/DIST)", "NOT DV")."""
    return _WS.sub(" ", _tables().negation.sub(" ", text)).strip()


def rule_text(value: object, lexicon=None) -> str:
    """Text keyword rules see: negated scopes dropped *before* abbreviations expand, so
    "NOT DV" goes as a whole rather than leaving "VIOLENCE" behind."""
    c = clean(value)
    stripped = strip_code_prefix(c) or c
    return _expand_with(without_negated(read_citations(stripped, lexicon.codes if lexicon else None)), lexicon)


def model_text(value: object, lexicon=None) -> str:
    """Text the statistical model sees: normalized words, punctuation as spaces, and no bare
    numbers (a number that is not a known citation is a local code: it means nothing in
    another city)."""
    words = re.sub(r"[^A-Z0-9 ]+", " ", normalize(value, lexicon))
    return _WS.sub(" ", _NUMERIC_TOKEN.sub(" ", words)).strip()


def match_key(value: object) -> str:
    """Key for exact crosswalk/override lookups: case- and whitespace-insensitive."""
    return clean(value)
