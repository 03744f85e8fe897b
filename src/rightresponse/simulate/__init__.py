"""Scenarios: what a co-responder or crisis-team pilot frees, costs and needs.

    from rightresponse.simulate import simulate, compare_scenarios, staffing
    res = simulate("decc-co-responder-pilot", replications=20)   # a shipped example or a YAML path
    print(res.summary_text()); res.pools; res.html()
    cmp = compare_scenarios("decc-status-quo", "decc-co-responder-pilot")
    cmp.table; cmp.to_csv("compare.csv"); cmp.html()
    staffing(arrivals_per_hour=6, minutes_per_call=45, target_minutes=10, service_level_target=0.9).units

A scenario (YAML, docs/scenarios.md) names the data, a responder policy, the responder
pools (units by hour of week, cost, travel and service times) and the dispatch rules;
the discrete-event simulation replays or resamples the real call stream, and Erlang C
gives the closed-form answer beside it.
"""

from .side_by_side import Comparison, compare_scenarios, comparison_table
from .erlang import Staffing, erlang_b, erlang_c, mean_wait, priority_mean_waits, service_level, staffing, staffing_dict
from .run import SimulationResult, simulate
from .scenario import Scenario, ScenarioError, list_scenarios, load_scenario
from .stream import DataError

__all__ = [
    "Comparison", "DataError", "Scenario", "ScenarioError", "SimulationResult", "Staffing", "compare_scenarios",
    "comparison_table", "erlang_b", "erlang_c", "list_scenarios", "load_scenario", "mean_wait", "priority_mean_waits",
    "service_level", "simulate", "staffing", "staffing_dict",
]
