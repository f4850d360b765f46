"""The ``resnet_unet`` HyperModel: its search space over :func:`~noisenil.models.resnet_unet.build_resnet_unet`."""

from __future__ import annotations

from noisenil.models.resnet_unet import build_resnet_unet
from noisenil.models.hypermodels.base import DenoiserHyperModel
from noisenil.models.hypermodels.registry import register_model


@register_model("resnet_unet")
class ResNetUNetHyperModel(DenoiserHyperModel):
    """Search space of seed 002: decoder widths, dropout, learning rate, encoder freezing."""

    builder = staticmethod(build_resnet_unet)
    options = {"backbone": "resnet101", "weights": None, "output_activation": "linear"}
    tiny = {"backbone": "resnet_tiny", "decoder_filters": 4}

    def search_space(self, hp):
        return dict(
            decoder_filters=hp.Choice("decoder_filters", [8, 16, 32], default=16),
            dropout=hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.0),
            freeze_epochs=hp.Choice("freeze_epochs", [0, 2, 5], default=0),
            learning_rate=hp.Float("learning_rate", 1e-5, 1e-2, sampling="log", default=1e-3),
        )
