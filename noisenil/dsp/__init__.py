"""Stage 1, signal processing: audio I/O and resampling (:mod:`.audio_io`), the STFT and the
invertible feature scaling (:mod:`.features`), the inference chunk plan (:mod:`.chunks`), input
levels (:mod:`.levels`), signal measures (:mod:`.measures`) and the time-domain declicker
(:mod:`.declick`).

Imports nothing above :mod:`noisenil.config` and :mod:`noisenil.errors`; no Keras.
"""
