"""Practice mode: a call-taker learns a policy on the city's own past calls before it goes live.

``rightresponse serve --practice WORKSPACE`` deals past calls from the workspace as *cards*:
the call type (the initial type where recorded, what the call-taker knew), priority, how the
call came in, the day and hour (never the exact time), and the risk flags the call type and
the narrative show. Never an address, a name or the narrative text: the narrative is read
here, once, to compute its flags (taxonomy/data/narrative_flags.yaml) and then dropped; a
card holds no call id either, so nothing dealt can be joined back to the city's records.

A card is one distinct combination of those values (distinct values, not rows: a deck of a
year of calls is a few thousand cards), with the number of past calls behind it.

**What the trainee is told.** The caller says yes to each risk the card shows and no to any
other question, *when asked*. The trainee answers the screening questions (yes, no, or not
asked) and chooses a responder; the answer is checked against the policy's triage of the
call with every question answered truthfully, the same triage and explanation the console
shows (``explain``).

**Unsafe** (the issue's definition, made exact): a responder without police (a civilian team,
a phone line, no dispatch, fire/EMS alone; ``CompiledPolicy.with_police``) where the screen
failed (a danger the call type or narrative shows, or a danger the trainee answered yes to) or
was skipped (a question of the safety screen not asked: the four dangers and the matched
rule's own screening questions). **Correct**: the responder the policy sends, chosen safely.

**The deal** is weighted toward what a trainee must learn (``DEAL_SHARES``): each card is
sorted, for the policy being practised, into

- ``screen``: the safety screen decides: the policy sends a responder without police only
  once every screening question is answered no, or the danger the call shows puts police
  back where the rule would send someone else (the safety floor);
- ``changed``: the policy sends someone other than police alone, with no screen to pass
  (police with a clinician, fire/EMS with police, ...);
- ``same``: police, as today.

A kind is drawn by its share (a kind with no cards gives its share to the others), then a
call type within it with probability proportional to the square root of its past calls (so
the common types come up often, and the rare ones still come up), then one of that type's
cards in proportion to its past calls (a realistic mix of hours, priorities and flags).
"""

from __future__ import annotations

import math
import random
import threading
import uuid
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..policy import FLAGS, Policy, flag_info, make_call, triage
from ..policy.triage import compiled
from ..policy.vocabulary import DANGER_FLAGS, SCREEN_ORDER
from .policies import explain
from ..decisions.dispatch_summary import ALTERNATIVE_RESPONDERS

# Shares of the deal by kind of card (see the module docstring). Data, documented in docs/practice.md.
DEAL_SHARES = {"screen": 0.45, "changed": 0.35, "same": 0.20}
KINDS = tuple(DEAL_SHARES)

# Narrative flags (taxonomy/data/narrative_flags.yaml) that answer a policy question: the
# caller says yes to it. The others (mental_health, homeless) are shown as context only.
NARRATIVE_SETS = {"weapon": "weapon", "violence": "violence", "injury": "injury", "substance": "intoxication"}

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_OPEN_DEALS = 20_000  # dealt and not yet answered (or answered, kept for replays); oldest forgotten first
NARRATIVE_BATCH = 50_000


class PracticeError(ValueError):
    """The workspace cannot be practised on (no calls from the public)."""


@dataclass(frozen=True)
class Card:
    """One distinct practice call: what the trainee sees, and the past calls behind it."""

    call_type: str
    priority: int | None
    origin: str | None
    dow: int  # 0 = Monday
    hour: int
    narrative_flags: tuple[str, ...]  # narrative_flags.yaml names, () when no narrative or none shown
    has_narrative: bool
    calls: int = field(compare=False)

    @property
    def time_text(self) -> str:
        return f"{DAYS[self.dow]}, {self.hour:02d}:00–{self.hour:02d}:59"

    def truth(self) -> dict[str, bool]:
        """The caller's answer to every question: yes to what the narrative shows, no otherwise.
        (What the call type itself states, triage reads from the call type.)"""
        yes = {NARRATIVE_SETS[f] for f in self.narrative_flags if f in NARRATIVE_SETS}
        return {f: f in yes for f in FLAGS}

    def call(self, category: str | None, answers):
        # Triage at the start of the hour shown: the trainee and the policy see the same time.
        at = datetime(2024, 1, 1 + self.dow, self.hour)  # 2024-01-01 is a Monday
        return make_call(call_type=self.call_type, category=category, priority=self.priority, origin=self.origin,
                         at=at, flags=answers)


# ---------------------------------------------------------------------------- the deck


@dataclass
class Deck:
    """Every card of a workspace. ``calls``: the past calls behind them (an oracle can count
    them independently: police calls from the public with a call type)."""

    cards: tuple[Card, ...]
    calls: int
    narratives: bool  # the workspace has narratives (else flags come from the call type only)
    workspace: str

    @property
    def call_types(self) -> list[str]:
        return sorted({c.call_type for c in self.cards})


def build_deck(workspace: str | Path) -> Deck:
    """Read a workspace into practice cards. Narratives are flagged in memory in batches and
    dropped; only their flags reach a card. Raises PracticeError when there is nothing to deal."""
    import duckdb

    from ..ingest.workspace import Workspace
    from ..taxonomy.narrative import load_flags, text_flags

    ws = Workspace(workspace)
    if not ws.has("calls"):
        raise PracticeError(f"--practice {workspace}: no calls in this workspace; run `rightresponse ingest ... "
                            f"--workspace {workspace}` first")
    with_narr = ws.has("sensitive")
    con = duckdb.connect()
    try:
        sql = ("WITH c AS (SELECT agency, call_id, coalesce(nullif(trim(initial_call_type), ''), trim(call_type)) AS ct, "
               "priority_rank, origin, received_local FROM read_parquet(?, hive_partitioning=true, union_by_name=true) "
               "WHERE (service IS NULL OR service = 'police') AND (origin IS NULL OR origin <> 'officer_initiated') "
               "AND received_local IS NOT NULL) ")
        params: list = [ws.files("calls")]
        if with_narr:
            sql += ("SELECT c.ct, c.priority_rank, c.origin, isodow(c.received_local) - 1, hour(c.received_local), "
                    "s.narrative, count(*) FROM c LEFT JOIN (SELECT agency, call_id, any_value(narrative) AS narrative "
                    "FROM read_parquet(?, hive_partitioning=true, union_by_name=true) GROUP BY agency, call_id) s "
                    "ON c.agency = s.agency AND c.call_id = s.call_id ")
            params.append(ws.files("sensitive"))
        else:
            sql += "SELECT c.ct, c.priority_rank, c.origin, isodow(c.received_local) - 1, hour(c.received_local), NULL, count(*) FROM c "
        sql += "WHERE c.ct IS NOT NULL AND c.ct <> '' GROUP BY ALL"
        cur = con.execute(sql, params)
        fs = load_flags()
        memo: dict[str, tuple[str, ...]] = {}
        counts: dict[tuple, int] = {}
        any_narr = False
        while True:
            rows = cur.fetchmany(NARRATIVE_BATCH)
            if not rows:
                break
            for ct, pri, org, dow, hour, narr, n in rows:
                has = narr is not None and str(narr).strip() != ""
                flags = ()
                if has:
                    any_narr = True
                    flags = memo.get(narr)
                    if flags is None:
                        flags = text_flags(narr, fs)
                        if len(memo) > 200_000:
                            memo.clear()
                        memo[narr] = flags
                key = (" ".join(str(ct).split()), None if pri is None else int(pri), org, int(dow), int(hour), flags, has)
                counts[key] = counts.get(key, 0) + int(n)
            del rows
    finally:
        con.close()
    if not counts:
        raise PracticeError(f"--practice {workspace}: no police calls from the public with a call type to practise on")
    cards = tuple(Card(*k, calls=n) for k, n in sorted(counts.items(), key=lambda kv: _sort_key(kv[0])))
    return Deck(cards, sum(counts.values()), any_narr, str(workspace))


def _sort_key(k):
    return tuple("" if v is None else str(v) for v in k)


# ---------------------------------------------------------------------------- checking an answer


def card_kind(policy: Policy, card: Card, category: str | None) -> str:
    """``screen``, ``changed`` or ``same`` (see the module docstring)."""
    expected = triage(policy, card.call(category, card.truth()))
    unasked = triage(policy, card.call(category, {}))
    if unasked.status == "screen_first" or expected.floor is not None:
        return "screen"
    if (expected.responder, expected.co_responder) != ("police", None):
        return "changed"
    return "same"


@dataclass(frozen=True)
class Checked:
    """A trainee's answer, checked."""

    correct: bool
    agrees: bool  # the responder is the one the policy sends
    unsafe: bool
    failed: tuple[str, ...]  # screening questions answered yes (or shown) under a responder without police
    skipped: tuple[str, ...]  # screening questions not asked under a responder without police
    expected: object  # the Recommendation with every question answered truthfully
    answers: tuple[dict, ...]  # per question: given and expected answer

    def unsafe_reason(self, responder_name: str) -> str | None:
        if not self.unsafe:
            return None
        parts = []
        if self.failed:
            parts.append("the screen failed: " + ", ".join(f.replace("_", " ") for f in self.failed))
        if self.skipped:
            parts.append("the screen was skipped: not asked about " + ", ".join(f.replace("_", " ") for f in self.skipped))
        return (f"Unsafe: {responder_name} goes without police, but " + "; and ".join(parts)
                + ". No responder without police goes until every screening question is answered no.")


def check_answer(policy: Policy, card: Card, category: str | None, answers: dict[str, bool], responder: str) -> Checked:
    """Check a trainee's answers and responder against the policy (pure: the card, the policy and
    the answer decide it)."""
    truth = card.truth()
    expected = triage(policy, card.call(category, truth))
    cp = compiled(policy)
    without_police = not cp.with_police(responder, None)
    stated = set(expected.call_type_flags)  # what the call type itself says needs no question
    rule = next(r for r in policy.rules if r.id == expected.rule)
    screen = [f for f in SCREEN_ORDER if f in DANGER_FLAGS or f in rule.screen_flags]
    # A yes to any screening question, a danger's or the rule's own, fails the screen (as in triage).
    failed = tuple(f for f in screen if truth[f] or answers.get(f) is True or f in stated)
    skipped = tuple(f for f in screen if f not in answers and f not in stated)
    unsafe = without_police and bool(failed or skipped)
    agrees = responder == expected.responder
    info = flag_info()
    qa = tuple({"flag": f, "question": info[f].question, "given": answers.get(f), "expected": truth[f] or f in stated,
                "screen": f in screen} for f in SCREEN_ORDER)
    return Checked(agrees and not unsafe, agrees, unsafe, failed if without_police else (),
                   skipped if without_police else (), expected, qa)


# ---------------------------------------------------------------------------- the room


@dataclass(frozen=True)
class Dealt:
    id: str
    card: Card
    category: str | None
    policy_id: str
    policy_hash: str
    trainee: str
    dealt_at: datetime
    kind: str


class PracticeRoom:
    """The deck, one deal plan per policy version, and the cards dealt and not yet forgotten.

    A deal's id is a random UUID kept on the server: it carries nothing about the call, and a
    client can neither read nor choose what it stands for."""

    def __init__(self, deck: Deck, rng: random.Random | None = None):
        self.deck = deck
        self._rng = rng or random.SystemRandom()
        self._plans: OrderedDict[str, dict] = OrderedDict()
        self._dealt: OrderedDict[str, Dealt] = OrderedDict()
        self._answered: dict[str, tuple] = {}  # deal id -> (the answer, what it was told), for replays
        self._lock = threading.Lock()

    def plan(self, policy: Policy, categorize) -> dict:
        """Per kind: the call types, their cumulative weights, and each type's cards (for one
        policy version; ``categorize``: call types -> {call type: category})."""
        with self._lock:
            p = self._plans.get(policy.hash)
            if p is not None:
                return p
        cats = categorize(self.deck.call_types)
        by_kind: dict[str, dict[str, list[tuple[int, int]]]] = {k: {} for k in KINDS}
        for i, c in enumerate(self.deck.cards):
            kind = card_kind(policy, c, cats.get(c.call_type) or None)
            by_kind[kind].setdefault(c.call_type, []).append((i, c.calls))
        plan = {"categories": cats, "kinds": {}}
        for kind, types in by_kind.items():
            if not types:
                continue
            names = sorted(types)
            cum, t = [], 0.0
            for name in names:
                t += math.sqrt(sum(n for _, n in types[name]))
                cum.append(t)
            cards = {}
            for name in names:
                acc, idx = [], []
                s = 0
                for i, n in types[name]:
                    s += n
                    acc.append(s)
                    idx.append(i)
                cards[name] = (idx, acc)
            plan["kinds"][kind] = {"types": names, "cum": cum, "cards": cards,
                                   "calls": sum(n for ts in types.values() for _, n in ts)}
        with self._lock:
            self._plans[policy.hash] = plan
            while len(self._plans) > 8:
                self._plans.popitem(last=False)
        return plan

    def deal(self, policy: Policy, categorize, trainee: str) -> Dealt:
        plan = self.plan(policy, categorize)
        kinds = [k for k in KINDS if k in plan["kinds"]]
        rng = self._rng
        with self._lock:  # one generator, shared
            kind = rng.choices(kinds, weights=[DEAL_SHARES[k] for k in kinds])[0]
            kp = plan["kinds"][kind]
            name = kp["types"][min(bisect_right(kp["cum"], rng.random() * kp["cum"][-1]), len(kp["types"]) - 1)]
            idx, acc = kp["cards"][name]
            i = idx[min(bisect_right(acc, rng.random() * acc[-1]), len(idx) - 1)]
        card = self.deck.cards[i]
        d = Dealt(str(uuid.uuid4()), card, plan["categories"].get(card.call_type) or None, policy.id, policy.hash,
                  trainee, datetime.now(timezone.utc), kind)
        with self._lock:
            self._dealt[d.id] = d
            while len(self._dealt) > MAX_OPEN_DEALS:
                old, _ = self._dealt.popitem(last=False)
                self._answered.pop(old, None)
        return d

    def get(self, deal_id: str) -> Dealt | None:
        with self._lock:
            return self._dealt.get(deal_id)

    def answered(self, deal_id: str) -> tuple | None:
        """(answer, result) of a dealt call answered already, or None."""
        with self._lock:
            return self._answered.get(deal_id)

    def remember(self, deal_id: str, answer: tuple, result: dict) -> None:
        with self._lock:
            if deal_id in self._dealt:
                self._answered[deal_id] = (answer, result)


def answer_view(d: Dealt, chk: Checked, policy: Policy, question_flags: dict, responder: str) -> dict:
    """The answer to POST /v1/practice/answer: the verdict, and the policy's answer explained as
    the console explains it."""
    rec = chk.expected
    return {"id": d.id, "correct": chk.correct, "agrees": chk.agrees, "unsafe": chk.unsafe,
            "unsafe_reason": chk.unsafe_reason(policy.responders[responder].name), "failed": list(chk.failed),
            "skipped": list(chk.skipped), "responder": responder, "expected": explain(rec, question_flags),
            "reason": rec.reason, "answers": list(chk.answers), "replay": False}


def practice_row(d: Dealt, chk: Checked, policy: Policy, answers: dict, responder: str, naive_utc: bool) -> dict:
    """The decision-log row of a practice answer (store.decisions): marked ``practice``, with the
    policy's answer as ``recommended``, the trainee's choice as ``dispatched`` and ``accepted``
    when they agree. No narrative and no time of the call. ``naive_utc``: SQLite keeps naive UTC."""
    rec = chk.expected
    now = datetime.now(timezone.utc)
    eligible = rec.intended in ALTERNATIVE_RESPONDERS
    return {"id": d.id, "recorded_at": now.replace(tzinfo=None) if naive_utc else now,
            "recommended_at": d.dealt_at.replace(tzinfo=None) if naive_utc else d.dealt_at,
            "call_at": None, "policy": policy.id, "policy_hash": policy.hash, "rule": rec.rule,
            "category": rec.category, "call_type": d.card.call_type, "call_type_known": True,
            "priority": d.card.priority, "flags": dict(answers), "recommended": rec.responder,
            "recommended_co": rec.co_responder, "fallback": rec.fallback, "intended": rec.intended,
            "dispatched": responder, "dispatched_co": None, "accepted": chk.agrees,
            "override_reason": None, "override_note": None, "eligible": eligible,
            "handled": eligible and responder == rec.intended, "call_taker": d.trainee, "narrative": None,
            "practice": True, "unsafe": chk.unsafe}


def card_view(d: Dealt, policy: Policy) -> dict:
    """What the trainee sees of a dealt call: nothing that could point at a person or a record."""
    c = d.card
    info = flag_info()
    return {
        "id": d.id, "policy": d.policy_id, "policy_hash": d.policy_hash, "trainee": d.trainee,
        "call_type": c.call_type, "category": d.category, "priority": c.priority, "origin": c.origin,
        "day": DAYS[c.dow], "hour": c.hour, "time": c.time_text,
        "call_type_dangers": list(compiled(policy).typed(c.call_type)[2]), "narrative": c.has_narrative,
        "narrative_flags": list(c.narrative_flags),
        "questions": [{"flag": f, "text": info[f].question} for f in SCREEN_ORDER],
        "responders": [{"id": rid, "name": r.name, "kind": r.kind} for rid, r in policy.responders.items()],
    }
