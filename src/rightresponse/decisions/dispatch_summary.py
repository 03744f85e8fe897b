"""What the decision log says about dispatch practice: overrides, and the alternative team's share.

Two figures matter to a city running a pilot. The override rate (by rule and by category)
shows where call-takers disagree with the adopted policy, which is where the policy or the
questions need work. The share of eligible calls the alternative team handled is the
figure pilot programmes publish (a call is eligible when the policy's rule sends it to a
civilian or remote responder; it is handled when that responder was dispatched). The
aggregation runs in the database, so a year of decisions is summarized without loading it.

    from rightresponse.decisions import summarize_decisions
    s = summarize_decisions("sqlite:///decisions.db")
    s.by_rule, s.by_category, s.alternative        # pandas DataFrames
    s.to_html(min_cell=10)                          # a fragment for the assessment report
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import and_, case, func, select, true

from .log import DecisionStore, decisions

# Responders whose work is "the alternative team": nobody armed is sent. fire_ems (medical)
# and no_dispatch (information only) are not alternatives to police in the pilot sense.
ALTERNATIVE_RESPONDERS = ("crisis_team", "community_responder", "non_emergency")


@dataclass
class DecisionSummary:
    total: int
    overrides: int
    eligible: int
    handled: int
    first: datetime | None
    last: datetime | None
    by_rule: pd.DataFrame = field(repr=False)
    by_category: pd.DataFrame = field(repr=False)
    by_reason: pd.DataFrame = field(repr=False)
    alternative: pd.DataFrame = field(repr=False)
    dispatched: pd.DataFrame = field(repr=False)

    @property
    def override_rate(self) -> float | None:
        return self.overrides / self.total if self.total else None

    @property
    def alternative_share(self) -> float | None:
        """Share of eligible calls the alternative team handled."""
        return self.handled / self.eligible if self.eligible else None

    def to_dict(self) -> dict:
        def recs(df):
            return [{k: _jsonable(v) for k, v in r.items()} for r in df.to_dict("records")]

        return {
            "total": self.total, "overrides": self.overrides, "override_rate": _round(self.override_rate),
            "first": _iso(self.first), "last": _iso(self.last),
            "by_rule": recs(self.by_rule), "by_category": recs(self.by_category),
            "by_reason": recs(self.by_reason), "dispatched": recs(self.dispatched),
            "alternative": {"responders": list(ALTERNATIVE_RESPONDERS), "eligible": self.eligible,
                            "handled": self.handled, "share": _round(self.alternative_share),
                            "by_responder": recs(self.alternative)},
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        """The summary as the tables a report publishes: totals, by rule, by category, by
        override reason, by alternative responder."""
        totals = pd.DataFrame([{
            "decisions": self.total, "overrides": self.overrides, "override_rate": self.override_rate,
            "eligible": self.eligible, "handled": self.handled, "alternative_share": self.alternative_share}],
            columns=["decisions", "overrides", "override_rate", "eligible", "handled", "alternative_share"]).astype(
            {"override_rate": "float64", "alternative_share": "float64"})
        return {"dispatch_totals": totals, "dispatch_by_rule": self.by_rule, "dispatch_by_category": self.by_category,
                "dispatch_alternative": self.alternative, "dispatch_override_reasons": self.by_reason}

    def to_html(self, min_cell: int = 0, heading_level: int = 3) -> str:
        """An HTML fragment (no page, no styles of its own) for a report's dispatch-practice section,
        rendered by rightresponse.report from the tables as published: counts below
        ``min_cell`` read "<min_cell", and no withheld count can be worked out from the others."""
        from ..report.disclosure import publish_decisions
        from ..report.html import dispatch_section

        period = f" from {self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}" if self.first and self.last else ""
        return dispatch_section(publish_decisions(self.tables(), min_cell), heading_level, period)


def summarize_decisions(db, since=None, until=None, policy: str | None = None) -> DecisionSummary:
    """Summarize a decision log's dispatch decisions (practice answers are left out: they are a
    trainee's answers to past calls, see rightresponse.service.practice). ``db``: a URL (``sqlite:///decisions.db``, ``postgresql://...``),
    a SQLite file path, or a DecisionStore. ``since``/``until``: datetimes (UTC if naive) or ISO
    strings bounding ``recorded_at`` (until is exclusive); ``policy``: one policy id only."""
    own = not isinstance(db, DecisionStore)
    store = DecisionStore(db) if own else db
    try:
        return _summarize(store, _when(since), _when(until), policy)
    finally:
        if own:
            store.close()


def _when(v):
    """A bound (datetime or ISO text) as an aware UTC datetime."""
    if v is None or isinstance(v, datetime):
        return utc_instant(v)
    return utc_instant(datetime.fromisoformat(str(v).replace("Z", "+00:00")))


def utc_instant(d: datetime | None) -> datetime | None:
    """``d`` as an aware UTC datetime (naive means UTC); ValueError when the instant falls
    outside the years 1-9999 (0001-01-01T00:00+14:00 is in the year 0 in UTC)."""
    if d is None:
        return None
    try:
        return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("out of range: the instant is before year 1 or after year 9999 in UTC") from None


def dispatch_only(store: DecisionStore):
    """The condition that keeps real dispatch decisions and leaves practice answers out: every
    figure about dispatch practice (this summary, the assessment's section) filters by it. A
    log from before practice mode, opened read-only, has no practice column and no practice rows."""
    if not store.has_column("practice"):
        return true()
    return decisions.c.practice == False  # noqa: E712


def _summarize(store: DecisionStore, since, until, policy) -> DecisionSummary:
    d = decisions.c
    conds = [dispatch_only(store)]
    if since is not None:
        conds.append(d.recorded_at >= _db_time(store, since))
    if until is not None:
        conds.append(d.recorded_at < _db_time(store, until))
    if policy:
        conds.append(d.policy == policy)
    where = and_(*conds)

    n = func.count()
    over = func.sum(case((d.accepted, 0), else_=1))
    elig = func.sum(case((d.eligible, 1), else_=0))
    hand = func.sum(case((d.handled, 1), else_=0))

    def q(*cols):
        return select(*cols).where(where)

    with store.engine.connect() as con:
        tot = con.execute(q(n, over, elig, hand, func.min(d.recorded_at), func.max(d.recorded_at))).one()
        rule_rows = con.execute(q(d.policy, d.rule, n, over).group_by(d.policy, d.rule)).all()
        cat_rows = con.execute(q(d.category, n, over, elig, hand).group_by(d.category)).all()
        reason_rows = con.execute(q(d.override_reason, n).where(d.accepted == False).group_by(d.override_reason)).all()  # noqa: E712
        alt_rows = con.execute(q(d.intended, n, hand).where(d.eligible == True).group_by(d.intended)).all()  # noqa: E712
        disp_rows = con.execute(q(d.recommended, d.dispatched, n).group_by(d.recommended, d.dispatched)).all()

    total = int(tot[0] or 0)

    def rate(a, b):
        return (a / b) if b else None

    by_rule = pd.DataFrame(
        [{"policy": p, "rule": r, "decisions": int(c), "overrides": int(o or 0),
          "override_rate": rate(int(o or 0), int(c))} for p, r, c, o in rule_rows],
        columns=["policy", "rule", "decisions", "overrides", "override_rate"])
    by_category = pd.DataFrame(
        [{"category": cat or "(none)", "decisions": int(c), "overrides": int(o or 0),
          "override_rate": rate(int(o or 0), int(c)), "eligible": int(e or 0), "handled": int(h or 0),
          "alternative_share": rate(int(h or 0), int(e or 0))} for cat, c, o, e, h in cat_rows],
        columns=["category", "decisions", "overrides", "override_rate", "eligible", "handled", "alternative_share"])
    over_n = int(tot[1] or 0)
    by_reason = pd.DataFrame(
        [{"override_reason": r or "(none)", "overrides": int(c), "share": rate(int(c), over_n)} for r, c in reason_rows],
        columns=["override_reason", "overrides", "share"])
    alternative = pd.DataFrame(
        [{"responder": r, "eligible": int(c), "handled": int(h or 0), "share": rate(int(h or 0), int(c))}
         for r, c, h in alt_rows], columns=["responder", "eligible", "handled", "share"])
    dispatched = pd.DataFrame(
        [{"recommended": a, "dispatched": b, "decisions": int(c)} for a, b, c in disp_rows],
        columns=["recommended", "dispatched", "decisions"])

    by_rule = by_rule.sort_values(["decisions", "policy", "rule"], ascending=[False, True, True], ignore_index=True)
    by_category = by_category.sort_values(["decisions", "category"], ascending=[False, True], ignore_index=True)
    by_reason = by_reason.sort_values(["overrides", "override_reason"], ascending=[False, True], ignore_index=True)
    alternative = alternative.sort_values(["eligible", "responder"], ascending=[False, True], ignore_index=True)
    dispatched = dispatched.sort_values(["decisions", "recommended", "dispatched"], ascending=[False, True, True],
                                        ignore_index=True)
    return DecisionSummary(total, over_n, int(tot[2] or 0), int(tot[3] or 0), _aware(tot[4]), _aware(tot[5]),
                           by_rule, by_category, by_reason, alternative, dispatched)


def _db_time(store: DecisionStore, d: datetime):
    # SQLite keeps naive UTC text; PostgreSQL compares instants. (``d`` is UTC already: _when.)
    return d.replace(tzinfo=None) if store.dialect == "sqlite" else d


def _aware(d):
    if isinstance(d, str):  # some SQLite aggregates come back as text
        d = datetime.fromisoformat(d)
    if isinstance(d, datetime) and d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d


def _iso(d):
    return d.isoformat() if d is not None else None


def _round(x, digits: int = 4):
    return None if x is None else round(float(x), digits)


def _jsonable(v):
    if v is None:
        return None
    if isinstance(v, float):
        return None if v != v else round(v, 4)
    if hasattr(v, "item"):
        return v.item()
    return v


def pilot_decision_tables(store, policy_id: str, since: datetime, until: datetime) -> dict[str, pd.DataFrame]:
    """A pilot's decision-log tables over [since, until): adherence and override reasons
    (``summarize_decisions``), and the fallbacks: eligible decisions (the rule sent the call to
    an alternative responder) where the console's recommendation had already gone down the
    fallback chain (recommended is not the rule's responder: the team off duty at that hour or
    marked busy, or its screening questions unanswered; the log does not store which), and
    those the call-taker overrode with the console's reason code ``responder_unavailable``
    ("busy or off duty")."""
    ds = summarize_decisions(store, since=since, until=until, policy=policy_id)
    tables = ds.tables()
    d = decisions.c
    fell = and_(d.eligible, d.recommended != d.intended)
    unavailable = and_(d.eligible, d.accepted == False, d.override_reason == "responder_unavailable")  # noqa: E712
    q = select(func.sum(case((fell, 1), else_=0)), func.sum(case((unavailable, 1), else_=0)),
               func.sum(case((fell | unavailable, 1), else_=0))).where(
        d.recorded_at >= _db_time(store, _when(since)), d.recorded_at < _db_time(store, _when(until)),
        d.policy == policy_id, dispatch_only(store))  # practice answers are not dispatches
    with store.engine.connect() as con:
        a, b, c = con.execute(q).one()
    tables["dispatch_fallbacks"] = pd.DataFrame([{"eligible": ds.eligible, "recommendation_fell_back": int(a or 0),
                                                  "overridden_unavailable": int(b or 0), "fallbacks": int(c or 0)}])
    return tables
