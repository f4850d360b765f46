"""The ``dncnn`` HyperModel: its search space over :func:`~noisenil.models.dncnn.build_dncnn`."""

from __future__ import annotations

from noisenil.models.dncnn import build_dncnn
from noisenil.models.hypermodels.base import DenoiserHyperModel
from noisenil.models.hypermodels.registry import register_model


@register_model("dncnn")
class DnCNNHyperModel(DenoiserHyperModel):
    """Search space of seed 002: depth, filters, kernel size, dropout, L2, learning rate."""

    builder = staticmethod(build_dncnn)
    tiny = {"depth": 3, "filters": 8}

    def search_space(self, hp):
        return dict(
            depth=hp.Int("depth", 8, 20, default=17),
            filters=hp.Choice("filters", [32, 48, 64, 96], default=64),
            kernel_size=hp.Choice("kernel_size", [3, 5], default=3),
            dropout=hp.Float("dropout", 0.0, 0.3, step=0.05, default=0.0),
            l2=hp.Choice("l2", [0.0, 1e-6, 1e-5, 1e-4], default=0.0),
            learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3),
        )
