"""Stage 1, signal processing: audio I/O and resampling (:mod:`.audio_io`), the STFT and the
invertible feature scaling (:mod:`.features`), and the inference chunk plan (:mod:`.chunks`).

Imports nothing above :mod:`noisenil.config` and :mod:`noisenil.errors`; no Keras.
"""
