"""The learned baselines by registry name (imported by :mod:`deeplight.models.registry`)."""

from __future__ import annotations

from torch import nn

from deeplight.models.baselines.early_fusion import EarlyFusionSR
from deeplight.models.baselines.edsr import EDSR
from deeplight.models.baselines.guided_injection import GuidedDetailInjection
from deeplight.models.baselines.rcan import RCAN
from deeplight.models.baselines.rrsgan import RRSGANLike
from deeplight.models.baselines.srcnn import SRCNN
from deeplight.models.baselines.swinir import SwinIRLight

BASELINES: dict[str, type[nn.Module]] = {
    "srcnn": SRCNN,
    "edsr": EDSR,
    "rcan": RCAN,
    "swinir-light": SwinIRLight,
    "early-fusion": EarlyFusionSR,
    "guided-injection": GuidedDetailInjection,
    "rrsgan": RRSGANLike,
}
