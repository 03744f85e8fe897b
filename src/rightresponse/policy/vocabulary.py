"""The words a responder policy is written in: responders, flags, days, the safety floor.

The call (``call.py``), the policy file (``definition.py``, ``file_format.py``) and triage
(``triage.py``) all speak this vocabulary; it lives apart so the import graph of the
package is a tree: vocabulary <- call <- definition <- triage.
"""

from __future__ import annotations

RESPONDERS = ("police", "co_responder", "crisis_team", "community_responder", "non_emergency", "fire_ems", "no_dispatch")
FLAGS = ("weapon", "violence", "crime_in_progress", "injury", "suicide_risk_with_means", "intoxication", "juvenile")
KINDS = ("police", "civilian", "medical", "remote")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
FLAG_BIT = {f: 1 << i for i, f in enumerate(FLAGS)}
ALL_MINUTES = (1 << 1440) - 1
# The safety floor: a yes to any of these (or a call type that states one) never gets a
# responder without police, under any policy.
DANGER_FLAGS = ("weapon", "violence", "crime_in_progress", "suicide_risk_with_means")
DANGER_BITS = sum(FLAG_BIT[f] for f in DANGER_FLAGS)
# The order screening questions are asked in: the dangers first, the gravest first.
SCREEN_ORDER = DANGER_FLAGS + tuple(f for f in FLAGS if f not in DANGER_FLAGS)
FLOOR_TEXT = ("Safety floor (every policy, no rule can opt out): a yes to weapon, violence, crime in progress "
              "or suicide risk with means, or a call type that states one of them (a weapon, violence, a crime "
              "in progress, impaired driving, a prisoner, an officer in need), always gets police, the police "
              "co-responder, or fire/EMS with police. A responder without police is sent only once the rule's "
              "screening questions (and these four) are answered no; until then: the unscreened responder.")
