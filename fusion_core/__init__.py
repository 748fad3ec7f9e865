"""Fusion Lab's engine: data, fusion models, training, evaluation and the run store.

Pure Python and Keras 3; it never imports streamlit. Importing this package is cheap: Keras is
imported only by the modules that build or train models.
"""

from fusion_core.config import (
    ACTIVATIONS,
    FUSION_RULES,
    FUSION_TYPES,
    OPTIMIZERS,
    ConfigError,
    FusionConfig,
    MemberConfig,
    RunConfig,
    TrainConfig,
    make_config,
)

__all__ = [
    "ACTIVATIONS",
    "FUSION_RULES",
    "FUSION_TYPES",
    "OPTIMIZERS",
    "ConfigError",
    "FusionConfig",
    "MemberConfig",
    "RunConfig",
    "TrainConfig",
    "make_config",
]
