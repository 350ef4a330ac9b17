"""The data layer: degradation model, synthetic generator, DeepLightMD layout, torch datasets.

Public API (imported lazily so that ``deeplight --help`` stays fast):
    norm: the fixed radiometric scale (``normalize_radiance``, ``radiance_to_nominal_dn`` ...).
    DegradationParams, preset_params, degrade_dmsp_like, lr_dn_to_radiance (degrade.py);
    degrade_raster (degrade_raster.py);
    SynthConfig, generate_scene, synthetic_to_scene (synth.py); write_deeplightmd (synth_writer.py);
    make_demo (demo.py);
    DeepLightMDDataset, ScenePatchDataset, InMemoryClipDataset (datasets.py);
    make_sample, augment_sample, collate_samples (samples.py).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DegradationParams": "deeplight.data.degrade",
    "DegradationInfo": "deeplight.data.degrade",
    "preset_params": "deeplight.data.degrade",
    "degrade_dmsp_like": "deeplight.data.degrade",
    "lr_dn_to_radiance": "deeplight.data.degrade",
    "degrade_raster": "deeplight.data.degrade_raster",
    "SynthConfig": "deeplight.data.synth",
    "SyntheticScene": "deeplight.data.synth",
    "generate_scene": "deeplight.data.synth",
    "synthetic_to_scene": "deeplight.data.synth",
    "write_deeplightmd": "deeplight.data.synth_writer",
    "make_demo": "deeplight.data.demo",
    "DeepLightMDDataset": "deeplight.data.datasets",
    "ScenePatchDataset": "deeplight.data.datasets",
    "InMemoryClipDataset": "deeplight.data.datasets",
    "make_sample": "deeplight.data.samples",
    "augment_sample": "deeplight.data.samples",
    "collate_samples": "deeplight.data.samples",
}

__all__ = [
    "DeepLightMDDataset",
    "DegradationInfo",
    "DegradationParams",
    "InMemoryClipDataset",
    "ScenePatchDataset",
    "SynthConfig",
    "SyntheticScene",
    "augment_sample",
    "collate_samples",
    "degrade_dmsp_like",
    "degrade_raster",
    "generate_scene",
    "lr_dn_to_radiance",
    "make_demo",
    "make_sample",
    "preset_params",
    "synthetic_to_scene",
    "write_deeplightmd",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deeplight.data' has no attribute {name!r}")
