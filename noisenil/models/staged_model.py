"""A functional model whose intermediate stage outputs are supervised in training only.

Seed 001 supervises both stages of its two-stage U-Net: the loss is the sum of the per-stage losses
(equation 2). Everything after training (predict, evaluate, the inference path, export) relies on
the one contract every noisenil model keeps: ``(batch, freq, time, channels)`` in, the same shape
out. :class:`StagedModel` keeps both:

- it is built like any functional model, with outputs ``[final, stage_1, ...]``;
- called with ``training=True`` (``fit``) it returns all of them, and :meth:`compute_loss` sums
  the compiled loss over every output against the one target (the data pipeline yields plain
  ``(noisy, clean)`` pairs, no duplicated targets);
- called otherwise it returns the final output only, so ``predict``, ``evaluate``, the
  validation pass and exported graphs see a single tensor;
- metrics are always computed on the final output, under their plain names (``snr``, hence the
  tuner objective ``val_snr`` like every other model).

So ``loss`` (training) is the sum over the stages while ``val_loss`` is the final output's loss;
compare ``val_loss`` with ``val_loss`` only.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="noisenil")
class StagedModel(keras.Model):
    """Functional model with outputs ``[final, *intermediate]``; see the module docstring.

    Construct it exactly like ``keras.Model(inputs, outputs, name=...)`` with a list of outputs,
    final first. It reloads from ``.keras`` files like a functional model.
    """

    def call(self, inputs, training=None, mask=None):
        outputs = super().call(inputs, training=training, mask=mask)
        return outputs if training else outputs[0]

    def compute_output_spec(self, inputs, training=None, mask=None):
        spec = super().compute_output_spec(inputs, training=training, mask=mask)
        return spec if training else spec[0]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y_pred, (list, tuple)):
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        # The compiled loss of every stage, plus the regularisation losses once.
        total = super().compute_loss(x, y, y_pred[0], sample_weight, training)
        for stage in y_pred[1:]:
            total = total + self._compile_loss(y, stage, sample_weight)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, (list, tuple)):
            y_pred = y_pred[0]
        return super().compute_metrics(x, y, y_pred, sample_weight)
