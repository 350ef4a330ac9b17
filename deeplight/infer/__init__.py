"""Inference at any scale: tiled, cached, device-aware, distributed prediction with uncertainty.

Public API (see docs/inference.md):

* :func:`predict_array` - in-memory LR array -> :class:`SRResult` (the dashboard).
* :func:`predict_raster` - LR GeoTIFF -> 8x finer COG, streamed by windows, atomic.
* :class:`TileCache`, :func:`default_cache_dir` - the content-addressed prediction cache.
* :func:`resolve_device` - "auto" / "cpu" / "cuda[:N]" / "mps" -> torch.device.
"""

from deeplight.infer.array import SRResult, predict_array
from deeplight.infer.cache import CacheInfo, TileCache, cache_key, default_cache_dir
from deeplight.infer.devices import resolve_device
from deeplight.infer.raster import PredictionOutput, predict_raster, uncertainty_path_for
from deeplight.infer.tiling import plan_tiles

__all__ = [
    "CacheInfo",
    "PredictionOutput",
    "SRResult",
    "TileCache",
    "cache_key",
    "default_cache_dir",
    "plan_tiles",
    "predict_array",
    "predict_raster",
    "resolve_device",
    "uncertainty_path_for",
]
