"""In-memory tiled prediction (what the dashboard calls): :func:`predict_array`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deeplight.contracts import SCALE, radiance_to_nominal_dn
from deeplight.errors import ConfigError
from deeplight.infer.cache import TileCache, cache_key
from deeplight.infer.devices import default_batch_size, precision_key, resolve_device
from deeplight.infer.engine import scene_calibration
from deeplight.infer.executors import LocalExecutor
from deeplight.infer.fingerprint import model_fingerprint
from deeplight.infer.sources import ArraySource
from deeplight.infer.tiled import ProgressCallback, run_tiled
from deeplight.infer.tiling import check_tiling, plan_tiles

LR_UNITS = ("dn", "radiance")


@dataclass
class SRResult:
    """A super-resolved night-time light image.

    Attributes:
        radiance: (8h, 8w) float32 radiance in nW/cm^2/sr; NaN where the LR input is nodata.
        uncertainty: (8h, 8w) float32 per-pixel std of the x8 self-ensemble (nW/cm^2/sr), or None.
        from_cache: True when the result was read from the cache rather than computed.
        tiles: number of tiles of the layout (0 when served from the request cache).
        void: of those, the tiles without LR data, not computed (``deeplight.infer.tiled.void_tiles``; 0
            when served from the request cache).
    """

    radiance: np.ndarray
    uncertainty: np.ndarray | None = None
    from_cache: bool = False
    tiles: int = 0
    void: int = 0


def lr_to_dn(lr: np.ndarray, lr_units: str) -> np.ndarray:
    """LR values in ``lr_units`` ("dn" or "radiance") -> float32 DN; radiance goes through the nominal
    DMSP-like response (:func:`deeplight.contracts.radiance_to_nominal_dn`)."""
    if lr_units not in LR_UNITS:
        raise ConfigError(f"lr_units must be one of {LR_UNITS} (got {lr_units!r})")
    lr = np.asarray(lr, dtype=np.float32)
    if lr_units == "radiance":
        return radiance_to_nominal_dn(lr).astype(np.float32)
    return lr


def predict_array(
    model: torch.nn.Module,
    lr_dn: np.ndarray,
    aux: dict[str, np.ndarray | None] | None = None,
    *,
    tile: int = 128,
    overlap: int = 16,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    self_ensemble: bool = False,
    progress: ProgressCallback | None = None,
    cache: TileCache | None = None,
    model_id: str | None = None,
    lr_units: str = "dn",
    input_id: str | None = None,
) -> SRResult:
    """Super-resolve an in-memory LR image by overlapping, blended tiles.

    Args:
        model: follows docs/CONTRACTS.md (``model(batch)["sr"]``); moved to ``device``, eval mode.
        lr_dn: (h, w) LR image, DMSP-like DN 0..63 (or radiance with ``lr_units="radiance"``);
            NaN = nodata.
        aux: optional ``{"dmo": (7, 8h, 8w) reflectance 0..1, "dem": (8h, 8w) metres}`` on the HR grid;
            absent layers get ``present = 0``.
        tile: tile size in LR pixels.
        overlap: overlap between tiles in LR pixels; tiled == whole-image output for a model whose
            receptive-field radius is at most ``overlap // 4`` LR pixels.
        batch_size: tiles per model call (None: 2 on CPU, 4 on MPS, 16 on CUDA).
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        self_ensemble: mean of the x8 dihedral ensemble, with its std as ``uncertainty``.
        progress: ``progress(done, total)`` after each batch of tiles.
        cache: optional cache; the whole request is computed once under a lock keyed by the request,
            so concurrent callers asking for the same thing trigger exactly one inference.
        model_id: identity of the weights for the cache key (e.g. checkpoint sha256); default: a hash
            of the model's state dict.
        lr_units: "dn" or "radiance".
        input_id: identity of the input content for the cache key when the caller knows it, e.g. the
            SHA-256 of the scene files plus the crop window; default: the SHA-256 of the arrays
            (about 30 ms per 20 MB, which bounds the speed-up of a cache hit).

    Returns:
        :class:`SRResult`.

    Raises:
        RasterError: bad array shapes. ConfigError: bad tile/overlap/device/units.
    """
    check_tiling(tile, overlap)
    resolved = resolve_device(device)
    source = ArraySource(lr_to_dn(lr_dn, lr_units), aux)
    size = batch_size if batch_size is not None else default_batch_size(resolved)
    if size < 1:
        raise ConfigError(f"batch_size must be at least 1 (got {batch_size})")

    def compute() -> dict[str, np.ndarray]:
        source.check_values()
        hr_shape = (source.lr_height * SCALE, source.lr_width * SCALE)
        radiance = np.empty(hr_shape, dtype=np.float32)
        uncertainty = np.empty(hr_shape, dtype=np.float32) if self_ensemble else None

        def write(row0: int, rows: np.ndarray, unc: np.ndarray | None) -> None:
            radiance[row0:row0 + rows.shape[0]] = rows
            if uncertainty is not None and unc is not None:
                uncertainty[row0:row0 + unc.shape[0]] = unc

        stats = run_tiled(
            source, LocalExecutor(model, resolved, self_ensemble), write, tile=tile, overlap=overlap,
            batch_size=size, self_ensemble=self_ensemble, model_id="", params={}, cache=None,
            progress=progress, scene_calibration=scene_calibration(model.to(resolved), source.lr),
        )
        out = {"radiance": radiance, "tiles": np.array([stats["tiles"]], dtype=np.int64),
               "void": np.array([stats["void"]], dtype=np.int64)}
        if uncertainty is not None:
            out["uncertainty"] = uncertainty
        return out

    if cache is None:
        arrays, hit = compute(), False
    else:
        key = cache_key(
            kind="predict_array",
            model=model_id or model_fingerprint(model),
            inputs=input_id or source.content_id,
            lr_units=lr_units,
            tile=tile, overlap=overlap, self_ensemble=self_ensemble, device_type=resolved.type,
            **precision_key(resolved),
            calibration="scene",  # tiles share the whole scene's calibration (engine.scene_calibration)
        )
        arrays, hit = cache.get_or_compute(key, compute)
        if hit and progress is not None:
            count = len(plan_tiles(source.lr_height, source.lr_width, tile, overlap))
            progress(count, count)
    return SRResult(
        radiance=arrays["radiance"], uncertainty=arrays.get("uncertainty"), from_cache=hit,
        tiles=0 if hit else int(arrays["tiles"][0]), void=0 if hit else int(arrays["void"][0]),
    )


def predict_scene_array(model: torch.nn.Module, scene, *, model_id: str | None = None, **kwargs) -> SRResult:
    """Super-resolve a (cropped) :class:`~deeplight.io.scene.Scene` held in memory: its LR DN with its
    DMO / DEM, if any, through :func:`predict_array`.

    The one way a scene is reconstructed: the dashboard's reconstruction of a region, ``deeplight
    predict --dataset`` for a scene whose LR is in memory and ``deeplight sdg --dataset --predict`` all
    call it, so the same scene and model give the same cache entry and the same SR.

    Args:
        model: a model following docs/CONTRACTS.md.
        scene: the scene (``scene.lr`` in DN; ``scene.dmo`` / ``scene.dem`` arrays or lazy layers).
        model_id: identity of the weights (checkpoint SHA-256 or a baseline's registry name).
        **kwargs: the other options of :func:`predict_array` (tile, overlap, self_ensemble, cache ...).
    """
    from deeplight.io.scene import materialise

    aux = {name: materialise(getattr(scene, name)) for name in ("dmo", "dem") if getattr(scene, name) is not None}
    return predict_array(model, scene.lr, aux, model_id=model_id, **kwargs)
