"""Stage 5, training: resumable ``noisenil train`` runs.

- :mod:`.trainer`: :func:`train` and :class:`~.trainer.TrainResult`, the initial weights
  (``train.init_from``) and the configured data;
- :mod:`.runs`: the run folder's per-epoch state, the resume check and the one "is this the same
  job?" comparison (:func:`~.runs.differing_setting`, also used by :mod:`noisenil.tuning`);
- :mod:`.callbacks`: the callbacks of a run and of every tuning trial;
- :mod:`.strategy`: ``tf.distribute`` strategy and the precision policy.
"""

from noisenil.training.trainer import train

__all__ = ["train"]
