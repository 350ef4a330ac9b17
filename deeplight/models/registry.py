"""Model names -> constructors: a plain dict, no import scanning (see docs/DESIGN.md).

``get_model(name, **kwargs)`` builds a model; every learned model takes ``preset`` ("tiny" for
tests, "demo" for CPU training and the shipped checkpoint, "paper" for full width) plus its own
keyword arguments (see each class). ``list_models()`` lists the names; ``model_family(name)``
gives the family ("calibration", "single-modal", "multi-modal", "deeplight").
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from deeplight.models.baselines.calibration_based import (
    GaussianDeblurBicubic,
    NominalBicubic,
    QuadraticCalibrationBicubic,
    SigmoidCalibrationBicubic,
)
from deeplight.models.baselines.zoo import BASELINES
from deeplight.models.deeplightsr import DeepLightSR

MODELS: dict[str, Callable[..., nn.Module]] = {
    "bicubic": NominalBicubic,
    "quadratic-calibration": QuadraticCalibrationBicubic,
    "sigmoid-calibration": SigmoidCalibrationBicubic,
    "gaussian-deblur": GaussianDeblurBicubic,
    **BASELINES,
    "deeplightsr": DeepLightSR,
}
"""Registry name -> model class."""


def list_models() -> list[str]:
    """Registered model names, in registry order (calibration, single-modal, multi-modal, DeepLight)."""
    order = {"calibration": 0, "single-modal": 1, "multi-modal": 2, "deeplight": 3}
    return sorted(
        MODELS, key=lambda n: (order.get(getattr(MODELS[n], "family", ""), 9), list(MODELS).index(n))
    )


def _unknown(name: object) -> ValueError:
    return ValueError(f"unknown model {name!r}; valid choices: {', '.join(list_models())}")


def model_class(name: str) -> Callable[..., nn.Module]:
    """The class registered under ``name``.

    Raises:
        ValueError: unknown name (the message lists the choices).
    """
    if not isinstance(name, str) or name not in MODELS:
        raise _unknown(name)
    return MODELS[name]


def model_family(name: str) -> str:
    """The family of a registered model."""
    return model_class(name).family


def get_model(name: str, **kwargs) -> nn.Module:
    """Build the model registered as ``name`` with keyword arguments ``kwargs``.

    Raises:
        ValueError: unknown name (lists the choices) or invalid arguments (ConfigError).
        TypeError: an argument the model does not take.
    """
    return model_class(name)(**kwargs)
