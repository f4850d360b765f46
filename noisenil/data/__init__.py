"""Stage 2, data: the file manifest and split (:mod:`.manifest`), mixing at an SNR and level
(:mod:`.mixing`), augmentation signal functions (:mod:`.augment`) and their registry and runner
(:mod:`.augmenter`), the audio store (:mod:`.audio_store`), example sources (:mod:`.sources`),
batches of feature patches (:mod:`.patch_dataset`), training datasets from a configuration
(:mod:`.datasets`), test sets (:mod:`.testset`) and the generated demo corpus (:mod:`.demo`).
"""
