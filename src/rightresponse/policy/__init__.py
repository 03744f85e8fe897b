"""Responder policies: who should respond to each call, applied to history and to live calls.

    from rightresponse.policy import load_policy, triage, make_call
    star = load_policy("denver-star")
    rec = triage(star, make_call("welfare check", flags=["no_weapon"], at="14:00"))
    rec.responder, rec.reason, rec.questions

    from rightresponse.policy import compare_policies
    compare_policies("ws")          # share of calls and officer hours moved, per preset

Policies are YAML (see docs/policies.md and presets/*.yaml); `lint_policy` proves properties
of a policy over every kind of call; `diff_policies` compares two.
"""

from .call import Call, make_call
from .definition import Policy, catalogue, flag_info, list_presets, load_policy, preset_summaries
from .findings import Finding, PolicyError
from .triage import Recommendation, triage, triage_args
from .vocabulary import FLAGS, RESPONDERS

# History, diff and lint need the engine (Ibis, pyarrow) and are imported on first use, so
# that `rightresponse triage` (one call, on the command line) does not pay 0.25 s for them.
_LAZY = {"PolicyDiff": "diff", "diff_policies": "diff", "LintReport": "lint", "lint_policy": "lint",
         **{n: "history" for n in ("PolicyFigures", "PreparedHistory", "apply_policy", "compare_policies",
                                   "policy_figures", "prepare_history")}}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Call", "Finding", "FLAGS", "LintReport", "Policy", "PolicyDiff", "PolicyError", "PolicyFigures",
    "PreparedHistory", "RESPONDERS", "Recommendation", "apply_policy", "catalogue", "compare_policies",
    "diff_policies", "flag_info", "lint_policy", "list_presets", "load_policy", "make_call", "policy_figures",
    "prepare_history", "preset_summaries", "triage", "triage_args",
]
