"""The few layers that fusion needs beyond Keras's own.

Each overrides one method and is registered, so a saved .keras model loads again once
`fusion_core.layers` has been imported (fusion_core.models does that).
"""

from __future__ import annotations

import keras
from keras import layers, ops

PACKAGE = "fusion_core"


@keras.saving.register_keras_serializable(package=PACKAGE)
class StopGradient(layers.Layer):
    """Passes its input through but lets no gradient back.

    The fusion's own loss then trains only the fusion's weights: every member keeps learning from
    its own loss, as it would alone.
    """

    def call(self, inputs):
        return ops.stop_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class HardVote(layers.Layer):
    """Majority vote of the members' labels, ties broken by summed probability.

    Returns a distribution: (votes + 0.5 * mean_probs) / (K + 0.5). Vote counts differ by whole
    numbers and the tie-break term is below 0.5, so the argmax is the majority label, and the output
    still sums to one (it has a finite log loss).
    """

    def call(self, inputs):
        stacked = ops.stack(inputs, axis=1)  # (batch, K, classes)
        num_members, num_classes = stacked.shape[1], stacked.shape[2]
        votes = ops.sum(ops.one_hot(ops.argmax(stacked, axis=-1), num_classes), axis=1)
        mean_probs = ops.mean(stacked, axis=1)
        return (votes + 0.5 * mean_probs) / (num_members + 0.5)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class WeightedAverage(layers.Layer):
    """sum_k w_k p_k with w = softmax(v): one trainable, normalised weight per member."""

    def build(self, input_shape):
        self.logits = self.add_weight(
            shape=(len(input_shape),), initializer="zeros", trainable=True, name="member_logits"
        )

    def _normalised(self):
        # softmax written out: Keras warns about a softmax over a single member's axis.
        e = ops.exp(self.logits - ops.max(self.logits))
        return e / ops.sum(e)

    def call(self, inputs):
        weights = self._normalised()
        stacked = ops.stack(inputs, axis=1)  # (batch, K, classes)
        return ops.sum(stacked * ops.reshape(weights, (1, -1, 1)), axis=1)

    def member_weights(self):
        return ops.convert_to_numpy(self._normalised())

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class HeadOrVote(layers.Layer):
    """A learned head's answer, or the members' soft vote once the head has been set aside.

    Inputs: [the head's probabilities, p_1, ..., p_K]. `use_vote` is decided after training
    (fusion_core/heads.py: the head did not beat the vote on held-out images, or had too few of
    them to learn from) and saved with the model, so a reloaded model answers the same way.
    """

    def __init__(self, use_vote: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.use_vote = bool(use_vote)

    def call(self, inputs):
        if self.use_vote:
            return ops.mean(ops.stack(inputs[1:], axis=0), axis=0)
        return inputs[0]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "use_vote": self.use_vote}
