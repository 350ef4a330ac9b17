"""DeepLightSR stage 3: auxiliary-embedded refinement (AER).

Zhang et al. (DeepLight, IJCAI 2024): the image is reconstructed progressively, x2 -> x4 -> x8 of
the LR grid, with an output at every scale (multi-scale supervision, the beta_j terms of the loss)
and an impervious-surface (ISP) prediction head at every scale (the BCE term). The ISP features
are embedded into the final x8 refinement, so knowledge of built-up surfaces shapes the detail
where light is emitted.

x2 and x4 (:class:`ScaleStage`): sub-pixel x2 up-sampling (Shi et al. 2016), gated SFT injection
of the auxiliary features at that resolution (:mod:`deeplight.models.fusion`), an ISP logit head,
a residual block and an output head predicting a residual over the bilinearly up-sampled previous
output (the calibrated LR at the first scale).

x8 (:class:`FinalStage`): on a CPU, every operation on full-resolution tensors costs tens of
milliseconds per megapixel whatever its arithmetic (memory-bound), and 3x3 convolutions with a few
channels take a slow path (about 100 ms per megapixel each, measured), so the x8 stage does its
spatial work at x4 resolution: one 3x3 convolution over the x4 features and the auxiliary x4
features (which see every HR pixel, see :class:`~deeplight.models.fusion.AuxEncoder`) emits
4 x (image + ISP) channels that a pixel shuffle places on the HR grid (a sub-pixel convolution,
equivalent to an HR convolution with a 6x6 footprint; Shi et al. 2016). At HR only pointwise
layers remain: the ISP logit head, a refinement layer that mixes image *and* ISP features (the ISP
embedding), and the output head. :class:`AuxiliaryDetailEmbedding` then adds the aligned auxiliary
images' high-pass detail to the x8 output (used by DeepLightSR after the progressive stages).

Fast inference path (no autograd, issue 14; tested equal to the reference computation): the x8
stage's pointwise layers run *before* the pixel shuffle, on the x4 grid where each HR pixel is one
of 4 phase channels (a per-pixel layer ``W`` becomes the block-diagonal ``W kron I_4``): the HR grid
then only sees the 1-channel output (and the 6-channel features when the detail embedding needs
them), and oneDNN gets wider channels. The ISP logits, a training-only output that feeds nothing,
can be skipped (``isp_logits=False``); the detail embedding works per modality without
concatenating HR maps, up-samples by matrix products (:func:`~deeplight.models.blocks.upsample_polyphase`)
and reduces gains x detail with one channel contraction.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from deeplight.models.blocks import (
    Interpolate,
    PixelShuffleUp,
    ResidualBlock,
    activation,
    area_downsample,
    conv3x3,
    fast_path,
    pointwise,
    pointwise_conv2d,
)
from deeplight.models.fusion import GatedSFTFusion

SCALES = (2, 4, 8)
"""Output scales relative to the LR grid."""


class ScaleStage(nn.Module):
    """One intermediate x2 step (x2 or x4 of LR) of the progressive refinement.

    Args:
        in_channels: width of the incoming features.
        channels: width at this scale.
        aux_channels: modality -> auxiliary feature width at this scale ({} disables injection).
        isp: add an ISP logit head.
        up_kernel: kernel of the sub-pixel convolution and of the SFT convolutions (3 or 1).
    """

    def __init__(
        self, in_channels: int, channels: int, aux_channels: dict[str, int], isp: bool, up_kernel: int = 3
    ) -> None:
        super().__init__()
        self.up = PixelShuffleUp(in_channels, channels, up_kernel)
        self.fusion = GatedSFTFusion(channels, aux_channels, up_kernel) if aux_channels else None
        self.isp_head = conv3x3(channels, 1) if isp else None
        self.refine = ResidualBlock(channels)
        self.out = conv3x3(channels, 1)
        self.base_up = Interpolate(2, "bilinear")

    def forward(
        self,
        feats: torch.Tensor,
        previous: torch.Tensor,
        aux: dict[str, torch.Tensor],
        present: dict[str, torch.Tensor],
        isp_logits: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Returns (features (B, C, 2H, 2W), output (B, 1, 2H, 2W), ISP logits (B, 1, 2H, 2W) or None).

        ``isp_logits=False`` skips the ISP head (a training output; nothing else reads it).
        """
        x = self.up(feats)
        if self.fusion is not None:
            x = self.fusion(x, aux, present)
        logits = self.isp_head(x) if self.isp_head is not None and isp_logits else None
        x = self.refine(x)
        out = self.base_up(previous).to(x.dtype) + self.out(x)
        return x, out, logits


class FinalStage(nn.Module):
    """The x8 step: sub-pixel projection from x4 with auxiliary x4 features, ISP embedding at HR.

    Args:
        in_channels: width of the x4 features.
        channels: image feature width at HR.
        aux_channels: modality -> auxiliary x4 feature width ({} disables injection).
        isp_channels: ISP feature width at HR (0: no ISP head and no embedding).
    """

    def __init__(
        self, in_channels: int, channels: int, aux_channels: dict[str, int], isp_channels: int
    ) -> None:
        super().__init__()
        self.aux_names = list(aux_channels)
        self.aux_widths = dict(aux_channels)
        self.channels = channels
        self.isp_channels = isp_channels
        width = channels + isp_channels
        self.project = nn.Sequential(
            conv3x3(in_channels + sum(aux_channels.values()), 4 * width), nn.PixelShuffle(2), activation()
        )
        self.isp_head = pointwise(isp_channels, 1) if isp_channels else None
        self.refine = nn.Sequential(pointwise(width, channels), activation())
        self.out = pointwise(channels, 1)
        self.base_up = Interpolate(2, "bilinear")

    fast = True
    """Take the phase-space path (module docstring) when no gradient is recorded."""

    def forward(
        self,
        feats: torch.Tensor,
        previous: torch.Tensor,
        aux: dict[str, torch.Tensor],
        present: dict[str, torch.Tensor],
        isp_logits: bool = True,
        features: bool = True,
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """Returns (features (B, C, 2H, 2W), output (B, 1, 2H, 2W), ISP logits or None).

        A modality missing from ``aux`` (absent from the whole batch) is skipped exactly: the
        projection then uses only the weights of the channels that are there, as if zeros had
        been concatenated. ``isp_logits=False`` skips the ISP head (a training output);
        ``features=False`` lets the fast path leave the HR features out (returned as None).
        """
        if all(m in aux for m in self.aux_names):
            parts = [feats] + [aux[m].to(feats.dtype) * present[m].to(feats.dtype) for m in self.aux_names]
            projected = self.project[0](torch.cat(parts, dim=1) if len(parts) > 1 else feats)
        else:
            conv = self.project[0]
            keep = [torch.arange(feats.shape[1])]
            parts = [feats]
            start = feats.shape[1]
            for m in self.aux_names:
                width = self.aux_widths[m]
                if m in aux:
                    keep.append(torch.arange(start, start + width))
                    parts.append(aux[m].to(feats.dtype) * present[m].to(feats.dtype))
                start += width
            index = torch.cat(keep).to(conv.weight.device)
            projected = F.conv2d(torch.cat(parts, 1), conv.weight[:, index], conv.bias, padding=conv.padding)
        if fast_path(self):
            return self._forward_phases(projected, previous, isp_logits, features)
        x = self.project[2](self.project[1](projected))
        logits = self.isp_head(x[:, self.channels :]) if self.isp_head is not None and isp_logits else None
        x = self.refine(x)
        out = self.base_up(previous).to(x.dtype) + self.out(x)
        return x, out, logits

    def _forward_phases(
        self, projected: torch.Tensor, previous: torch.Tensor, isp_logits: bool, features: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """The pointwise HR layers applied before the pixel shuffle (same function, see module docstring).

        ``projected`` (B, 4 (C + C_isp), H, W): channel ``4 k + p`` is channel ``k`` of the HR pixel at
        phase ``p`` of its 2x2 block (``nn.PixelShuffle``'s order). The activation is element-wise, so it
        commutes with the shuffle; a 1x1 layer ``W`` acts on each phase alike, i.e. as ``W kron I_4``.
        """
        act = self.project[2]
        x = F.leaky_relu_(projected, act.negative_slope)  # the conv's own output: safe in place
        c4 = 4 * self.channels
        logits = None
        if self.isp_head is not None and isp_logits:
            logits = F.pixel_shuffle(_phase_pointwise(x[:, c4:], self.isp_head), 2)
        refine = self.refine[0]
        x = self.refine[1](_phase_pointwise(x, refine))
        out = self.base_up(previous).to(x.dtype) + _shuffle_one_channel(_phase_pointwise(x, self.out))
        return (F.pixel_shuffle(x, 2) if features else None), out, logits


def _shuffle_one_channel(x: torch.Tensor) -> torch.Tensor:
    """``F.pixel_shuffle(x, 2)`` for (B, 4, H, W) -> (B, 1, 2H, 2W) as one permuted copy (the same values;
    ``pixel_shuffle`` of a thin channels-last map is several times slower)."""
    b, _, h, w = x.shape
    phases = x.permute(0, 2, 3, 1).reshape(b, h, w, 2, 2)  # (b, i, j, di, dj)
    return phases.permute(0, 1, 3, 2, 4).reshape(b, 1, 2 * h, 2 * w)


def _phase_pointwise(x: torch.Tensor, conv: nn.Conv2d, phases: int = 4) -> torch.Tensor:
    """``conv`` (1x1) applied to every phase of a pre-shuffle map: weight ``W kron I_phases``."""
    eye = torch.eye(phases, dtype=conv.weight.dtype, device=conv.weight.device)
    weight = torch.kron(conv.weight[:, :, 0, 0], eye)[:, :, None, None]
    bias = conv.bias.repeat_interleave(phases) if conv.bias is not None else None
    return pointwise_conv2d(x, weight, bias)


class ProgressiveRefinement(nn.Module):
    """x2 -> x4 -> x8 reconstruction with per-scale outputs and ISP heads.

    Args:
        in_channels: width of the LR features.
        widths: feature width at x2, x4, x8.
        aux_widths: modality -> (auxiliary width at x2, at x4); empty disables auxiliary injection.
        isp_channels: ISP feature width at x8 (0: no ISP heads at any scale, no embedding).
    """

    def __init__(
        self,
        in_channels: int,
        widths: tuple[int, int, int],
        aux_widths: dict[str, tuple[int, int]],
        isp_channels: int,
    ) -> None:
        super().__init__()
        c2, c4, c8 = widths
        isp = isp_channels > 0
        self.stages = nn.ModuleList(
            [
                ScaleStage(in_channels, c2, {m: w[0] for m, w in aux_widths.items()}, isp, up_kernel=3),
                ScaleStage(c2, c4, {m: w[1] for m, w in aux_widths.items()}, isp, up_kernel=1),
                FinalStage(c4, c8, {m: w[1] for m, w in aux_widths.items()}, isp_channels),
            ]
        )

    def forward(
        self,
        feats: torch.Tensor,
        lr_calibrated: torch.Tensor,
        aux: dict[str, dict[int, torch.Tensor]],
        present: dict[str, dict[int, torch.Tensor]],
        isp_logits: bool = True,
        features: bool = True,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor | None]:
        """Returns (outputs at x2, x4, x8; ISP logits at the same scales, empty without ISP heads
        or with ``isp_logits=False``; the x8 features, which also carry the embedded ISP knowledge,
        None when ``features=False`` and the fast path left them out).

        ``aux`` maps each modality to its pyramid ``{4: x4 features, 2: x2 features, ...}``; the x8
        stage reads the x4 features. ``present`` maps each modality to its coverage (share of
        observed pixels, 0..1) at the same levels, ``{4: (B, 1, 4h, 4w), 2: ..., 1: ...}``.
        """
        outputs, logits = [], []
        previous = lr_calibrated
        for scale, stage in zip(SCALES, self.stages):
            level = min(scale, 4)
            extra = {"features": features} if isinstance(stage, FinalStage) else {}
            feats, previous, isp = stage(
                feats,
                previous,
                {m: pyr[level] for m, pyr in aux.items()},
                {m: cov[level] for m, cov in present.items()},
                isp_logits=isp_logits,
                **extra,
            )
            outputs.append(previous)
            if isp is not None:
                logits.append(isp)
        return outputs, logits, feats


class AuxiliaryDetailEmbedding(nn.Module):
    """Adds the aligned auxiliary images' high-pass detail to the x8 output, with learned gains.

    ``sr += sum_b g_b * (a_b - up8(mean8(a_b)))``: ``a_b`` are the bands of the globally aligned DMO
    and DEM at HR, ``mean8`` the 8x8 area mean (the band seen at the LR sensor's resolution), ``up8``
    bicubic; the gains ``g_b`` (B, bands, 8h, 8w) are the bilinear up-sampling of gains predicted by
    a 3x3 convolution of the fused LR features plus a pointwise convolution of the x8 refinement
    features (which carry the embedded ISP knowledge). Absent modalities contribute nothing.

    Args:
        lr_channels: width of the fused LR features.
        feature_channels: width of the x8 features.
        bands: modality -> number of bands, in the order the images are given.
        scale: the SR factor (8).
    """

    def __init__(self, lr_channels: int, feature_channels: int, bands: dict[str, int], scale: int) -> None:
        super().__init__()
        self.bands = dict(bands)
        self.scale = scale
        total = sum(self.bands.values())
        self.gain_lr = conv3x3(lr_channels, total)
        self.gain_hr = pointwise(feature_channels, total)
        nn.init.zeros_(self.gain_hr.weight)
        nn.init.zeros_(self.gain_hr.bias)
        self.gain_up = Interpolate(scale, "bilinear")
        self.up = Interpolate(scale, "bicubic")

    fast = True
    """Per-modality computation with one contraction (module docstring) when no gradient is recorded."""

    def forward(
        self,
        lr_feats: torch.Tensor,
        feats: torch.Tensor,
        images: dict[str, torch.Tensor],
        present: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        """(B, 1, 8h, 8w) detail to add to the x8 output (``present``: per-band coverage at HR)."""
        names = [m for m in self.bands if m in images]  # a modality absent from the batch adds 0
        if not names:
            return torch.zeros_like(feats[:, :1])
        if fast_path(self):
            return self._forward_fast(lr_feats, feats, images, present, names)
        guides = torch.cat([_covered_guide(images[m], present.get(m)) for m in names], dim=1)
        detail = guides - self.up(area_downsample(guides, self.scale))
        gains = self.gain_up(self.gain_lr(lr_feats)) + self.gain_hr(feats)
        if len(names) < len(self.bands):
            offsets, start = {}, 0
            for m, n in self.bands.items():
                offsets[m] = (start, start + n)
                start += n
            gains = torch.cat([gains[:, offsets[m][0] : offsets[m][1]] for m in names], dim=1)
        return (gains.to(detail.dtype) * detail).sum(dim=1, keepdim=True)

    def _forward_fast(
        self,
        lr_feats: torch.Tensor,
        feats: torch.Tensor,
        images: dict[str, torch.Tensor],
        present: dict[str, torch.Tensor],
        names: list[str],
    ) -> torch.Tensor:
        """The same sum, one modality at a time: no HR concatenation, gains x detail in one contraction."""
        gains_lr = self.gain_lr(lr_feats)
        weight, bias = self.gain_hr.weight, self.gain_hr.bias
        total, start = None, 0
        for m, n in self.bands.items():
            lo, start = start, start + n
            if m not in names:
                continue
            cover = present.get(m)
            if cover is None:  # fully covered: the guide is the image itself (not modified)
                guide = images[m]
                detail = guide - self.up(area_downsample(guide, self.scale))
            else:
                guide = images[m] * cover.to(images[m].dtype)  # a new tensor: safe in place
                detail = guide.sub_(self.up(area_downsample(guide, self.scale)))
            gains = self.gain_up(gains_lr[:, lo:start])
            gains = gains.add_(pointwise_conv2d(feats, weight[lo:start], bias[lo:start]).to(gains.dtype))
            with torch.autocast(detail.device.type, enabled=False):  # the reference sums in detail's dtype
                term = torch.einsum(
                    "bhwc,bhwc->bhw", gains.to(detail.dtype).permute(0, 2, 3, 1), detail.permute(0, 2, 3, 1)
                ).unsqueeze(1)
            total = term if total is None else total + term
        return total


def _covered_guide(image: torch.Tensor, cover: torch.Tensor | None) -> torch.Tensor:
    """The image times its coverage (None: covered everywhere, the image itself)."""
    return image if cover is None else image * cover.to(image.dtype)
