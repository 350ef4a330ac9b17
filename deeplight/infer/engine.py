"""Running a model on a batch of tiles: normalisation, device transfer, self-ensemble, radiance.

This is the only place that calls the model, so the single-process, cached and Dask paths produce
bit-identical tiles for the same batch; :func:`prepare_model` is the one place a model is made ready
for a device (also on Dask workers).

channels_last on CPU: DeepLightSR's weights and 4-D inputs are stored channels-last (NHWC) on the CPU,
where oneDNN's convolutions need no layout conversion then. Measured on this 2-core machine with the
shipped checkpoint (LR 128, load 1-3, ``benchmarks/bench_models.py`` and a side-by-side script):
without auxiliary layers (the common case) 1.13-1.27x faster on 1 thread and 1.20-1.49x on 2; with
DMO + DEM 0.90-1.04x on 1 thread (1x1 convolutions at HR take a slower path) and 1.03-1.06x on 2.
The output equals the contiguous-format output to float rounding (tested); the arithmetic is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deeplight.contracts import DMO_BANDS, SCALE, denormalize_radiance, normalize_dem, normalize_dn
from deeplight.errors import ConfigError
from deeplight.infer.devices import inference_context
from deeplight.infer.self_ensemble import DIHEDRAL_GROUP, transform_batch



@dataclass
class TileBatch:
    """Raw inputs of a batch of equally sized tiles (physical units, NaN = nodata).

    Attributes:
        lr_dn: (B, h, w) float32 DMSP-like DN 0..63.
        dmo: (B, 7, 8h, 8w) float32 surface reflectance 0..1, or None when absent.
        dem: (B, 8h, 8w) float32 elevation in metres, or None when absent.
        scene_calibration: (3,) raw per-scene calibration of the whole raster
            (:func:`scene_calibration`), shared by every tile, or None (each tile calibrates itself).
    """

    lr_dn: np.ndarray
    dmo: np.ndarray | None = None
    dem: np.ndarray | None = None
    scene_calibration: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(a.nbytes for a in (self.lr_dn, self.dmo, self.dem) if a is not None)


@dataclass
class TileOutput:
    """Model output for a :class:`TileBatch`.

    Attributes:
        radiance: (B, 8h, 8w) float32 nW/cm^2/sr (finite; nodata masking is the caller's job): a numpy
            array, or a torch tensor on the model's device (``run_tile_batch(..., on_device=True)``).
        uncertainty: (B, 8h, 8w) float32 std over the self-ensemble (nW/cm^2/sr), or None.
    """

    radiance: np.ndarray
    uncertainty: np.ndarray | None = None


CPU = torch.device("cpu")
CHANNELS_LAST_ATTRIBUTE = "channels_last_inference"
"""A model may set this attribute to True or False to choose channels_last CPU inference; without it,
DeepLightSR uses it (measured faster, identical output) and every other model keeps its layout (a
model with ``.view`` on its activations would fail on channels-last tensors)."""


def prefers_channels_last(model: torch.nn.Module, device: torch.device) -> bool:
    """Whether ``model`` runs channels_last on ``device`` (CPU only; see :data:`CHANNELS_LAST_ATTRIBUTE`)."""
    if device.type != "cpu":
        return False
    flag = getattr(model, CHANNELS_LAST_ATTRIBUTE, None)
    if flag is not None:
        return bool(flag)
    from deeplight.models.deeplightsr import DeepLightSR

    return isinstance(model, DeepLightSR)


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` on ``device`` in eval mode, channels_last where it prefers it (in place, like ``.to``).

    The weights keep their values; checkpoints and fingerprints make tensors contiguous before
    writing or hashing, so a prepared model saves and hashes as before.
    """
    model = model.to(device).eval()
    if prefers_channels_last(model, device):
        model = model.to(memory_format=torch.channels_last)
    elif device.type != "cpu" and uses_channels_last(model) and prefers_channels_last(model, CPU):
        # prepared for a CPU before (e.g. shipped to Dask workers that have GPUs): as measured on GPUs
        model = model.to(memory_format=torch.contiguous_format)
    return model


def uses_channels_last(model: torch.nn.Module) -> bool:
    """True when the model's weights are stored channels_last (then its inputs are given so too)."""
    for param in model.parameters():
        if param.dim() == 4 and param.shape[-1] * param.shape[-2] > 1 and param.shape[1] > 1:
            return param.is_contiguous(memory_format=torch.channels_last) and not param.is_contiguous()
    return False


def model_batch(
    tiles: TileBatch, device: torch.device, channels_last: bool = False
) -> dict[str, torch.Tensor]:
    """The model's input dict (docs/CONTRACTS.md) on ``device``.

    LR nodata becomes 0; auxiliary NaN (nodata, outside the layer's footprint) is kept, so the model
    marks those pixels absent (``deeplight.models.inputs.read_inputs``) instead of reading 0 as data.
    With ``channels_last``, the 4-D tensors are stored channels-last (same values).
    """
    lr = np.nan_to_num(tiles.lr_dn.astype(np.float32, copy=False), nan=0.0)
    b, h, w = lr.shape
    hr_shape = (b, 1, h * SCALE, w * SCALE)
    present = torch.zeros(b, 4, dtype=torch.float32)
    batch = {"lr": torch.from_numpy(normalize_dn(lr)[:, None].astype(np.float32))}
    if tiles.dmo is not None:
        if tiles.dmo.shape != (b, DMO_BANDS, h * SCALE, w * SCALE):
            expected = (b, DMO_BANDS) + hr_shape[2:]
            raise ConfigError(f"dmo tiles have shape {tiles.dmo.shape}, expected {expected}")
        batch["dmo"] = torch.from_numpy(tiles.dmo.astype(np.float32, copy=False))
        present[:, 1] = 1.0
    else:
        batch["dmo"] = torch.zeros(b, DMO_BANDS, *hr_shape[2:])
    if tiles.dem is not None:
        if tiles.dem.shape != (b, h * SCALE, w * SCALE):
            raise ConfigError(f"dem tiles have shape {tiles.dem.shape}, expected {(b,) + hr_shape[2:]}")
        dem = normalize_dem(tiles.dem.astype(np.float32, copy=False))
        batch["dem"] = torch.from_numpy(dem[:, None].astype(np.float32))
        present[:, 2] = 1.0
    else:
        batch["dem"] = torch.zeros(hr_shape)
    batch["present"] = present
    if tiles.scene_calibration is not None:
        scene = torch.as_tensor(np.asarray(tiles.scene_calibration, dtype=np.float32)).view(1, -1)
        batch["scene_calibration"] = scene.expand(b, -1).contiguous()
    if device.type == "cuda":
        # page-locked host copies, so the host -> device copies are asynchronous (they overlap the
        # kernels of the previous batch, which the CPU queued without waiting for them)
        moved = {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}
    else:
        moved = {k: v.to(device) for k, v in batch.items()}
    if channels_last:
        nhwc = torch.channels_last
        moved = {k: v.contiguous(memory_format=nhwc) if v.dim() == 4 else v for k, v in moved.items()}
    return moved


SCENE_CALIBRATION_SIDE = 512
"""The whole-scene calibration looks at the LR subsampled to at most this many pixels a side."""


def scene_calibration(model: torch.nn.Module, lr_dn: np.ndarray) -> np.ndarray | None:
    """The raw per-scene calibration of a model with a learned calibration, from the whole LR.

    DeepLightSR calibrates each input from its own statistics (``SceneCalibration``); on a large
    raster each tile would otherwise get its own calibration, so tiles of one scene disagree. This
    computes it once on the whole LR (subsampled by a stride to at most
    :data:`SCENE_CALIBRATION_SIDE` pixels a side: a stride keeps the DN distribution, e.g. the
    saturated share) for every tile to share.

    Args:
        model: any model; only those with ``calibration.mode == "learned"`` give a result.
        lr_dn: (h, w) DN 0..63, NaN = nodata.

    Returns:
        (3,) float32 raw corrections, or None when the model has no learned scene calibration.
    """
    calibration = getattr(model, "calibration", None)
    if getattr(calibration, "mode", None) != "learned" or not hasattr(calibration, "scene_parameters"):
        return None
    stride = max(1, -(-max(lr_dn.shape) // SCENE_CALIBRATION_SIDE))
    view = np.nan_to_num(np.asarray(lr_dn, dtype=np.float32)[::stride, ::stride], nan=0.0)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    lr = torch.from_numpy(normalize_dn(view)[None, None].astype(np.float32)).to(device)
    with torch.no_grad():
        raw = calibration.scene_parameters(lr)
    return raw[0].float().cpu().numpy()


def _forward_sr(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    out = model(batch)
    sr = out.get("sr") if isinstance(out, dict) else None
    b, _, h, w = batch["lr"].shape
    expected = (b, 1, h * SCALE, w * SCALE)
    if sr is None or tuple(sr.shape) != expected:
        keys = sorted(out) if isinstance(out, dict) else type(out).__name__
        got = tuple(sr.shape) if sr is not None else f"keys {keys}"
        raise ConfigError(f"the model must return {{'sr': tensor of shape {expected}}}, got {got}")
    return sr.float()


def has_auxiliary(tiles: TileBatch) -> bool:
    """Whether the batch carries a DMO or DEM layer. The layer's presence decides, not a scan of its
    pixels: a batch of up to 16 HR tiles x 8 bands is not read twice on the GPU's hot path."""
    return tiles.dmo is not None or tiles.dem is not None


REDUCED_PRECISION_WITH_AUX = "reduced_precision_with_auxiliary"
"""A model sets this attribute to True when it is checked to stay within 0.02 of float32 under bf16
autocast with auxiliary layers (DeepLightSR: float32 where rounding is amplified, see its module
docstring)."""


def reduced_precision_allowed(model: torch.nn.Module, tiles: TileBatch) -> bool:
    """Whether ``tiles`` may run under bf16 autocast on CUDA (:func:`deeplight.infer.devices.inference_context`):
    always without DMO / DEM; with them only for a model that says it is safe there
    (:data:`REDUCED_PRECISION_WITH_AUX`), the others run such batches in float32."""
    return not has_auxiliary(tiles) or bool(getattr(model, REDUCED_PRECISION_WITH_AUX, False))


def run_tile_batch(
    model: torch.nn.Module, tiles: TileBatch, device: torch.device, self_ensemble: bool = False,
    on_device: bool = False,
) -> TileOutput:
    """Predict HR radiance for a batch of tiles.

    Args:
        model: in eval mode, on ``device`` (:func:`prepare_model`); ``model(batch)["sr"]`` on the
            normalised radiance scale. A channels_last model gets channels_last inputs.
        tiles: raw inputs.
        device: where the model lives.
        self_ensemble: average the 8 dihedral members and return their std as uncertainty.
        on_device: return float32 torch tensors left on ``device`` (no copy to the host, so no
            synchronisation with a GPU: the caller blends them there,
            :class:`deeplight.infer.blending.TorchBlendingAccumulator`).

    Returns:
        :class:`TileOutput` with float32 numpy arrays on the CPU (or tensors on ``device``).
    """
    batch = model_batch(tiles, device, channels_last=uses_channels_last(model))
    host = (lambda t: t) if on_device else (lambda t: t.cpu().numpy())
    with inference_context(device, reduced_precision=reduced_precision_allowed(model, tiles)):
        if not self_ensemble:
            radiance = denormalize_radiance(_forward_sr(model, batch))[:, 0]
            return TileOutput(radiance=host(radiance.float()))
        members = []
        for member in DIHEDRAL_GROUP:
            sr = _forward_sr(model, transform_batch(batch, member))
            members.append(denormalize_radiance(member.inverse(sr))[:, 0].float())
        stacked = torch.stack(members, dim=0)
        std, mean = torch.std_mean(stacked, dim=0, correction=0)
    return TileOutput(radiance=host(mean), uncertainty=host(std))
