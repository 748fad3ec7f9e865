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


class _MemberSlices(keras.initializers.Initializer):
    """Each member's slice drawn by its own seeded GlorotUniform, as that member's Dense would be."""

    def __init__(self, seeds: list[int], fan_in: int, units: int, shared_input: bool):
        self.seeds, self.fan_in, self.units, self.shared_input = seeds, fan_in, units, shared_input

    def __call__(self, shape, dtype=None):
        slices = [
            keras.initializers.GlorotUniform(seed=seed)((self.fan_in, self.units), dtype=dtype)
            for seed in self.seeds
        ]
        return ops.concatenate(slices, axis=1) if self.shared_input else ops.stack(slices, axis=0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupedDense(layers.Layer):
    """K identical members' Dense layers computed as one product: output (batch, K, units).

    Input (batch, d), shared by all members: one (d, K*units) matrix product (the first layer).
    Input (batch, K, d), one slice per member: a batched product, einsum 'bkd,kdu->bku'.
    Member k's weights are exactly those its own Dense(units) would have (`member_weights(k)`),
    initialised from `seeds[k]`; the members stay independent, only the arithmetic is batched, so
    a step costs fewer, larger products instead of K small ones.
    """

    def __init__(
        self, units: int, groups: int, activation=None, seeds=None, kernel_regularizer=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.units, self.groups = int(units), int(groups)
        self.activation = keras.activations.get(activation)
        self.seeds = list(seeds) if seeds is not None else list(range(self.groups))
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        self.shared_input = len(input_shape) == 2
        fan_in = int(input_shape[-1])
        shape = (fan_in, self.groups * self.units) if self.shared_input else (self.groups, fan_in, self.units)
        self.kernel = self.add_weight(
            shape=shape,
            initializer=_MemberSlices(self.seeds, fan_in, self.units, self.shared_input),
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = self.add_weight(shape=(self.groups, self.units), initializer="zeros", name="bias")

    def call(self, inputs):
        if self.shared_input:
            out = ops.reshape(ops.matmul(inputs, self.kernel), (-1, self.groups, self.units))
        else:
            out = ops.einsum("bkd,kdu->bku", inputs, self.kernel)
        return self.activation(out + self.bias)

    def member_weights(self, index: int) -> list:
        """[kernel (d, units), bias (units,)] of member `index`, as its own Dense layer holds them."""
        kernel = ops.convert_to_numpy(self.kernel)
        if self.shared_input:
            kernel = kernel[:, index * self.units : (index + 1) * self.units]
        else:
            kernel = kernel[index]
        return [kernel, ops.convert_to_numpy(self.bias)[index]]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.groups, self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "groups": self.groups,
            "activation": keras.activations.serialize(self.activation),
            "seeds": self.seeds,
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class MemberSlice(layers.Layer):
    """Member `index`'s part (batch, ...) of a grouped tensor (batch, K, ...)."""

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, inputs):
        return inputs[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


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
