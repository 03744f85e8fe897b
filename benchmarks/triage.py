"""Triage throughput for a 50-rule policy: compiled triage against a plain rule-by-rule loop.

    python benchmarks/triage.py [--calls 100000] [--rules 50] [--seed 1]

A synthetic but valid 50-rule policy is built in memory (categories, call-type patterns,
priorities, origins, time windows and flags, like the presets but more of them), then the
same stream of random calls goes through:

  triage   rightresponse.policy.triage(policy, call): first matching rule, responder hours and
           fallback, and the unanswered questions that could change the answer (one extra
           match per unanswered flag). Categories are passed in, as the call-taker's screen
           would after classification.
  plain    what a developer would write first: loop over the policy's YAML rules and test
           each condition with re.search and list membership; first match only, no questions.

Throughput is calls per second of wall-clock time (the policy is compiled once, not timed);
p50/p99 are per-call latencies of triage. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rightresponse.policy.call import Call  # noqa: E402
from rightresponse.policy.definition import _taxonomy_vocab, parse_policy  # noqa: E402
from rightresponse.policy.triage import compiled, triage  # noqa: E402
from rightresponse.policy.vocabulary import FLAGS  # noqa: E402
from rightresponse.schema import ORIGINS  # noqa: E402

WORDS = ["WELFARE", "CHECK", "TRESPASS", "INTOX", "NOISE", "PARTY", "THEFT", "BURGLARY", "ALARM", "DISTURBANCE",
         "SUSPICIOUS", "PERSON", "VEHICLE", "MENTAL", "SUICID", "FIGHT", "ASSAULT", "PARKING", "FOUND", "PROPERTY",
         "NEEDLE", "HOMELESS", "DISPUTE", "FRAUD", "ANIMAL", "HAZARD", "MISSING", "JUVENILE", "LOITER", "DRUNK"]


def build_policy(n_rules: int, rng: random.Random) -> dict:
    cats, _, groups = _taxonomy_vocab(None)
    rules = [{"id": "danger", "when": {"any_flag": ["weapon", "violence", "crime_in_progress"]},
              "responder": "police", "reason": "danger"}]
    responders = ["crisis_team", "community_responder", "non_emergency", "co_responder", "police"]
    for i in range(1, n_rules - 1):
        when: dict = {}
        kind = i % 5
        if kind in (0, 1):
            when["category"] = rng.sample(list(cats), 2)
        if kind in (1, 2, 3):
            when["call_type"] = [f"{rng.choice(WORDS)}", f"{rng.choice(WORDS)}.*{rng.choice(WORDS)}"]
        if kind == 3:
            when["priority"] = f"{rng.randint(2, 4)}+"
            when["origin"] = rng.sample(list(ORIGINS[:5]), 3)
        if kind == 4:
            when["crime_group"] = [rng.choice(list(groups))]
            when["time"] = f"{rng.randint(5, 9):02d}:00-{rng.randint(18, 23):02d}:30"
        when["flags"] = {"weapon": False, "violence": False, "crime_in_progress": False}
        if i % 7 == 0:
            when["flags"]["intoxication"] = True
        resp = responders[i % len(responders)]
        rule = {"id": f"r{i:02d}", "when": when, "responder": resp, "reason": f"synthetic rule {i}",
                "questions": list(FLAGS[:5])}
        if resp != "police":
            rule["fallback"] = "police"
        rules.append(rule)
    return {"id": "bench-50", "title": "synthetic 50-rule policy", "sources": [{"title": "synthetic"}],
            "rules": rules, "default": {"responder": "police", "reason": "default"}}


def make_calls(n: int, rng: random.Random) -> list[Call]:
    cats, _, _ = _taxonomy_vocab(None)
    types = [" ".join(rng.sample(WORDS, rng.randint(1, 3))) for _ in range(400)]
    out = []
    for _ in range(n):
        flags = {f: rng.random() < 0.1 for f in FLAGS if rng.random() < 0.5}
        out.append(Call(call_type=rng.choice(types), category=rng.choice(list(cats) + [""]),
                        priority=rng.choice([None, 1, 2, 3, 4, 5]), origin=rng.choice([None] + list(ORIGINS)),
                        dow=rng.randrange(7), minute=rng.randrange(1440), flags=flags))
    return out


def plain(doc: dict, call: Call, cat_group: dict) -> str:
    present = {k for k, v in call.flags if v}
    text = (call.call_type or "").upper()
    for r in doc["rules"]:
        w = r["when"]
        if "category" in w and call.category not in w["category"]:
            continue
        if "crime_group" in w and cat_group.get(call.category) not in w["crime_group"]:
            continue
        if "call_type" in w and not any(re.search(p, text, re.IGNORECASE) for p in w["call_type"]):
            continue
        if "priority" in w and (call.priority is None or call.priority < int(w["priority"].rstrip("+"))):
            continue
        if "origin" in w and call.origin not in w["origin"]:
            continue
        if "time" in w:
            a, b = w["time"].split("-")
            lo = int(a[:2]) * 60 + int(a[3:])
            hi = int(b[:2]) * 60 + int(b[3:])
            if not lo <= call.minute < hi:
                continue
        fl = w.get("flags", {})
        if any((f in present) != v for f, v in fl.items()):
            continue
        if "any_flag" in w and not present & set(w["any_flag"]):
            continue
        return r["responder"]
    return doc["default"]["responder"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--rules", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    doc = build_policy(args.rules, rng)
    findings: list = []
    policy = parse_policy(doc, "<bench-50>", findings)
    errors = [f for f in findings if f.level == "error"]
    if errors:
        raise SystemExit("\n".join(map(str, errors)))
    assert len(policy.rules) == args.rules
    calls = make_calls(args.calls, rng)
    _, cat_group, _ = _taxonomy_vocab(None)

    compiled(policy)  # compile once (not timed), as a dispatch centre would at start-up
    for c in calls[:2000]:  # warm the per-policy call-type text cache, as a live shift would
        triage(policy, c)

    lat = []
    t0 = time.perf_counter()
    for c in calls:
        s = time.perf_counter()
        triage(policy, c)
        lat.append(time.perf_counter() - s)
    t_triage = time.perf_counter() - t0

    t0 = time.perf_counter()
    for c in calls:
        plain(doc, c, cat_group)
    t_plain = time.perf_counter() - t0

    lat.sort()
    res = {
        "benchmark": "triage", "rules": args.rules, "calls": args.calls,
        "triage_calls_per_second": round(args.calls / t_triage),
        "triage_p50_us": round(lat[len(lat) // 2] * 1e6, 1),
        "triage_p99_us": round(lat[int(len(lat) * 0.99)] * 1e6, 1),
        "plain_calls_per_second": round(args.calls / t_plain),
        "plain_note": "first match only, no hours, fallback or questions",
        "triage_vs_plain_speed": round(t_plain / t_triage, 2),
        "under_1ms": lat[int(len(lat) * 0.99)] < 1e-3,
    }
    print(f"{args.rules}-rule policy, {args.calls:,} calls")
    print(f"  triage  {res['triage_calls_per_second']:>10,} calls/s   p50 {res['triage_p50_us']} us   p99 {res['triage_p99_us']} us")
    print(f"  plain   {res['plain_calls_per_second']:>10,} calls/s   ({res['plain_note']})")
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
