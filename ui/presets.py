"""Ready-made first experiments, as keyword arguments for `fusion_core.config.make_config`.

A page that wants to start one sets `st.session_state["preset"] = PRESETS[name]` (and
`st.session_state["preset_name"] = name`) and switches to the Train page, which builds the config
with `make_config(**st.session_state["preset"])`.

Below them, the labs' one-minute plans (Robustness and Cost, ?plan=minute) and their time estimate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fusion_core.config import RunConfig, make_config

PRESETS: dict[str, dict[str, Any]] = {
    # The seed article's network: Dense 512 relu, Dense 512 relu, softmax; Adam, batch 128, 5 epochs.
    "article": {
        "fusion_type": "single",
        "hidden_layers": 2,
        "hidden_units": 512,
        "activation": "relu",
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "batch_size": 128,
        "epochs": 5,
        "train_size": 60_000,
    },
    # Exactly the seed article's training: Adam, Keras's default batch of 32, 5 epochs, all 60,000
    # training images and no validation hold-out, so the live chart shows what the article's code
    # prints: the training loss and accuracy as it learns, then the test accuracy. "article" above
    # keeps the app's defaults (batch 128, 6,000 images held out) and so a validation curve.
    # bench/bench_accuracy.py runs it beside the article's script (docs/PERFORMANCE.md).
    "article_code": {
        "fusion_type": "single",
        "hidden_layers": 2,
        "hidden_units": 512,
        "activation": "relu",
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "batch_size": 32,
        "epochs": 5,
        "train_size": 60_000,
        "validation_fraction": 0.0,
    },
    # A small committee: five one-layer networks averaged (soft voting), as in the MNIST committees.
    "parallel5": {
        "fusion_type": "parallel",
        "num_members": 5,
        "rule": "soft",
        "hidden_layers": 1,
        "hidden_units": 256,
        "activation": "relu",
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "batch_size": 128,
        "epochs": 3,
        "train_size": 60_000,
    },
    # Draw a digit's one-click model: well under a minute on two CPU cores.
    "quick": {
        "fusion_type": "parallel",
        "num_members": 3,
        "rule": "soft",
        "hidden_layers": 1,
        "hidden_units": 128,
        "activation": "relu",
        "epochs": 1,
        "train_size": 10_000,
    },
    # Three kinds of member side by side: a stacked network, a CNN and an LSTM that reads the rows.
    # Each kind errs on different digits, which is what a vote needs. Each in its default shape
    # (CNN 16-32 filters + Dense 128, LSTM 64); about 4.2x the article's network per epoch.
    "mixed": {
        "fusion_type": "parallel",
        "kinds": "mlp,cnn,lstm",
        "rule": "soft",
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "batch_size": 128,
        "epochs": 2,
        "train_size": 10_000,
    },
    # A lesson-length fusion: the mixed vote above on 20,000 images for 2 epochs. limits.estimate
    # puts its epochs at about 17 s; with start-up, compilation and the test set it finishes within
    # a minute on two CPU cores: measured 21 s for the whole process (7.1 s per epoch), fused 97.25%
    # against 95.8% (MLP), 97.2% (CNN) and 89.7% (LSTM).
    "minute": {
        "fusion_type": "parallel",
        "kinds": "mlp,cnn,lstm",
        "rule": "soft",
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "batch_size": 128,
        "epochs": 2,
        "train_size": 20_000,
    },
}


# -- the labs' one-minute plans ---------------------------------------------------------------------

MINUTE_SECONDS = 60  # what a one-minute plan may take on the reference machine (2 CPU cores)
# Each run's time besides its epochs (limits.estimate counts those and the tracing of the training
# function): the worker prepares the data, builds the model, scores the test set and saves it.
# The 10-run cost preset took 51 s on 2 cores with about 28 s of epochs by the estimate: about
# 2.3 s per run. Rounded up.
MINUTE_RUN_OVERHEAD_S = 3.0
# The cost plan: the price of each extra member of a soft vote (1, 2, 3, 5), and a fusion that
# learns a head, on the cost lab's small members (COST_PRESET's runs: stored ones are shared).
COST_MINUTE_FUSIONS = (("single", 1), ("parallel", 2), ("parallel", 3), ("parallel", 5), ("hybrid", 3))


def robust_minute_configs() -> list[RunConfig]:
    """[single, fusion] trained alike: the article's MLP alone, and the '1 minute' fusion (a soft vote
    of MLP + CNN + LSTM), both 2 epochs on 20,000 images."""
    fusion = make_config(**PRESETS["minute"])
    tc = fusion.training
    single = make_config("single", optimizer=tc.optimizer, learning_rate=tc.learning_rate,
                         batch_size=tc.batch_size, epochs=tc.epochs, train_size=tc.train_size)  # fmt: skip
    return [single, fusion]


def cost_minute_configs() -> list[RunConfig]:
    """Five of the cost preset's runs, in COST_MINUTE_FUSIONS order (those the preset has)."""
    from fusion_core import experiments

    preset = experiments.COST_PRESET  # read at call time: a test may replace it
    found = []
    for fusion_type, k in COST_MINUTE_FUSIONS:
        found += [c for c in preset if c.fusion.type == fusion_type and c.fusion.num_members == k][:1]
    return found


def plan_seconds(configs: Sequence[RunConfig], finished_runs: Iterable[dict] = ()) -> float:
    """Estimated wall time of training `configs` one after another (one worker): fusion_core.limits'
    estimate, scaled by `finished_runs` (store rows) when given, plus MINUTE_RUN_OVERHEAD_S per run."""
    from fusion_core.limits import estimate

    finished = list(finished_runs)
    return sum(estimate(c, finished).total_seconds + MINUTE_RUN_OVERHEAD_S for c in configs)
