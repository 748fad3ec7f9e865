"""Ready-made first experiments, as keyword arguments for `fusion_core.config.make_config`.

A page that wants to start one sets `st.session_state["preset"] = PRESETS[name]` (and
`st.session_state["preset_name"] = name`) and switches to the Train page, which builds the config
with `make_config(**st.session_state["preset"])`.
"""

from __future__ import annotations

from typing import Any

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
    # puts its epochs at about 15 s; with start-up, compilation and the test set it finishes within
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
