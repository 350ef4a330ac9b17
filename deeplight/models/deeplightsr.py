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

Most compute runs on the LR grid; the x4 and x8 stages are kept narrow so the ``demo`` preset is
fast on a CPU (see docs/models.md for the measured cost).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from deeplight.errors import ConfigError
from deeplight.models.blocks import ResidualBlock, conv3x3
from deeplight.models.calibration import CALIBRATION_MODES, SceneCalibration
from deeplight.models.deformable import DeformableAlignment
from deeplight.models.flux import flux_consistent
from deeplight.models.fusion import AuxEncoder, GatedSFTFusion
from deeplight.models.global_alignment import SpatialTransformer
from deeplight.models.inputs import DMO_BANDS, check_choice, check_scale, read_inputs
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

MODALITIES = ("dmo", "dem")


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
        flux_consistent: project the x8 output so its 8x8 block means in linear radiance equal the
            calibrated LR (see :mod:`deeplight.models.flux`).
        detail_embedding: add the aligned auxiliary images' high-pass detail at HR with gains from
            the x8 features (:class:`~deeplight.models.refinement.AuxiliaryDetailEmbedding`).
        channels, num_blocks: override the preset's LR width / depth.

    Forward: ``model(batch) -> {"sr": (B,1,8h,8w), "sr_pyramid": [x2, x4, x8], "isp_logits": [...],
    "lr_calibrated": (B,1,h,w)}``, all on the normalised radiance scale (logits: raw).
    """

    family = "deeplight"

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
        flux_consistent: bool = False,
        detail_embedding: bool = True,
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
        c = size.channels
        bands = {"dmo": dmo_channels, "dem": 1}
        self.modalities = [m for m, on in (("dmo", use_dmo), ("dem", use_dem)) if on] if fusion else []

        self.calibration = SceneCalibration(calibration, hidden=size.calibration_hidden)
        self.head = conv3x3(2, c)
        a4, a2 = size.aux_channels
        self.encoders = nn.ModuleDict({m: AuxEncoder(bands[m], (a4, a2, c)) for m in self.modalities})
        self.global_align = nn.ModuleDict(
            {m: SpatialTransformer(bands[m], scale, size.calibration_hidden) for m in self.modalities}
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

    def forward(self, batch: dict) -> dict:
        """Super-resolve a batch (see the class docstring for keys and shapes)."""
        inputs = read_inputs(batch, self.scale, self.dmo_channels)
        lr = inputs.lr
        lr_cal = self.calibration(lr)
        feats = self.head(torch.cat([lr, lr_cal.to(lr.dtype)], dim=1))
        present = {"dmo": inputs.has_dmo, "dem": inputs.has_dem}

        pyramids: dict[str, dict[int, torch.Tensor]] = {}
        aligned: dict[str, torch.Tensor] = {}
        for m in self.modalities:
            image = getattr(inputs, m)  # absent: zeros; fusion also gates every use by present[m]
            if m in self.global_align:
                image = self.global_align[m](lr_cal.to(image.dtype), image)
            aligned[m] = image
            pyramid = self.encoders[m](image)
            if m in self.local_align:
                pyramid[1] = self.local_align[m](pyramid[1], feats)
            pyramids[m] = pyramid

        skip = feats
        low_level = {m: pyr[1] for m, pyr in pyramids.items()}
        fusion_iter = iter(self.low_fusion)
        for i, block in enumerate(self.body):
            if self.modalities and i in self.low_fusion_points:
                feats = next(fusion_iter)(feats, low_level, present)
            feats = block(feats)
        if self.high_fusion is not None:
            high_level = {m: self.deep_aux[m](a) for m, a in low_level.items()}
            feats = self.high_fusion(feats, high_level, present)
        feats = self.body_tail(feats) + skip

        outputs, logits, hr_feats = self.refinement(feats, lr_cal, pyramids, present)
        outputs = [o.float() for o in outputs]
        if self.detail is not None:
            outputs[-1] = outputs[-1] + self.detail(feats, hr_feats, aligned, present).float()
        sr = flux_consistent(outputs[-1], lr_cal, self.scale) if self.use_flux else outputs[-1]
        return {
            "sr": sr,
            "sr_pyramid": outputs[:-1] + [sr],
            "isp_logits": [x.float() for x in logits],
            "lr_calibrated": lr_cal,
        }

    def config(self) -> dict:
        """The resolved size of this instance (for logs and docs)."""
        return asdict(self.size)
