"""Stage 7, evaluation: audio and spectrogram metrics (:mod:`.quality`), classical baselines
(:mod:`.baselines`), ``evaluate``/``compare`` on one scoring core (:mod:`.evaluator`,
:mod:`.comparison`) and the reports (:mod:`.report`).
"""
