"""What a pilot evaluation measures and how: its groups, outcomes, contrasts, interval method
and the limits of the design, declared once.

``evaluate`` computes with them; ``report`` publishes and draws with them. They live apart
from both so that neither imports the other's module for a name.
"""

from __future__ import annotations

GROUPS = ("eligible", "comparison")
PERIODS = ("before", "after")
OUTCOMES = ("arrest", "report", "no_action")  # the outcome shares reported (workload.OUTCOME_ORDER names)
RESPONSE_INTERVAL = "to_arrival"  # measures.INTERVALS: received to first unit on scene
REPEAT_DAYS = 30
TOP_REPEAT_LOCATIONS = 100
DID_OUTCOMES = {"calls_per_week": "calls", "officer_hours_per_week": "officer_hours"}
CONTRASTS = {"groups": ("eligible", "comparison"), "areas": ("eligible_treated", "eligible_other")}
CI_LEVEL = 0.95
# Levels (calls per week) as the issue asks, and logarithms: the eligible calls are a few dozen a
# week against hundreds of comparison calls, so parallel trends in levels is a strong assumption;
# on the log scale the estimate is a proportional change (exp(estimate) - 1).
SCALES = ("level", "log")
CI_METHOD = ("OLS of the weekly difference between the two series on a post-pilot indicator, with a "
             "Newey-West (Bartlett kernel) standard error and a t distribution with weeks - 2 degrees of "
             "freedom")

LIMITS = (
    "No randomisation: the pilot's calls were not assigned at random, so the estimate is causal only if "
    "the eligible and comparison calls would have moved in parallel without the pilot (the parallel-trends "
    "assumption). The event-study chart shows the weeks before the pilot as a check; flat pre-pilot points "
    "are consistent with it but do not prove it.",
    "A short sample: a few weeks on each side of the start give wide intervals, and seasonal change "
    "(schools, weather, holidays) that touches the two groups differently is read as an effect.",
    "Eligibility is the policy applied to the recorded call type (the conservative view): the call-taker's "
    "screening answers are not in historical data, so some eligible calls would have been screened out "
    "and some comparison calls screened in.",
    "Officer hours count the time recorded on the call; time the alternative responder spent, calls it took "
    "that never reached police CAD, and work displaced to other shifts are not seen.",
    "If the pilot changed how calls are coded (a new call type for the team, or calls leaving police CAD), "
    "the groups themselves move, and a drop in eligible police calls is partly a change of records.",
    "Repeat calls are calls to the same block address within 30 days; addresses are often blocks or "
    "intersections, so the rate is approximate, and a call needs 30 days of data before it to be counted.",
)
PLACEBO_NOTE = ("No pilot ran in these data: the policy was applied to historical calls only, so any "
                "'effect' is a placebo estimate, a measure of how much two groups of calls drift apart by chance "
                "over the same weeks.")
