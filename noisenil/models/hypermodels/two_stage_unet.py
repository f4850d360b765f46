"""The ``two_stage_unet`` HyperModel: its search space over :func:`~noisenil.models.two_stage_unet.build_two_stage_unet`."""

from __future__ import annotations

from noisenil.models.two_stage_unet import build_two_stage_unet
from noisenil.models.hypermodels.base import DenoiserHyperModel
from noisenil.models.hypermodels.registry import register_model


@register_model("two_stage_unet")
class TwoStageUNetHyperModel(DenoiserHyperModel):
    """Search space: depth, base filters, width growth per scale, learning rate."""

    builder = staticmethod(build_two_stage_unet)
    tiny = {"depth": 2, "filters": 4}
    adam_betas = (0.5, 0.9)

    def search_space(self, hp):
        return dict(
            depth=hp.Int("depth", 3, 5, default=4),
            filters=hp.Choice("filters", [16, 24, 32, 48], default=32),
            growth=hp.Choice("growth", [1.5, 2.0], default=2.0),
            learning_rate=hp.Float("learning_rate", 1e-5, 1e-3, sampling="log", default=1e-4),
        )
