"""Stage 5, training: resumable ``noisenil train`` runs (:mod:`.trainer`)."""

from noisenil.training.trainer import train

__all__ = ["train"]
