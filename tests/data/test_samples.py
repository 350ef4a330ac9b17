"""Sample dicts: contract keys and shapes, normalisation, identical augmentation, collation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeplight.contracts import normalize_radiance
from deeplight.data.samples import augment_sample, collate_samples, make_sample


def _sample(h=4, w=6, seed=0, **missing):
    rng = np.random.default_rng(seed)
    hr = rng.gamma(0.5, 10.0, (8 * h, 8 * w))
    hr[0, 0] = np.nan
    lr = hr.copy()
    lr[0, 0] = 0
    lr = lr.reshape(h, 8, w, 8).mean(axis=(1, 3))  # LR = block means of HR (a checkable link)
    arrays = {
        "hr_radiance": hr,
        "dmo": rng.random((7, 8 * h, 8 * w)),
        "dem_m": rng.random((8 * h, 8 * w)) * 500,
        "isp": rng.random((8 * h, 8 * w)),
    }
    for key in missing:
        arrays[key] = None
    return make_sample(lr, **arrays, extras={"crs": "EPSG:32650", "transform": (1, 0, 0, 0, -1, 0)})


def test_keys_shapes_and_scale():
    sample = _sample()
    shapes = {k: tuple(v.shape) for k, v in sample.items() if isinstance(v, torch.Tensor)}
    assert shapes == {
        "lr": (1, 4, 6),
        "hr": (1, 32, 48),
        "dmo": (7, 32, 48),
        "dem": (1, 32, 48),
        "isp": (1, 32, 48),
        "present": (4,),
        "valid": (1, 32, 48),
    }
    assert all(v.dtype == torch.float32 for v in sample.values() if isinstance(v, torch.Tensor))
    assert sample["valid"][0, 0, 0] == 0 and sample["valid"].sum() == 32 * 48 - 1
    assert sample["hr"][0, 0, 0] == 0  # NaN -> 0
    assert sample["dem"].max() <= 0.5 and sample["lr"].max() <= 1
    assert sample["present"].tolist() == [1, 1, 1, 1]
    assert sample["crs"] == "EPSG:32650"


def test_missing_modalities_are_zeros_with_present_0():
    sample = _sample(dmo=True, dem_m=True)
    assert sample["present"].tolist() == [1, 0, 0, 1]
    assert sample["dmo"].shape == (7, 32, 48) and sample["dmo"].abs().sum() == 0
    no_hr = _sample(hr_radiance=True)
    assert no_hr["present"][0] == 0 and no_hr["valid"].sum() == 0


@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("flip", [False, True])
def test_augmentation_keeps_lr_and_hr_registered(k, flip):
    sample = _sample(h=4, w=4)
    out = augment_sample(sample, k, flip)
    hr = torch.expm1(out["hr"] * np.log1p(1000.0))[0]
    block_means = hr.reshape(4, 8, 4, 8).mean(dim=(1, 3))
    lr_radiance = out["lr"][0] * 63.0  # the test LR holds block-mean radiance / 63 * 63
    assert torch.allclose(block_means, lr_radiance, rtol=1e-4, atol=1e-4)
    for key in ("dmo", "dem", "isp", "valid"):
        expected = sample[key]
        if k:
            expected = torch.rot90(expected, k, dims=(-2, -1))
        if flip:
            expected = torch.flip(expected, dims=(-1,))
        assert torch.equal(out[key], expected)
    assert out["augment"] == (k, flip)


def test_collate():
    batch = collate_samples([_sample(seed=1), _sample(seed=2)])
    assert batch["lr"].shape == (2, 1, 4, 6) and batch["present"].shape == (2, 4)
    assert batch["crs"] == ["EPSG:32650", "EPSG:32650"]
    with pytest.raises(ValueError, match="cannot batch 'lr'"):
        collate_samples([_sample(h=4), _sample(h=2)])
    with pytest.raises(ValueError, match="at least one"):
        collate_samples([])


def test_normalised_values():
    sample = make_sample(np.full((1, 1), 63.0), hr_radiance=np.full((8, 8), 1000.0))
    assert sample["lr"].item() == pytest.approx(1.0)
    assert sample["hr"].max().item() == pytest.approx(float(normalize_radiance(1000.0)))
