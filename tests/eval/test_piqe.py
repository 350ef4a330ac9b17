"""PIQE (Venkatanath et al. 2015) against its definition and against the independent ``pypiqe`` package.

``pypiqe`` (a Python port of MATLAB's ``piqe``) is a test-only dependency. It differs from the paper,
and from :func:`deeplight.eval.metrics.piqe`, in three documented ways, which the cross-check
neutralises or accounts for:

* it stretches every image to 0..255 by its own maximum, where we (and MATLAB's ``round(255 *
  im2double(I))``) use the fixed scale 0..1 -> 0..255: the test images have a maximum of exactly 1.0,
  where both scalings coincide;
* it pads sizes that are not multiples of 16 by mirroring, MATLAB and we by edge replication: the
  images given to pypiqe are padded beforehand (by edge replication), so it pads nothing;
* its noise criterion's "surround" drops block columns 7 and 9 (0-based; the second deletion
  shifts by one, as in MATLAB's code), so it keeps centre column 8; the paper's surround is the 14
  columns outside the two centre columns 7 and 8, which is what we use.

With pypiqe's centre/surround helper replaced by the paper's (a few lines below, written here), every
block decision and the score agree to ~1e-14 relative (the MSCN Gaussian windows are the same: 7x7,
sigma 7/6, replicate borders; OpenCV's and SciPy's filters differ only by rounding); the tolerance is
1e-9. Against stock pypiqe, the activity and artifact masks are identical and the score differs
exactly by the blocks whose noise decision flips: ``100 / (N_active + 1) * sum(+-v_k)`` over them
(measured: 0 blocks on the smooth, noisy and blocky images, 1-3 blocks, at most ~2.2 points, on the
night-light images).
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from deeplight.contracts import normalize_radiance
from deeplight.eval import metrics

REL_TOL = 1e-9
SIZES = [(128, 160), (104, 88)]  # a multiple of 16, and one that needs padding


def _unit(x: np.ndarray) -> np.ndarray:
    return (x - x.min()) / (x.max() - x.min())


def _images(seed: int = 0, size: tuple[int, int] = (128, 160)) -> dict[str, np.ndarray]:
    """Test images on the normalised radiance scale, each with a maximum of exactly 1.0."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    smooth = _unit(0.6 * xx + 0.3 * yy + 0.15 * _unit(gaussian_filter(rng.standard_normal(size), 1.5)))
    noisy = np.clip(smooth + 0.05 * rng.standard_normal(size), 0, 1)
    noisy[0, 0] = 1.0
    blocky = smooth.reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3)).repeat(8, 0).repeat(8, 1)
    blocky /= blocky.max()
    # A night-light scene: towns as Gaussian blobs of log-normal peak radiance, two roads, a noisy
    # floor and one saturated core (radiance 1000 -> normalised 1.0).
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    radiance = np.zeros(size)
    for _ in range(12):
        cy, cx, s = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, 10)
        radiance += rng.lognormal(3, 1) * np.exp(-((rows - cy) ** 2 + (cols - cx) ** 2) / (2 * s * s))
    radiance[h // 3, :] += 5.0
    radiance[:, w // 2] += 3.0
    radiance = gaussian_filter(radiance, 0.7) + np.abs(0.3 * rng.standard_normal(size))
    radiance[np.unravel_index(radiance.argmax(), radiance.shape)] = 1000.0
    night = normalize_radiance(radiance)
    return {"smooth": smooth, "noisy": noisy, "blocky": blocky, "night": night}


NAMES = ("smooth", "noisy", "blocky", "night")
CASES = [(seed, size, name) for seed in (0, 1, 2, 3) for size in SIZES for name in NAMES]


@pytest.fixture(scope="module")
def pypiqe_module():
    """The module ``pypiqe.piqe`` (its package re-exports the function under the same name)."""
    pytest.importorskip(
        "pypiqe", reason="pypiqe (test-only, needs OpenCV) is not installed: no cross-check",
        exc_type=ImportError,
    )
    return importlib.import_module("pypiqe.piqe")


def _paper_centre_surround(block: np.ndarray, _block_size: int) -> float:
    """The paper's ratio std(two centre columns) / std(the other 14 columns), sample stds."""
    c = block.shape[1] // 2
    surround = np.concatenate([block[:, : c - 1], block[:, c + 1 :]], axis=1)
    s = surround.std(ddof=1)
    return float(block[:, c - 1 : c + 1].std(ddof=1) / s) if s > 0 else 0.0


def _reference(module, image: np.ndarray, paper_surround: bool, monkeypatch) -> dict:
    """pypiqe's score and per-block masks (row-major block order) on the edge-padded image."""
    h, w = image.shape
    padded = np.pad(image, ((0, (-h) % 16), (0, (-w) % 16)), mode="edge")
    with monkeypatch.context() as m, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if paper_surround:
            m.setattr(module, "centerSurDev", _paper_centre_surround)
        score, artifact, noise, active = module.piqe(padded)
    b = metrics.PIQE_BLOCK
    return {
        "score": float(score), "active": active[::b, ::b].ravel(), "artifact": artifact[::b, ::b].ravel(),
        "noise": noise[::b, ::b].ravel(),
    }


@pytest.mark.parametrize("image", [np.zeros((32, 32)), np.full((32, 32), 0.4), np.ones((40, 24)),
                                   np.full((16, 16), np.nan), np.full((5, 7), 0.7)],
                         ids=["zeros", "constant", "ones", "nan", "tiny-constant"])
def test_piqe_is_100_when_no_block_is_active(image):
    blocks = metrics._piqe_blocks(metrics._piqe_grey(image))
    assert not blocks["active"].any()
    assert metrics.piqe(image) == 100.0


def test_piqe_grey_levels_use_the_fixed_0_1_scale():
    x = np.array([[0.0, 1.0, 0.5, 1.3, -0.1, np.nan, 1 / 255, 0.2]])
    np.testing.assert_array_equal(metrics._piqe_grey(x), [[0, 255, 128, 255, 0, 0, 1, 51]])
    # A dim image is not stretched to 0..255: halving it changes its grey levels and its score.
    img = _images(0)["night"]
    assert metrics._piqe_grey(0.5 * img).max() == 128
    assert metrics.piqe(0.5 * img) != metrics.piqe(img)
    # Out-of-range values saturate like an 8-bit image.
    assert metrics.piqe(np.clip(1.5 * img, 0, 1)) == metrics.piqe(1.5 * img)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_and_blockiness_raise_the_score_over_a_smooth_image(seed):
    imgs = _images(seed)
    smooth, noisy, blocky = (metrics.piqe(imgs[k]) for k in ("smooth", "noisy", "blocky"))
    assert all(0.0 <= v <= 100.0 for v in (smooth, noisy, blocky))
    assert noisy > smooth + 10 and blocky > smooth + 30, (smooth, noisy, blocky)
    # Past a few grey levels, more noise scores worse. (Faint noise, std ~1 % of the range, LOWERS
    # the score of this smooth image, ~45 -> ~5: it breaks up the flat block edges that the
    # noticeable-distortion test flags, and is too weak for the noise test. PIQE rewards texture.)
    rng = np.random.default_rng(seed)
    more_noise = [metrics.piqe(np.clip(imgs["smooth"] + s * rng.standard_normal(imgs["smooth"].shape), 0, 1))
                  for s in (0.05, 0.1, 0.2)]
    assert smooth < more_noise[0] < more_noise[1] < more_noise[2]


def test_piqe_accepts_tensors_and_leading_unit_axes():
    img = _images(1)["night"]
    expected = metrics.piqe(img)
    assert metrics.piqe(torch.from_numpy(img)) == expected
    assert metrics.piqe(torch.from_numpy(img).float()[None, None]) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("seed", "size", "name"), CASES)
def test_piqe_matches_pypiqe_with_the_papers_surround(pypiqe_module, monkeypatch, seed, size, name):
    image = _images(seed, size)[name]
    assert image.max() == 1.0  # pypiqe's stretch by the maximum is then the fixed scale
    ref = _reference(pypiqe_module, image, paper_surround=True, monkeypatch=monkeypatch)
    ours = metrics._piqe_blocks(metrics._piqe_grey(image))
    for key in ("active", "artifact", "noise"):
        np.testing.assert_array_equal(ours[key], ref[key], err_msg=key)
    assert ours["active"].sum() >= 20  # the comparison is not vacuous
    assert metrics.piqe(image) == pytest.approx(ref["score"], rel=REL_TOL)


@pytest.mark.parametrize(("seed", "size", "name"), CASES)
def test_piqe_differs_from_stock_pypiqe_only_by_its_surround(pypiqe_module, monkeypatch, seed, size, name):
    image = _images(seed, size)[name]
    ref = _reference(pypiqe_module, image, paper_surround=False, monkeypatch=monkeypatch)
    ours = metrics._piqe_blocks(metrics._piqe_grey(image))
    np.testing.assert_array_equal(ours["active"], ref["active"])
    np.testing.assert_array_equal(ours["artifact"], ref["artifact"])
    flips = ours["noise"].astype(float) - ref["noise"].astype(float)
    expected_gap = 100.0 * float((flips * ours["variance"]).sum()) / (int(ours["active"].sum()) + 1)
    assert metrics.piqe(image) - ref["score"] == pytest.approx(expected_gap, abs=1e-9)
    assert np.abs(flips).sum() <= 3 and abs(expected_gap) < 5.0


def test_constant_images_score_100_in_pypiqe_too(pypiqe_module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for image in (np.zeros((32, 32)), np.full((32, 32), 0.4)):
            assert pypiqe_module.piqe(image)[0] == 100.0 == metrics.piqe(image)
