"""DeepLightSR: x8 multi-modal night-time light super-resolution (Zhang et al., IJCAI 2024).

Zhang, Dong, Yuan, Zhang, Chen, Zheng, Fu, "DeepLight: Reconstructing High-Resolution Observations
of Nighttime Light With Multi-Modal Remote Sensing Data", IJCAI 2024 (arXiv 2402.15659). The
paper gives the three stages but not their layer sizes; each stage lives in its own module:

1. calibration-aware alignment (CAA):
   (a) :class:`~deeplight.models.calibration.SceneCalibration` maps the LR DN to the HR radiance scale
       with per-scene gain / offset / non-linearity predicted from the LR image;
   (b) :class:`~deeplight.models.global_alignment.SpatialTransformer` warps each auxiliary image
       globally (affine, identity at start) onto the main stream;
   (c) :class:`~deeplight.models.deformable.DeformableAlignment` aligns the auxiliary LR-level
       features locally by modulated deformable convolution (DCNv2).
2. auxiliary-to-main fusion (AMFF): per-modality encoders
   (:class:`~deeplight.models.fusion.AuxEncoder`) and gated SFT injection
   (:class:`~deeplight.models.fusion.GatedSFTFusion`) at low level (start and middle of the LR body)
   and at high level (end of the body, on deeper auxiliary features).
3. auxiliary-embedded refinement (AER):
   :class:`~deeplight.models.refinement.ProgressiveRefinement`, x2 -> x4 -> x8 with an output and an
   ISP logit head per scale, ISP features embedded in the x8 refinement; finally the high-pass
   detail of the globally aligned auxiliary images (the image minus its 8x8 area mean, up-sampled)
   is embedded at HR with per-pixel, per-band gains predicted from the x8 features
   (:class:`~deeplight.models.refinement.AuxiliaryDetailEmbedding`; MRA detail injection, Vivone et al. 2015, driven by the
   refinement features).

4. the output is flux-conserving by construction (:mod:`deeplight.models.flux`; our addition, so a
   reconstruction cannot be worse evidence than its input for sums of lights): the calibrated LR
   cells are optionally de-saturated (only cells at the DN cap, where the LR is a lower bound, and
   by a bounded factor), their radiance is moved between neighbouring cells by a learned, exactly
   conserving transport (de-blooming; dark cells receive nothing) and spread over each cell's 8x8
   HR pixels in proportion to a smooth up-sampling of the cells times ``exp(delta)``, where the
   bounded log-ratio ``delta`` (|delta| <= ``detail_bound``) is what the progressive refinement
   and the detail embedding predict. With zero ``delta`` (an untrained or unsure network) the
   output is the flux-conserving smooth up-sampling of the calibrated LR: the calibration
   baseline.

Auxiliary layers are given per band with a per-pixel coverage mask (``dmo_mask``, ``dem_mask``, or
NaN pixels): every encoder, the spatial transformer and the detail embedding see the mask beside
the values, and uncovered pixels are absent, never zeros marked present.

Reduced precision: under a bf16 / fp16 autocast, with auxiliary layers, the LR trunk (head, local
alignment, fusion, body) and the global alignment run in float32, and the flux output always does;
the HR encoders, refinement and detail embedding keep the autocast dtype. Measured on 25 48x48 crops
of the demo scene with DMO + DEM (CPU autocast, max abs difference from float32 on the normalised
scale): the whole model in bf16 was up to 0.18 off (a cell beside saturated ones 3x too bright: the
flux transport moves a bright cell's radiance into its dim neighbours, so rounding in the LR
features that steer it is amplified, and a rounded affine of the global alignment shifts the HR
detail); the trunk and flux output in float32: 0.032; the global alignment and flux output: 0.026;
all three: 0.0146 (fp16: 0.0012). Without auxiliary layers the whole model in bf16 was within 0.007
on demo and Cote d'Ivoire crops. Tested in tests/models/test_guarantees.py.

Most compute runs on the LR grid; the x4 and x8 stages are kept narrow so the ``demo`` preset is
fast on a CPU (see docs/models.md for the measured cost).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from deeplight.errors import ConfigError
from deeplight.models.blocks import ResidualBlock, conv3x3
from deeplight.models.calibration import CALIBRATION_MODES, SceneCalibration
from deeplight.models.deformable import DeformableAlignment
from deeplight.contracts import DN_MAX, RADIANCE_MAX, denormalize_radiance, normalize_radiance
from deeplight.models.blocks import Interpolate, area_downsample, fast_path, float32_region
from deeplight.models.flux import distribute_within_cells, neighbourhood_transport
from deeplight.models.fusion import AuxEncoder, GatedSFTFusion
from deeplight.models.global_alignment import SpatialTransformer
from deeplight.contracts import DMO_BANDS
from deeplight.models.inputs import check_choice, check_scale, read_inputs
from deeplight.models.radiometry import SATURATED_DN
from deeplight.models.refinement import AuxiliaryDetailEmbedding, ProgressiveRefinement


@dataclass(frozen=True)
class DeepLightSRSize:
    """Widths and depths of one size preset.

    Attributes:
        channels: LR-grid feature width C.
        num_blocks: residual blocks of the LR body.
        refine_channels: feature widths at x2, x4, x8.
        aux_channels: auxiliary encoder widths at x4 and x2 of LR (the LR level uses C).
        isp_channels: ISP feature width at x8.
        calibration_hidden: width of the calibration and localisation networks.
    """

    channels: int
    num_blocks: int
    refine_channels: tuple[int, int, int]
    aux_channels: tuple[int, int]
    isp_channels: int
    calibration_hidden: int


PRESETS: dict[str, DeepLightSRSize] = {
    "tiny": DeepLightSRSize(12, 2, (8, 8, 4), (8, 8), 2, 8),
    "demo": DeepLightSRSize(32, 6, (24, 16, 6), (12, 16), 2, 16),
    "paper": DeepLightSRSize(64, 16, (64, 32, 16), (32, 48), 8, 32),
}
"""``tiny``: tests; ``demo``: CPU-trainable, the shipped checkpoint; ``paper``: full width (GPU)."""

_LOG_RADIANCE_RANGE = math.log1p(RADIANCE_MAX)
"""log1p(RADIANCE_MAX): normalised units -> log-radiance units."""
MODALITIES = ("dmo", "dem")
TRANSPORT_KERNEL = 5
"""LR cells per side of the de-blooming neighbourhood (blooming tails reach about 2 LR cells)."""
MAX_DESATURATION = 9.0
"""A saturated LR cell's radiance may be raised by at most this factor minus one (x10 in all)."""

class DeepLightSR(nn.Module):
    """The DeepLight model with switches for every stage (ablations).

    Args:
        preset: size preset, one of :data:`PRESETS`.
        scale: super-resolution factor; only 8 is supported.
        dmo_channels: DMO bands (7 for Landsat-8 SR bands 1-7).
        calibration: "learned" (paper), "fixed" (nominal response) or "none" (identity).
        global_alignment: use the spatial transformer on the auxiliary images.
        local_alignment: use deformable alignment of auxiliary LR features.
        fusion: inject auxiliary features (off: the auxiliary data are ignored entirely).
        isp_head: predict ISP at each scale and embed it (off: no ``isp_logits``).
        use_dmo: build and use the DMO branch.
        use_dem: build and use the DEM branch.
        flux_consistent: build the x8 output so its 8x8 block means in linear radiance equal the
            calibrated LR cells exactly (module docstring, step 4); off: the unconstrained x8
            output of the paper's architecture (an ablation).
        transport: learned flux-conserving de-blooming between LR cells (with flux_consistent).
        desaturate: raise saturated LR cells by a learned, bounded factor (with flux_consistent).
        detail_bound: bound of the per-pixel log-ratio the network may apply to the smooth base.
        calibration_max_offset_dn: bound (DN) of the learned per-scene DN offset (12.6, the paper's range).
        calibration_max_total_ratio: bound of the learned calibration's change to the scene total of
            the unsaturated cells, against the nominal response (None: unbounded, as in the paper);
            see :mod:`deeplight.models.calibration`.
        calibration_noise_floor_dn: LR cells below this DN are left out of that bounded total (0: none).
        detail_embedding: add the aligned auxiliary images' high-pass detail at HR with gains from
            the x8 features (:class:`~deeplight.models.refinement.AuxiliaryDetailEmbedding`).
        channels, num_blocks: override the preset's LR width / depth.

    Forward: ``model(batch) -> {"sr": (B,1,8h,8w), "sr_pyramid": [x2, x4, x8], "isp_logits": [...],
    "lr_calibrated": (B,1,h,w), "scene_calibration": (B,3)}``, all on the normalised radiance
    scale (logits: raw; ``scene_calibration``: the raw per-scene corrections of the learned
    calibration, see ``SceneCalibration.describe``). ``batch["scene_calibration"]`` (B, 3), when
    given, replaces the per-input estimate: the tiled predictor passes the whole scene's, so every
    tile is calibrated alike.
    """

    family = "deeplight"
    fast = True
    """See :meth:`set_fast_inference`."""
    reduced_precision_with_auxiliary = True
    """bf16 autocast with DMO / DEM is checked to stay within 0.02 of float32 (module docstring;
    ``deeplight.infer.engine.REDUCED_PRECISION_WITH_AUX``)."""

    def __init__(
        self,
        preset: str = "demo",
        scale: int = 8,
        dmo_channels: int = DMO_BANDS,
        calibration: str = "learned",
        global_alignment: bool = True,
        local_alignment: bool = True,
        fusion: bool = True,
        isp_head: bool = True,
        use_dmo: bool = True,
        use_dem: bool = True,
        flux_consistent: bool = True,
        detail_embedding: bool = True,
        transport: bool = True,
        desaturate: bool = True,
        detail_bound: float = 2.0,
        calibration_max_offset_dn: float = 12.6,
        calibration_max_total_ratio: float | None = 1.25,
        calibration_noise_floor_dn: float = 0.0,
        channels: int | None = None,
        num_blocks: int | None = None,
    ) -> None:
        super().__init__()
        check_choice(preset, tuple(PRESETS), "preset")
        self.scale = check_scale(scale, "DeepLightSR")
        check_choice(calibration, CALIBRATION_MODES, "calibration")
        if not isinstance(dmo_channels, int) or dmo_channels < 1:
            raise ConfigError(
                f"dmo_channels={dmo_channels!r} must be a positive integer (7 for Landsat-8 bands 1-7)"
            )
        size = PRESETS[preset]
        if channels is not None:
            size = replace(size, channels=int(channels))
        if num_blocks is not None:
            size = replace(size, num_blocks=int(num_blocks))
        if size.channels < 4 or size.num_blocks < 1:
            raise ConfigError(f"channels={size.channels} must be >= 4 and num_blocks={size.num_blocks} >= 1")
        self.size = size
        self.dmo_channels = dmo_channels
        self.use_flux = bool(flux_consistent)
        self.use_transport = bool(transport) and self.use_flux
        self.use_desaturate = bool(desaturate) and self.use_flux
        if not detail_bound > 0:
            raise ConfigError(f"detail_bound={detail_bound!r} must be > 0 (a log-ratio bound, e.g. 2)")
        self.detail_bound = float(detail_bound)
        c = size.channels
        bands = {"dmo": dmo_channels, "dem": 1}
        self.modalities = [m for m, on in (("dmo", use_dmo), ("dem", use_dem)) if on] if fusion else []

        self.calibration = SceneCalibration(
            calibration,
            hidden=size.calibration_hidden,
            max_offset_dn=calibration_max_offset_dn,
            max_total_ratio=calibration_max_total_ratio,
            noise_floor_dn=calibration_noise_floor_dn,
        )
        self.head = conv3x3(2, c)
        a4, a2 = size.aux_channels
        self.bands = {m: bands[m] for m in self.modalities}
        # every auxiliary image travels with its coverage mask: 2 x bands channels
        self.encoders = nn.ModuleDict({m: AuxEncoder(2 * bands[m], (a4, a2, c)) for m in self.modalities})
        self.global_align = nn.ModuleDict(
            {m: SpatialTransformer(2 * bands[m], scale, size.calibration_hidden) for m in self.modalities}
            if global_alignment
            else {}
        )
        self.local_align = nn.ModuleDict(
            {m: DeformableAlignment(c) for m in self.modalities} if local_alignment else {}
        )
        self.deep_aux = nn.ModuleDict({m: ResidualBlock(c) for m in self.modalities})
        self.low_fusion_points = sorted({0, size.num_blocks // 2})
        lr_widths = {m: c for m in self.modalities}
        self.low_fusion = nn.ModuleList(
            [GatedSFTFusion(c, lr_widths) for _ in self.low_fusion_points] if self.modalities else []
        )
        self.high_fusion = GatedSFTFusion(c, lr_widths) if self.modalities else None
        self.body = nn.ModuleList([ResidualBlock(c) for _ in range(size.num_blocks)])
        self.body_tail = conv3x3(c, c)
        aux_widths = {m: (a2, a4) for m in self.modalities}
        self.refinement = ProgressiveRefinement(
            c, size.refine_channels, aux_widths, size.isp_channels if isp_head else 0
        )
        self.detail = (
            AuxiliaryDetailEmbedding(c, size.refine_channels[2], {m: bands[m] for m in self.modalities}, scale)
            if detail_embedding and self.modalities
            else None
        )
        self.base_up = Interpolate(2, "bilinear")
        self.transport_head = conv3x3(c, 1 + TRANSPORT_KERNEL**2) if self.use_transport else None
        self.desaturate_head = conv3x3(c, 1) if self.use_desaturate else None
        self._init_fallback()
        self.set_fast_inference(True)

    def set_fast_inference(self, enabled: bool = True) -> DeepLightSR:
        """Switch the fast inference paths of this model's modules on or off (in place; returns self).

        With them on (the default), a forward without autograd (``torch.no_grad`` or
        ``torch.inference_mode``) computes the same function in a cheaper way (issue 14: the x8
        stage's pointwise layers before the pixel shuffle, the detail embedding per modality with
        matrix-product up-sampling, oneDNN for 1x1 convolutions on one CPU thread), equal to the
        reference computation to float rounding (tested); and under ``torch.inference_mode`` the
        ISP logits, a training-only output that feeds nothing, are skipped (``isp_logits == []``).
        Training (autograd on) always runs the reference computation. Off: the reference
        computation everywhere (for tests and the benchmark's side-by-side "reference" entry).
        """
        for module in self.modules():
            if hasattr(module, "fast"):
                module.fast = bool(enabled)
        return self

    def _init_fallback(self) -> None:
        """Zero-initialise every residual head, so an untrained model is the calibration baseline.

        The refinement's output heads and the detail gains start at 0 (delta = 0), the transport
        moves nothing and the de-saturation raises nothing: the untrained output is exactly the
        flux-conserving smooth up-sampling of the calibrated LR.
        """
        heads = [stage.out for stage in self.refinement.stages]
        if self.detail is not None:
            heads += [self.detail.gain_lr, self.detail.gain_hr]
        for head in heads:
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        for head in (self.transport_head, self.desaturate_head):
            if head is not None:
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

    def forward(self, batch: dict) -> dict:
        """Super-resolve a batch (see the class docstring for keys and shapes)."""
        inputs = read_inputs(batch, self.scale, self.dmo_channels)
        lr = inputs.lr
        scene = batch.get("scene_calibration")
        if scene is None and self.calibration.mode == "learned":
            scene = self.calibration.scene_parameters(lr)
        lr_cal = self.calibration(lr, scene)
        # Reduced precision (issue 14). Under a bf16 / fp16 autocast, with auxiliary layers, the LR trunk
        # (head, local alignment, fusion, body) and the global alignment run in float32, and the flux
        # output always does. The HR encoders, refinement and detail embedding keep the
        # autocast dtype (see the module docstring).
        exact = bool(inputs.has_dmo.any()) or bool(inputs.has_dem.any())
        with float32_region(lr, exact):
            feats = self.head(torch.cat([lr, lr_cal.to(lr.dtype)], dim=1))

        pyramids: dict[str, dict[int, torch.Tensor]] = {}
        aligned: dict[str, torch.Tensor] = {}
        aligned_cover: dict[str, torch.Tensor | None] = {}
        coverage: dict[str, dict[int, torch.Tensor]] = {}
        fast = fast_path(self)
        for m in self.modalities:
            bands = self.bands[m]
            present = inputs.has_dmo if m == "dmo" else inputs.has_dem
            if fast and inputs.fully_covered(m):
                # every band and pixel observed: the coverage channels are ones, so neither they
                # nor their warp (ones, to rounding) are built at HR; None stands for "all 1"
                values = getattr(inputs, m)
                if m in self.global_align:
                    with float32_region(lr):  # a rounded shift moves the HR detail: float32
                        values = self.global_align[m].warp_covered(lr_cal.float(), values.float())
                aligned[m], aligned_cover[m] = values.float(), None  # float32: its high-pass is a small difference
                b, _, hh, ww = values.shape
                coverage[m] = {f: values.new_ones(b, 1, hh * f // self.scale, ww * f // self.scale) for f in (1, 2, 4)}
                pyramid = self.encoders[m].forward_covered(values)
                if m in self.local_align:
                    with float32_region(lr):
                        pyramid[1] = self.local_align[m](pyramid[1].float(), feats.float())
                pyramids[m] = pyramid
                continue
            cover_hr = inputs.coverage(m).to(lr.dtype)
            if not bool(present.any()) or not bool(cover_hr.any()):
                # absent from the whole batch (every real data set so far): skip the branch
                # exactly, its fusion terms and detail would all be multiplied by 0
                continue
            image = torch.cat([getattr(inputs, m), cover_hr], dim=1)
            if m in self.global_align:
                with float32_region(lr):  # a rounded shift moves the HR detail: float32
                    image = self.global_align[m](lr_cal.float(), image.float())
            aligned[m], aligned_cover[m] = image[:, :bands].float(), image[:, bands:].clamp(0, 1)
            cover = aligned_cover[m].mean(dim=1, keepdim=True)
            coverage[m] = {f: area_downsample(cover, self.scale // f) for f in (1, 2, 4)}
            pyramid = self.encoders[m](image)
            if m in self.local_align:
                with float32_region(lr):
                    pyramid[1] = self.local_align[m](pyramid[1].float(), feats.float())
            pyramids[m] = pyramid

        skip = feats
        low_level = {m: pyr[1].float() if exact else pyr[1] for m, pyr in pyramids.items()}
        lr_cover = {m: cov[1].float() if exact else cov[1] for m, cov in coverage.items()}
        fusion_iter = iter(self.low_fusion)
        with float32_region(lr, exact):
            for i, block in enumerate(self.body):
                if low_level and i in self.low_fusion_points:
                    feats = next(fusion_iter)(feats, low_level, lr_cover)
                feats = block(feats)
            if self.high_fusion is not None and low_level:
                high_level = {m: self.deep_aux[m](a) for m, a in low_level.items()}
                feats = self.high_fusion(feats, high_level, lr_cover)
            feats = self.body_tail(feats) + skip

        use_detail = self.detail is not None and bool(aligned)
        outputs, logits, hr_feats = self.refinement(
            feats,
            lr_cal,
            pyramids,
            coverage,
            isp_logits=not (fast and torch.is_inference_mode_enabled()),
            features=use_detail or not fast,
        )
        outputs = [o.float() for o in outputs]
        detail = (
            self.detail(feats, hr_feats, aligned, aligned_cover).float()
            if use_detail
            else None
        )
        if self.use_flux:
            with float32_region(lr):  # exact by construction: cell sums, in float32 under any autocast
                sr, cells = self._flux_output(lr, lr_cal, feats.float(), outputs[-1], detail)
        else:
            sr = outputs[-1] if detail is None else outputs[-1] + detail
            cells = lr_cal
        return {
            "sr": sr,
            "sr_pyramid": outputs[:-1] + [sr],
            "isp_logits": [x.float() for x in logits],
            "lr_calibrated": cells,
            **({"scene_calibration": scene} if scene is not None else {}),
        }

    def _flux_output(
        self,
        lr: torch.Tensor,
        lr_cal: torch.Tensor,
        feats: torch.Tensor,
        refined: torch.Tensor,
        detail: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(SR (B,1,8h,8w), the LR cells it conserves (B,1,h,w)), both on the normalised scale (run in
        float32: ``forward`` switches autocast off around it)."""
        cells = denormalize_radiance(lr_cal.float())
        if self.desaturate_head is not None:
            saturated = (lr.float() * DN_MAX >= SATURATED_DN).float()
            raise_by = MAX_DESATURATION * self.desaturate_head(feats).float().clamp(0.0, 1.0)
            cells = cells * (1 + saturated * raise_by)
        if self.transport_head is not None:
            out = self.transport_head(feats).float()
            cells = neighbourhood_transport(cells, out[:, :1], out[:, 1:], TRANSPORT_KERNEL)
        # the network's log-ratio over the smooth base: its refinement residuals (normalised units
        # times log1p(RADIANCE_MAX), about a log-radiance ratio) plus the auxiliary detail
        chain = lr_cal.float()
        for _ in range(3):
            chain = self.base_up(chain)
        delta = (refined - chain) * _LOG_RADIANCE_RANGE
        if detail is not None:
            delta = delta + detail
        bound = self.detail_bound
        delta = bound * torch.tanh(delta / bound)
        cells_norm = normalize_radiance(cells)
        smooth = cells_norm
        for _ in range(3):
            smooth = self.base_up(smooth)
        pattern = (denormalize_radiance(smooth) + 1e-4) * torch.exp(delta)
        sr_radiance = distribute_within_cells(cells, pattern, self.scale)
        return normalize_radiance(sr_radiance), cells_norm

    def config(self) -> dict:
        """The resolved size of this instance (for logs and docs)."""
        return asdict(self.size)
