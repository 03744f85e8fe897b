"""What the classifier learns about spelling from labelled call types: a lexicon.

Dispatchers write "TRBL W/SUBJ", "WNTD PERS", "CRUELITY TO JUVENILE", "AGGRIVATED ARRSON".
The curated table (data/abbreviations.csv) cannot list every city's shorthand, so the
classifier also learns, from the call types it is fitted on:

* **a vocabulary** (every word of the labelled call types, after the curated expansions)
  and which words occur together in one call type;
* **spellings**: a word it has never seen, six letters or more, is read as the known word
  one inserted, dropped or doubled letter away with the same first letter (CRUELITY ->
  CRUELTY, ATTTACHMENT -> ATTACHMENT); from eight letters on, also two neighbouring
  letters swapped (INVESITGATE -> INVESTIGATE). Substitutions are not tried, even in long
  words: on the development cities they only ever turned one real word into another
  (COMPUTER -> COMMUTER, SWEEPING -> SLEEPING, DETECTION -> DETENTION). A stray space
  inside a word is closed when the pieces make a known word and the second piece is not
  one (I NVESTIGATE);
* **abbreviations**: an unknown word that looks like one is read as the known word it
  abbreviates: a consonant skeleton (TRBL -> TROUBLE, WNTD -> WANTED, PRKG -> PARKING), a
  truncation of four or five letters (SUBJ -> SUBJECT, PERS -> PERSON), or the last word
  of a long value cut at the field's width (SIMPLE BATTERY DOMES -> DOMESTIC). Among the
  candidates the word that occurs most *with the other words of the call type* wins, so
  context decides. A three-letter cut is read only when the other words occur with one
  word it could be cut from far more than with any other (CUSTODIAL INT -> INTERFERENCE,
  ALARM COM -> COMMERCIAL); on the development cities 9 of the 12 values this changed
  read better (HOLD/PAN/DUR -> PANIC/DURESS), 3 worse (PRI -> PRIVATE, not PRIORITY);
* **code numbers**: pairs of a city's code and its description (the San Diego call-type
  lookup: "459" -> BURGLARY) for numbers inside the text, after data/statutes.csv.

The same co-occurrence counts choose between the curated expansions of an abbreviation
whose meaning depends on context (ACC = ACCIDENT or ACCESSORY, DIST = DISTURBANCE or
DISTRICT). Everything is learned inside ``fit``, so a city left out of the training data
(leave-one-city-out, the held-out set) never shapes the lexicon that reads it. A Lexicon is
immutable and saved inside the model file as plain JSON.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType

_TOKEN = re.compile(r"[A-Z][A-Z']*")
_CODE = re.compile(r"^(\d{3}|\d{5})$")
_MIN_SPELLING = 6
_MIN_SWAP = 8
_MAX_TRUNCATION = 5
_CUT_VALUE = 16  # a value this long whose last word is unknown may have been cut at the field's width
_VOWELS = set("AEIOU")
_SPLIT_WORD = re.compile(r"\b([A-Z]{1,3}) ([A-Z]{3,})\b")


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def _skeleton(word: str) -> str:
    """First letter and the consonants after it: PARKING -> PRKNG."""
    return word[0] + "".join(c for c in word[1:] if c not in _VOWELS)


def _one_indel(a: str, b: str) -> bool:
    """b is a with exactly one letter inserted or dropped."""
    if len(a) == len(b) + 1:
        a, b = b, a
    if len(b) != len(a) + 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


def _one_swap(a: str, b: str) -> bool:
    """Same length; b is a with two neighbouring letters swapped (INVESITGATE)."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    i = diff[0]
    return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]


@dataclass(frozen=True)
class Lexicon:
    words: MappingProxyType  # word -> number of labelled call types it occurs in
    cooc: MappingProxyType  # word -> {other word: call types where both occur}
    codes: MappingProxyType  # code number -> words
    known: frozenset = frozenset()  # real words no labelled call type held: left as written
    _by_initial: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        for w in self.words:
            if len(w) >= _MIN_SPELLING - 1:
                self._by_initial.setdefault(w[0], []).append(w)

    # -- learning -----------------------------------------------------------------------
    @classmethod
    def learn(cls, texts, code_pairs=(), known=()) -> "Lexicon":
        """From call-type texts already cleaned and curated-expanded (upper case), and
        (code, description) pairs whose descriptions are expanded the same way.

        ``known``: words that are real words whatever the texts hold (the keyword rules' and
        curated tables' words): never read as a misspelling or abbreviation of another word.
        Without them a word only the left-out city uses is "corrected" into a neighbour:
        STRUCK (PEDESTRIAN STRUCK) into STUCK. They are not offered as readings of other
        words: the rules hold stems (VERIF) and words no city wrote (DRIVEWAY for DRIVE)."""
        words: dict[str, int] = {}
        cooc: dict[str, dict[str, int]] = {}
        for t in texts:
            toks = sorted({w for w in _TOKEN.findall(t) if len(w) >= 2})
            for w in toks:
                words[w] = words.get(w, 0) + 1
            for w in toks:
                row = cooc.setdefault(w, {})
                for c in toks:
                    if c != w:
                        row[c] = row.get(c, 0) + 1
        codes = {}
        for code, desc in code_pairs:
            code = str(code).strip()
            if _CODE.match(code) and desc and code not in codes:
                codes[code] = " ".join(_TOKEN.findall(desc))
        return cls.from_dict({"words": words, "cooc": cooc, "codes": codes,
                              "known": sorted({w for w in known if w not in words})})

    # -- reading ------------------------------------------------------------------------
    def _context_score(self, word: str, context) -> float:
        row = self.cooc.get(word) or {}
        return sum(math.log1p(row.get(c, 0)) for c in context if c != word)

    def choose(self, abbreviation: str, alternatives, context) -> str:
        """The expansion whose words occur most with the other words of the call type
        (ties: the first listed, the curated default)."""
        best, best_score = alternatives[0], -1.0
        ctx = [c for c in context if c != abbreviation]
        for alt in alternatives:
            score = sum(self._context_score(w, ctx) for w in alt.split()) / max(1, len(alt.split()))
            if score > best_score + 1e-9:
                best, best_score = alt, score
        return best

    def read_word(self, token: str, context=(), last_of_long: bool = False) -> str:
        """The known word an unknown token stands for, or the token itself."""
        if token in self.words or token in self.known or len(token) < 3:
            return token
        if len(token) == 3:
            return self._read_three(token, context)
        cands = self._by_initial.get(token[0], ())
        n = len(token)
        skeleton = all(c not in _VOWELS for c in token[1:])
        best, best_score = token, None
        for w in cands:
            if n >= _MIN_SPELLING and _one_indel(token, w):
                kind = 1.0
            elif n >= _MIN_SWAP and _one_swap(token, w):
                kind = 1.0
            elif len(w) >= n + 2 and ((skeleton and _skeleton(w).startswith(token[:3])
                                       and _is_subsequence(token, _skeleton(w)))
                                      or (w.startswith(token) and (n <= _MAX_TRUNCATION or last_of_long))):
                kind = 0.0
            else:
                continue
            score = kind + math.log(self.words[w]) + self._context_score(w, context)
            if best_score is None or score > best_score:
                best, best_score = w, score
        return best

    def _close_stray_spaces(self, text: str) -> str:
        """ "I NVESTIGATE" -> "INVESTIGATE": a piece that is not a known word, joined to the
        one before it (a single letter or another unknown piece), makes a known word."""
        def join(m):
            a, b = m.group(1), m.group(2)
            if b not in self.words and b not in self.known and (a + b) in self.words and (len(a) == 1 or a not in self.words):
                return a + b
            return m.group(0)
        return _SPLIT_WORD.sub(join, text)

    def _read_three(self, token: str, context) -> str:
        """A three-letter cut (INT, COM, RES) read only when the other words of the call type
        occur with one word it could be cut from at least twice as much as with any other
        (CUSTODIAL INT -> INTERFERENCE); with no such context it stays as written."""
        hits = [(self._context_score(w, context), w) for w in self._by_initial.get(token[0], ())
                if len(w) >= 5 and w.startswith(token)]
        hits = sorted((h for h in hits if h[0] > 0), reverse=True)
        if hits and (len(hits) == 1 or hits[0][0] >= 2 * hits[1][0]):
            return hits[0][1]
        return token

    def rewrite(self, text: str) -> str:
        """Every unknown word of an (expanded) call type read as the known word it stands for."""
        text = self._close_stray_spaces(text)
        matches = list(_TOKEN.finditer(text))
        context = tuple(m.group(0) for m in matches)
        if all(w in self.words or w in self.known or len(w) < 3 for w in context):
            return text
        last = matches[-1].start() if len(text) >= _CUT_VALUE and matches and matches[-1].end() == len(text) else -1
        return _TOKEN.sub(lambda m: self.read_word(m.group(0), context, m.start() == last), text)

    # -- storage --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"words": dict(self.words), "cooc": {k: dict(v) for k, v in self.cooc.items()},
                "codes": dict(self.codes), "known": sorted(self.known)}

    @classmethod
    def from_dict(cls, d: dict) -> "Lexicon":
        return cls(words=MappingProxyType(dict(d["words"])),
                   cooc=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in d["cooc"].items()}),
                   codes=MappingProxyType(dict(d["codes"])), known=frozenset(d.get("known", ())))
