"""The modalities a DeepLight scene holds: units, band counts and how each one is resampled.

A scene (see docs/CONTRACTS.md and docs/data.md) has a main LR night-time light image and up to four
HR-grid layers. Auxiliary rasters that come on another grid are warped onto the scene grid with the
resampling that suits their physics:

* radiance and population are *averaged* (population via density, so totals are conserved),
* elevation and reflectance are *bilinear* (continuous fields),
* classes (land cover, urban masks, degree of urbanisation) use *mode* (nearest when up-sampling),
* fractions (impervious surface, built-up share) are *averaged*.
"""

from __future__ import annotations

from dataclasses import dataclass

from rasterio.enums import Resampling

from deeplight.contracts import DMO_BANDS


@dataclass(frozen=True)
class Modality:
    """Static facts about one kind of layer.

    Attributes:
        name: short key used in files, samples and tags (``lr``, ``hr``, ``dmo`` ...).
        units: physical units written into the ``units`` tag.
        bands: expected band count, or ``None`` for "any".
        resampling: rasterio resampling used when warping onto another grid.
        description: one line for ``deeplight data info`` and manifests.
    """

    name: str
    units: str
    bands: int | None
    resampling: Resampling
    description: str


MODALITIES: dict[str, Modality] = {
    "lr": Modality(
        "lr",
        "DN (0-63, DMSP-like 6-bit)",
        1,
        Resampling.average,
        "coarse night-time light, DMSP-like digital number (main input)",
    ),
    "hr": Modality(
        "hr", "nW/cm2/sr", 1, Resampling.average, "high-resolution night-time light radiance (main target)"
    ),
    "radiance": Modality("radiance", "nW/cm2/sr", 1, Resampling.average, "night-time light radiance"),
    "dmo": Modality(
        "dmo",
        "surface reflectance (0-1)",
        DMO_BANDS,
        Resampling.bilinear,
        "daytime multispectral observation, Landsat-8 SR bands 1-7",
    ),
    "reflectance": Modality(
        "reflectance", "surface reflectance (0-1)", None, Resampling.bilinear, "surface reflectance"
    ),
    "dem": Modality("dem", "m", 1, Resampling.bilinear, "elevation above sea level"),
    "isp": Modality(
        "isp",
        "fraction (0-1)",
        1,
        Resampling.average,
        "impervious surface fraction of the pixel (auxiliary target)",
    ),
    "fraction": Modality("fraction", "fraction (0-1)", 1, Resampling.average, "area fraction"),
    "population": Modality(
        "population",
        "persons per pixel",
        1,
        Resampling.average,
        "population count per pixel (totals conserved on warping)",
    ),
    "classes": Modality("classes", "class code", 1, Resampling.mode, "categorical map"),
}
"""Every modality known to the readers and writers, by name."""

SCENE_MODALITIES: tuple[str, ...] = ("hr", "dmo", "dem", "isp")
"""HR-grid modalities of a scene, in the order of the ``present`` mask (docs/CONTRACTS.md)."""

DMO_BAND_NAMES: tuple[str, ...] = (
    "B1 coastal aerosol 0.43-0.45um",
    "B2 blue 0.45-0.51um",
    "B3 green 0.53-0.59um",
    "B4 red 0.64-0.67um",
    "B5 NIR 0.85-0.88um",
    "B6 SWIR1 1.57-1.65um",
    "B7 SWIR2 2.11-2.29um",
)
"""Landsat-8 OLI bands 1-7 (USGS Landsat 8 Data Users Handbook), the DMO layer's band order."""


def get_modality(name: str) -> Modality:
    """Look up a modality by name.

    Raises:
        ValueError: unknown name (the message lists the choices).
    """
    try:
        return MODALITIES[name]
    except KeyError:
        raise ValueError(f"unknown modality {name!r}; choose one of {sorted(MODALITIES)}") from None
