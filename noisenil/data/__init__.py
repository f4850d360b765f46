"""Stage 2, data: the file manifest and split (:mod:`.manifest`), mixing at an SNR and level
(:mod:`.mixing`), augmentation (:mod:`.augment`), training datasets (:mod:`.datasets`), test sets
(:mod:`.testset`) and the generated demo corpus (:mod:`.demo`).
"""
