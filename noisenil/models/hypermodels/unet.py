"""The ``unet`` HyperModel: its search space over :func:`~noisenil.models.unet.build_unet`."""

from __future__ import annotations

from noisenil.models.unet import build_unet
from noisenil.models.hypermodels.base import DenoiserHyperModel
from noisenil.models.hypermodels.registry import register_model


@register_model("unet")
class UNetHyperModel(DenoiserHyperModel):
    """Search space of the seed-004 U-Net: width, depth, dropout, learning rate."""

    builder = staticmethod(build_unet)
    tiny = {"base_filters": 4, "depth": 2}
    options = {"head_filters": 2}

    def search_space(self, hp):
        return dict(
            base_filters=hp.Choice("base_filters", [8, 16, 32], default=16),
            depth=hp.Int("depth", 3, 5, default=4),
            dropout=hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.5),
            learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3),
        )
