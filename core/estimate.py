"""How long a plan will take, before anything runs: a latency model of each approach.

Contract: pure (a ``Plan`` in, seconds out). Requests x (latency + client time) ÷ parallelism, bounded below by what
the target's server sustains, stretched by the faults. The client time per request is the approach's own figure in
the registry (``core.approaches``).
"""

from __future__ import annotations

from dataclasses import replace

from core.approaches import APPROACHES
from core.model import Plan

# What the embedded server sustains (items/s) for single puts and for batches, and the nominal round trip of the
# other targets (ms), on this kind of machine.
_SERVER_ITEMS_PER_S = {False: 3_000.0, True: 9_000.0}
_NOMINAL_LATENCY_MS = {"embedded": 0.0, "localstack": 3.0, "aws": 8.0, "custom": 2.0}


def estimate_seconds(plan: Plan, approach: str) -> float:
    """Predicted wall time of one run: requests x (latency + client time) / parallelism, bounded by the server."""
    chosen = APPROACHES[approach]
    requests = -(-plan.items // 25) if chosen.batch else plan.items
    latency = _NOMINAL_LATENCY_MS[plan.target] + plan.conditions.latency_ms + plan.conditions.jitter_ms / 2
    network_bound = requests * latency / 1000 / plan.parallelism(approach)
    client_bound = requests * chosen.client_ms / 1000
    server_bound = plan.items / _SERVER_ITEMS_PER_S[chosen.batch] if plan.target == "embedded" else 0.0
    faults = 1 + 2 * sum(plan.conditions.faults.values())
    return max(network_bound + client_bound / (1 if chosen.driver != "threaded" else 2), server_bound) * faults


def estimate(plan: Plan) -> float:
    """Predicted wall time of the whole plan (writes, warm-ups and verification), seconds."""
    per_repeat = sum(estimate_seconds(plan, a) for a in plan.approaches)
    verify_each = plan.items / 5_000 + -(-plan.items // 100) * plan.conditions.latency_ms / 1000
    warmups = sum(estimate_seconds(replace(plan, items=max(plan.warmup, 1)), a) for a in plan.approaches) \
        if plan.warmup else 0.0
    return per_repeat * plan.repeats + verify_each * len(plan.approaches) * plan.repeats + warmups
