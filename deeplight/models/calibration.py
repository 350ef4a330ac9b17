"""DeepLightSR stage 1a: calibration-aware radiometric alignment of the LR input.

Zhang et al., "DeepLight: Reconstructing High-Resolution Observations of Nighttime Light With
Multi-Modal Remote Sensing Data", IJCAI 2024, section "calibration-aware alignment": the coarse
sensor is not radiometrically consistent with the fine one (gain/offset drift between satellites
and years, saturation), so the mismatch is modelled explicitly instead of being left to the SR body.

Here a small network looks at the whole LR scene and predicts three per-scene corrections of the
nominal DMSP-like response (:mod:`deeplight.models.radiometry`):

    x' = relu(x - o) / (1 - o)                       offset o in normalised DN, |o| <= 0.2
    r  = g * R_sat * x' ** (p0 * e)                  gain g = exp(dg), exponent factor e = exp(de)
    lr_calibrated = log1p(r) / log1p(1000)           the normalised radiance scale of the target

The last layer is zero-initialised, so an untrained model starts from the nominal response.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplight.data.norm import normalize_radiance
from deeplight.models.blocks import activation, conv3x3
from deeplight.models.inputs import check_choice
from deeplight.models.radiometry import NOMINAL_GAMMA, nominal_dn_to_radiance

CALIBRATION_MODES = ("learned", "fixed", "none")
"""learned: per-scene correction (the paper); fixed: nominal response only; none: identity (ablation)."""


class SceneCalibration(nn.Module):
    """Per-scene radiometric calibration LR DN -> normalised radiance.

    Args:
        mode: one of :data:`CALIBRATION_MODES`.
        hidden: width of the scene encoder.
        max_offset: bound of the DN offset (normalised DN units).
    """

    def __init__(self, mode: str = "learned", hidden: int = 16, max_offset: float = 0.2) -> None:
        super().__init__()
        self.mode = check_choice(mode, CALIBRATION_MODES, "calibration")
        self.max_offset = max_offset
        if self.mode == "learned":
            self.encoder = nn.Sequential(
                conv3x3(1, hidden), activation(), conv3x3(hidden, hidden, stride=2), activation()
            )
            # pooled features (mean, max) + 4 scene statistics -> (dg, do, de)
            self.head = nn.Sequential(nn.Linear(2 * hidden + 4, hidden), activation(), nn.Linear(hidden, 3))
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)

    def describe(self, raw: torch.Tensor) -> list[dict[str, float]]:
        """Per-scene corrections in physical terms, one dict per sample (for tags and reports):
        ``gain`` (multiplier of the nominal saturation radiance), ``offset_dn`` (DN subtracted)
        and ``exponent`` (of the normalised DN; nominal 1/gamma = 1.667)."""
        raw = raw.detach().float().cpu().view(-1, 3)
        gain = torch.exp(raw[:, 0].clamp(-5, 5))
        offset = self.max_offset * torch.tanh(raw[:, 1]) * 63.0
        exponent = (1.0 / NOMINAL_GAMMA) * torch.exp(raw[:, 2].clamp(-2, 2))
        return [
            {"gain": float(g), "offset_dn": float(o), "exponent": float(e)}
            for g, o, e in zip(gain, offset, exponent)
        ]

    def scene_parameters(self, lr: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) normalised DN -> (B, 3) float32 raw corrections (log gain, offset, log exponent)."""
        feats = self.encoder(lr)
        pooled = torch.cat([feats.mean(dim=(2, 3)), feats.amax(dim=(2, 3))], dim=1)
        flat = lr.flatten(1)
        stats = torch.stack(
            [
                flat.mean(1),
                flat.std(1, unbiased=False),
                (flat >= 62.5 / 63).to(lr.dtype).mean(1),
                (flat <= 0.5 / 63).to(lr.dtype).mean(1),
            ],
            1,
        )
        return self.head(torch.cat([pooled, stats.to(pooled.dtype)], 1)).float()

    def forward(self, lr: torch.Tensor, scene: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, h, w) normalised DN -> (B, 1, h, w) normalised radiance (float32).

        Args:
            lr: the LR input.
            scene: optional (B, 3) raw corrections from :meth:`scene_parameters` of the whole
                scene, so every tile of a large raster gets the same calibration (the tiled
                predictor computes them once); default: from ``lr`` itself.
        """
        x = lr.float()
        if self.mode == "none":
            return x
        if self.mode == "fixed":
            return normalize_radiance(nominal_dn_to_radiance(x))
        raw = (self.scene_parameters(lr) if scene is None else scene.float().to(lr.device)).view(-1, 3, 1, 1)
        gain = torch.exp(raw[:, 0:1].clamp(-5, 5))
        offset = self.max_offset * torch.tanh(raw[:, 1:2])
        exponent = (1.0 / NOMINAL_GAMMA) * torch.exp(raw[:, 2:3].clamp(-2, 2))
        shifted = torch.relu(x - offset) / (1 - offset)
        return normalize_radiance(nominal_dn_to_radiance(shifted, gain=gain, exponent=exponent))
