"""Properties that must hold for every call under every preset (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rightresponse.policy import FLAGS, RESPONDERS, list_presets, load_policy, triage
from rightresponse.policy.call import Call
from rightresponse.policy.definition import _taxonomy_vocab
from rightresponse.policy.triage import compiled
from rightresponse.schema import ORIGINS

CATEGORIES = list(_taxonomy_vocab(None)[0])

# Call types that hit the presets' patterns, real CAD spellings, and arbitrary text.
TYPES = ["welfare check", "WELF CHK", "DIP - DRUNK/INTOX PERSON", "MENTAL HEALTH CASE", "SUICIDE IN PROG NO INJ",
         "suicidal subject", "Trespassing", "indecent exposure", "needle pickup", "homeless camp",
         "Citizen Dispute", "transport to shelter", "PRISONER TRANSPORT", "non-emergency medical", "OVERDOSE",
         "ARMED ROBBERY WITH GUN", "DOMESTIC DISTURBANCE", "BURGLAR ALARM, SILENT", "theft from vehicle",
         "Parking Problem", "COLL NON INJ", "NOISE COMPLAINT", "9-1-1 ABANDON", "abandoned vehicle"]

calls = st.builds(
    Call,
    call_type=st.one_of(st.none(), st.sampled_from(TYPES), st.text(max_size=30)),
    category=st.sampled_from(CATEGORIES + [""]),  # classification happens before triage
    priority=st.one_of(st.none(), st.integers(1, 9)),
    origin=st.one_of(st.none(), st.sampled_from(ORIGINS)),
    dow=st.one_of(st.none(), st.integers(0, 6)),
    minute=st.one_of(st.none(), st.integers(0, 1439)),
    flags=st.dictionaries(st.sampled_from(FLAGS), st.booleans()),
    unavailable=st.frozensets(st.sampled_from(RESPONDERS)),
)

PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", list_presets())
def test_every_call_gets_exactly_one_recommendation(name):
    pol = load_policy(name)
    cp = compiled(pol)
    ids = [r.id for r in pol.rules]

    @PROPS
    @given(calls)
    def check(call):
        rec = triage(pol, call)
        assert rec.responder in RESPONDERS and rec.rule in ids and rec.policy_hash == pol.hash
        assert rec.co_responder is None or (rec.co_responder in RESPONDERS and rec.co_responder != rec.responder)
        # The winner is the first rule, in file order, whose conditions hold, with the flags
        # answered yes and those the call type states.
        cg = cp.cat_group.get(call.category or None)
        texts, type_bits, _ = cp.typed(call.call_type)
        present = call.present | type_bits
        hits = [r.id for r, cs in cp.rules if not cs or any(
            c.ok_category(call.category or None, cg) and c.ok_text(texts) and c.ok_priority(call.priority)
            and c.ok_origin(call.origin) and c.ok_time(call.dow, call.minute) and c.ok_flags(present) for c in cs)]
        assert hits and hits[0] == rec.rule and hits[-1] == "default"
        # Off duty or busy: never sent; the fallback chain always ends with someone.
        if rec.responder not in call.unavailable and call.minute is not None:
            assert pol.responders[rec.responder].hours.on(call.dow, call.minute)
        assert triage(pol, call) == rec  # pure

    check()


@pytest.mark.parametrize("name", list_presets())
def test_a_danger_never_moves_a_call_from_police_to_civilians(name):
    pol = load_policy(name)
    police = {r for r, x in pol.responders.items() if x.police}
    assert police == {"police", "co_responder"}

    @PROPS
    @given(calls)
    def check(call):
        before = triage(pol, call)
        if before.responder in police:
            for flag in ("weapon", "violence", "crime_in_progress", "suicide_risk_with_means"):
                after = triage(pol, call.with_flag(flag, True))
                assert after.responder in police, (flag, call, before, after)

    check()
