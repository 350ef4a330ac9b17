"""Inference at any scale: tiled, cached, device-aware, distributed prediction with uncertainty.

Public API (see docs/inference.md):

* :func:`predict_array` - in-memory LR array -> :class:`SRResult`.
* :func:`predict_scene_array` - a Scene held in memory (LR + its DMO / DEM) -> :class:`SRResult`
  (the dashboard's reconstruction, ``predict --dataset``, ``sdg --dataset --predict``).
* :func:`predict_scene` - a catalogued Scene -> 8x finer COG on its HR grid (``predict --dataset``).
* :func:`predict_raster` - LR GeoTIFF -> 8x finer COG, streamed by windows, atomic.
* :class:`TileCache`, :func:`default_cache_dir` - the content-addressed prediction cache.
* :func:`resolve_device` - "auto" / "cpu" / "cuda[:N]" / "mps" -> torch.device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deeplight.lazy import lazy_exports

if TYPE_CHECKING:  # the eager imports, for type checkers and editors; at run time each loads on first use
    from deeplight.infer.array import SRResult, predict_array, predict_scene_array
    from deeplight.infer.cache import CacheInfo, TileCache, cache_key, default_cache_dir
    from deeplight.infer.devices import resolve_device
    from deeplight.infer.raster import PredictionOutput, predict_raster, predict_scene, uncertainty_path_for
    from deeplight.infer.tiling import plan_tiles

_PROVIDERS = {
    "SRResult": "deeplight.infer.array",
    "predict_array": "deeplight.infer.array",
    "predict_scene_array": "deeplight.infer.array",
    "CacheInfo": "deeplight.infer.cache",
    "TileCache": "deeplight.infer.cache",
    "cache_key": "deeplight.infer.cache",
    "default_cache_dir": "deeplight.infer.cache",
    "resolve_device": "deeplight.infer.devices",
    "PredictionOutput": "deeplight.infer.raster",
    "predict_raster": "deeplight.infer.raster",
    "predict_scene": "deeplight.infer.raster",
    "uncertainty_path_for": "deeplight.infer.raster",
    "plan_tiles": "deeplight.infer.tiling",
}
__getattr__, __dir__ = lazy_exports("deeplight.infer", _PROVIDERS)

__all__ = sorted(_PROVIDERS)
