"""Stage 7, evaluation: metrics (:mod:`.quality`, the entry point, over :mod:`.waveform`,
:mod:`.perceptual` and :mod:`.spectrogram`), classical baselines (:mod:`.baselines`), the
methods scored (:mod:`.methods`), ``evaluate``/``compare`` (:mod:`.evaluator`,
:mod:`.comparison`) as thin callers of one scoring core (:mod:`.scoring`), and the reports
(:mod:`.report`).
"""
