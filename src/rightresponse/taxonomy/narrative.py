"""Risk and need flags read from text, by transparent regex: call-taker narratives
(data/narrative_flags.yaml) and call-type names (data/call_type_flags.yaml).

The narrative flags are the ones responder policies turn on (weapon, violence, mental-health
signs, substance use, homelessness, injury); the call-type flags are the dangers a call type
states by itself (a weapon, violence, a crime in progress, impaired driving, a prisoner, an
officer in need, a suicide attempt), each naming the policy flag it sets. One matcher serves
both files: patterns, context that cancels a match (``exclude``) and negation cues in the same
clause. Regex rather than a model because every decision must be explainable to a dispatcher
and auditable by a city, and because narratives are sensitive: nothing here logs, prints or
stores the text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..yaml_data import load_yaml
from .taxonomy import DATA_DIR, TaxonomyError

if TYPE_CHECKING:  # pandas is imported where a frame is made: triage on the command line never needs it
    import pandas as pd

DEFAULT_FLAGS = DATA_DIR / "narrative_flags.yaml"
CALL_TYPE_FLAGS = DATA_DIR / "call_type_flags.yaml"
_WS = re.compile(r"\s+")
_SPELLED = re.compile(r"\b(?:[A-Z] ){2,}[A-Z]\b")  # "E T O H" -> "ETOH"


@dataclass(frozen=True)
class Flag:
    name: str
    description: str
    patterns: tuple[re.Pattern, ...]
    exclude: tuple[re.Pattern, ...]
    sets: str | None = None  # call-type flags: the responder-policy flag a match sets
    negation_words: int | None = None  # this flag's negation window, if not the file's


@dataclass(frozen=True)
class FlagSet:
    flags: tuple[Flag, ...]
    cues: re.Pattern
    near_cues: re.Pattern
    window: int
    near_window: int
    boundary: re.Pattern
    after: re.Pattern
    expected: dict

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.flags]


def load_flags(path: str | Path | None = None) -> FlagSet:
    """The narrative flags (default) or the flags of another file in the same format."""
    return _load_flags(str(Path(path).resolve()) if path else str(DEFAULT_FLAGS))


def load_call_type_flags(path: str | Path | None = None) -> FlagSet:
    """The dangers a call type states by itself (data/call_type_flags.yaml), each with ``sets``."""
    return _load_flags(str(Path(path).resolve()) if path else str(CALL_TYPE_FLAGS))


@functools.lru_cache(maxsize=4)
def _load_flags(path: str) -> FlagSet:
    with open(path, encoding="utf-8") as f:
        doc = load_yaml(f)
    neg = doc["negation"]

    def words(ws):
        return re.compile(r"^(?:" + "|".join(re.escape(w) for w in ws) + r")$")

    flags = []
    for name, spec in doc["flags"].items():
        try:
            flags.append(Flag(
                name=name,
                description=str(spec.get("description", "")),
                patterns=tuple(re.compile(p) for p in spec["patterns"]),
                exclude=tuple(re.compile(p) for p in spec.get("exclude") or ()),
                sets=spec.get("sets"),
                negation_words=None if spec.get("negation_words") is None else int(spec["negation_words"]),
            ))
        except (KeyError, re.error) as exc:
            raise TaxonomyError(f"{path}: flag {name!r}: {exc}") from None
    return FlagSet(
        flags=tuple(flags),
        cues=words(neg["cues"]),
        near_cues=words(neg.get("near_cues") or ["\x00"]),
        window=int(neg.get("window_words", 4)),
        near_window=int(neg.get("near_window_words", 2)),
        boundary=re.compile(neg["boundary"]),
        after=re.compile(neg["after"]),
        expected={k: tuple(v) for k, v in (doc.get("expected_categories") or {}).items()},
    )


def _negated(text: str, start: int, end: int, fs: FlagSet, window: int | None = None) -> bool:
    before = text[:start]
    cut = 0
    for m in fs.boundary.finditer(before):
        cut = m.end()
    words = [w for w in re.split(r"[\s\-]+", before[cut:]) if w]
    window = fs.window if window is None else window
    if window and any(fs.cues.match(w) for w in words[-window:]):
        return True
    if any(fs.near_cues.match(w) for w in words[-fs.near_window:]):
        return True
    return bool(fs.after.match(text[end:end + 12]))


def _flag_one(text: str, flag: Flag, fs: FlagSet) -> bool:
    spans = [m.span() for p in flag.exclude for m in p.finditer(text)]
    for p in flag.patterns:
        for m in p.finditer(text):
            s, e = m.span()
            if any(s < xe and xs < e for xs, xe in spans):
                continue
            if not _negated(text, s, e, fs, flag.negation_words):
                return True
    return False


def _prepare(t) -> str:
    s = "" if t is None or (isinstance(t, float) and t != t) else _WS.sub(" ", str(t)).upper()
    return _SPELLED.sub(lambda m: m.group(0).replace(" ", ""), s)


def text_flags(text, fs: FlagSet) -> tuple[str, ...]:
    """The names of the flags of ``fs`` that one text sets (no pandas: the triage hot path)."""
    s = _prepare(text)
    return tuple(f.name for f in fs.flags if s and _flag_one(s, f, fs))


def narrative_flags(texts, flags: str | Path | FlagSet | None = None) -> pd.DataFrame:
    """One row per text, one boolean column per flag (False for missing text).

    The index follows ``texts`` when it is a pandas Series, else 0..n-1.
    """
    import pandas as pd

    fs = flags if isinstance(flags, FlagSet) else load_flags(flags)
    index = texts.index if isinstance(texts, pd.Series) else None
    rows = []
    for t in texts:
        s = _prepare(t)
        rows.append([bool(s) and _flag_one(s, f, fs) for f in fs.flags])
    return pd.DataFrame(rows, columns=fs.names, index=index, dtype=bool)


def call_type_flags(texts, flags: str | Path | FlagSet | None = None) -> pd.DataFrame:
    """Danger flags read from call-type names: one row per call type, one column per flag."""
    return narrative_flags(texts, flags if isinstance(flags, FlagSet) else load_call_type_flags(flags))


def flag_accuracy(labelled: pd.DataFrame, predicted: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Precision and recall of predicted flags against hand labels, per flag (and per ``by``).

    ``labelled`` and ``predicted`` share an index and hold one 0/1 column per flag (the
    predicted frame's columns are the flags scored). Precision is 1.0 with nothing predicted and
    recall 1.0 with nothing to find, so a flag with no positives does not read as a failure.
    """
    import pandas as pd

    groups = [("all", labelled.index)] if by is None else list(labelled.groupby(by).groups.items())
    rows = []
    for key, idx in groups:
        for f in predicted.columns:
            y = labelled.loc[idx, f].astype(bool)
            p = predicted.loc[idx, f].astype(bool)
            tp, fp, fn = int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum())
            rows.append({**({} if by is None else {by: key}), "flag": f, "labelled": int(y.sum()), "tp": tp,
                         "fp": fp, "fn": fn, "precision": tp / (tp + fp) if tp + fp else 1.0,
                         "recall": tp / (tp + fn) if tp + fn else 1.0})
    return pd.DataFrame(rows)


def narrative_disagreement(df: pd.DataFrame, text_column: str = "narrative", category_column: str = "category",
                           flags: str | Path | FlagSet | None = None, by_category: bool = False) -> pd.DataFrame:
    """How often narrative flags and the call-type category disagree.

    Per flag: calls flagged, how many of those are outside the categories the flag is
    expected with (e.g. a mental-health narrative on a call not typed Behavioral
    Health), and how many calls in the expected categories carry no flag. ``df`` needs
    the category column and either the narrative text or precomputed flag columns.
    With ``by_category=True`` the answer is one row per (flag, category) instead.
    Only counts come back; the text never does.
    """
    import pandas as pd

    fs = flags if isinstance(flags, FlagSet) else load_flags(flags)
    if category_column not in df.columns:
        raise ValueError(f"no {category_column!r} column; run the classifier first")
    if all(n in df.columns for n in fs.names):
        fl = df[fs.names].astype(bool)
    elif text_column in df.columns:
        fl = narrative_flags(df[text_column], fs)
    else:
        raise ValueError(f"need a {text_column!r} column or the flag columns {fs.names}")
    cat = df[category_column].astype(object).where(df[category_column].notna(), "(uncategorized)")
    if by_category:
        out = []
        for name in fs.names:
            g = pd.DataFrame({"category": cat.to_numpy(), "flag": fl[name].to_numpy()}).groupby("category")
            t = g["flag"].agg(calls="size", flagged="sum").reset_index()
            t.insert(0, "flag", name)
            t["flag_rate"] = (t["flagged"] / t["calls"]).round(4)
            t["expected"] = t["category"].isin(fs.expected.get(name, ()))
            out.append(t)
        return pd.concat(out, ignore_index=True).sort_values(["flag", "flagged"], ascending=[True, False],
                                                             kind="mergesort").reset_index(drop=True)
    rows = []
    for name in fs.names:
        expected = fs.expected.get(name, ())
        inexp = cat.isin(expected).to_numpy()
        f = fl[name].to_numpy()
        flagged = int(f.sum())
        outside = int((f & ~inexp).sum())
        exp_calls = int(inexp.sum())
        missing = int((~f & inexp).sum())
        rows.append({
            "flag": name,
            "expected_categories": "; ".join(expected),
            "calls": int(len(df)),
            "flagged": flagged,
            "flagged_outside_expected": outside,
            "share_flagged_outside": round(outside / flagged, 4) if flagged else None,
            "expected_calls": exp_calls,
            "expected_without_flag": missing,
            "share_expected_without_flag": round(missing / exp_calls, 4) if exp_calls else None,
        })
    return pd.DataFrame(rows)


def read_slo_comments(path: str | Path) -> pd.DataFrame:
    """case_number, type and call_comments from a San Luis Obispo export.

    Its quoted fields hold bare CR and CRLF, which only the csv module with
    newline='' reads correctly.
    """
    import csv

    import pandas as pd

    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"case_number", "call_comments"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = [(r["case_number"], r.get("type", ""), r["call_comments"]) for r in reader]
    return pd.DataFrame(rows, columns=["case_number", "type", "call_comments"])
