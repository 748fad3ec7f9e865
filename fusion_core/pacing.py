"""How `fusion_core.train` paces a run, in plain arithmetic (no Keras): steps per compiled call, XLA.

train() and the time estimate (fusion_core/limits.py) both read these, so the estimate models the
calls train() really makes.
"""

from __future__ import annotations

LOG_EVERY = 20  # batches between training points
# On TensorFlow, XLA compilation costs about 3 s up front and saves about 1.3 ms per step of the
# article's network on two cores (docs/PERFORMANCE.md): worth it only for longer runs.
XLA_MIN_STEPS = 2500
# Stop must act within about 0.5 s: one execution of N steps may take at most this long. Estimated
# from the model's size: a step costs about 6 x parameters x batch FLOP, and these two shared cores
# sustain about 5e10 FLOP/s under load (the article's network: 2.4e11 FLOP per epoch in 2.5-5 s).
# Measured (bench/bench_engine.py stop, 2026-11-29, TensorFlow, machine busy): the article's network
# gets N = 20 and Stop ended `train()` 0.07 s after it was requested (median of 3, at most 0.09 s);
# five members get N = 4: 0.15 s (at most 0.34 s). On a GPU a step is about 1 ms of dispatch: N = 20.
STOP_BUDGET_S = 0.25
CPU_FLOPS = 5e10
GPU_FLOPS = 1e13
MAX_STEPS_PER_EXECUTION = 20


def steps_per_execution(
    num_params: int, batch_size: int, log_every: int = LOG_EVERY, gpu: bool = False
) -> int:
    """Steps per compiled call: as many as fit in STOP_BUDGET_S, and a divisor of `log_every`.

    More steps per call mean fewer round trips to Python (on a GPU a callback reading the logs after
    every batch costs 1.4x a bare epoch), but Stop, and every point, wait for the call to end. A
    divisor of `log_every` keeps the training points exactly `log_every` steps apart.
    """
    step_seconds = 6.0 * num_params * batch_size / (GPU_FLOPS if gpu else CPU_FLOPS)
    fits = max(1, int(STOP_BUDGET_S / max(step_seconds, 1e-9)))
    limit = min(fits, MAX_STEPS_PER_EXECUTION, max(1, log_every))
    return max(n for n in range(1, limit + 1) if log_every % n == 0)


def xla_for(total_steps: int, xla_on_cpu: bool, gpu: bool = False) -> bool:
    """Whether train() compiles a TensorFlow run with XLA: a run of XLA_MIN_STEPS steps or more, on
    a CPU only when every member gains from it (`registry.xla_on_cpu`: not a CNN)."""
    return total_steps >= XLA_MIN_STEPS and (gpu or xla_on_cpu)
