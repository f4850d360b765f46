"""Stage 4, inference: the one inference path (:class:`~.denoiser.Denoiser`, whose whole-array
call is one block of :class:`~.streaming.StreamingDenoiser`), folder jobs (:mod:`.files`) and
export (:mod:`.export`).

Never imports training, tuning, the HyperModels or keras_tuner: a saved model loads from its
layers and builders alone (:mod:`noisenil.models.saving`).
"""
