"""The real night-light corpus: places file checks, tiling, randomised degradation, datasets, mixing.

Small georeferenced rasters are written by the tests (rasterio, EPSG:4326 + transform); one test
reads the committed ``configs/real_places.yaml`` against ``../shared/data`` (skips without it, fails
in CI through the ``shared_data`` fixture).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import yaml
from affine import Affine

from deeplight.data.degrade import degrade_dmsp_like, preset_params
from deeplight.contracts import normalize_dn, normalize_radiance, radiance_to_nominal_dn
from deeplight.data.real_corpus import (
    DEFAULT_PLACES,
    DegradationDraw,
    MixedDataset,
    RandomDegradation,
    RealCorpusDataset,
    build_tiles,
    load_places,
    simulate_lr,
)
from deeplight.errors import ConfigError, RasterError

KIND_CYCLE = ("megacity", "mid-size city", "dim rural", "desert/flare")


def write_raster(path: Path, array: np.ndarray, *, nodata=None, dtype="float32", lon=10.0, lat=20.0, res=0.004):
    """Write a single-band GeoTIFF with CRS EPSG:4326 and a north-up transform."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path, "w", driver="GTiff", height=array.shape[0], width=array.shape[1], count=1, dtype=dtype,
        crs="EPSG:4326", transform=Affine.translation(lon, lat) @ Affine.scale(res, -res), nodata=nodata,
    ) as dst:
        dst.write(array.astype(dtype), 1)
    return path


def town(size: int, seed: int, peak: float = 150.0) -> np.ndarray:
    """A radiance image (nW/cm2/sr): dim background and a few Gaussian towns."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    image = np.full((size, size), 0.2)
    for _ in range(3):
        cy, cx = rng.uniform(0, size, 2)
        image += rng.uniform(0.2, 1.0) * peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(3, 9) ** 2))
    return image.astype(np.float32)


def place_entry(name, kind, split, files, scale=1.0, **extra):
    entry = {"name": name, "kind": kind, "split": split, "files": files, "units": {"scale": scale},
             "credit": "test raster written by the test"}
    entry.update(extra)
    return entry


def write_corpus(root: Path, size: int = 96) -> tuple[Path, Path]:
    """A data folder with 2 train, 4 real-val and 4 real-test places, and its places file.

    Returns:
        ``(data_dir, places_yaml)``.
    """
    data = root / "data"
    entries = []
    for k, name in enumerate(("town-a", "rural-b")):
        for year in (2020, 2021):
            write_raster(data / "train" / f"{name}_{year}.tif", town(size, 10 * k + year, 150 if k == 0 else 5))
        entries.append(place_entry(name, KIND_CYCLE[k + 1], "train", [f"train/{name}_20??.tif"]))
    for split in ("real-val", "real-test"):
        for k in range(4):
            name = f"{split}-{k}"
            write_raster(data / split / f"{name}.tif", town(size, 100 + k + (50 if split == "real-test" else 0)))
            entries.append(place_entry(name, KIND_CYCLE[k], split, [f"{split}/{name}.tif"]))
    path = root / "places.yaml"
    path.write_text(yaml.safe_dump({"places": entries}, sort_keys=False), encoding="utf-8")
    return data, path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def _edited(path: Path, tmp_path: Path, edit) -> Path:
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(values)
    out = tmp_path / "edited.yaml"
    out.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    return out


# ------------------------------------------------------------------------------ places file checks
def test_load_places_resolves_files_and_splits(corpus):
    data, path = corpus
    places = load_places(path, data)
    assert [p.name for p in places][:2] == ["town-a", "rural-b"]
    town_a = places[0]
    assert town_a.files == ("train/town-a_2020.tif", "train/town-a_2021.tif")
    assert all(p.is_file() for p in town_a.paths)
    assert {p.split for p in places} == {"train", "real-val", "real-test"}
    assert town_a.scale == 1.0 and town_a.nodata_as == "nan" and town_a.window is None


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda v: v["places"][0].update(colour="red"), r"place 'town-a' \(entry 1\): unknown key 'colour'"),
        (lambda v: v.update(version=2), r"unknown key 'version'; valid keys: places"),
        (lambda v: v["places"][0]["units"].update(offset=3), r"unknown key 'offset' in units"),
        (lambda v: v["places"][0].update(kind="village"), r"kind 'village' is not one of megacity"),
        (lambda v: v["places"][0].update(split="validation"), r"split 'validation' is not one of train"),
        (lambda v: v["places"][0]["units"].update(scale=-1), r"units.scale must be > 0"),
        (lambda v: v["places"][0]["units"].update(nodata_as="ignore"), r"nodata_as must be 'nan' or 'zero'"),
        (lambda v: v["places"][0].pop("credit"), r"missing key\(s\) credit"),
        (lambda v: v["places"][0].update(window={"row": 0, "col": 0, "height": 5}), r"window lacks width"),
        (lambda v: v["places"][0].update(window={"bbox": [10, 20, 5, 30]}), r"west < east"),
        (lambda v: v["places"][0].update(min_valid=1.5), r"min_valid must be within \(0, 1\]"),
        (lambda v: v["places"][0].update(files=["/abs/x.tif"]), r"must be relative to the shared data folder"),
        # the same place in two splits
        (lambda v: v["places"].append({**v["places"][0], "split": "real-val"}),
         r"place 'town-a' is listed twice \(splits train and real-val\)"),
        # one file claimed by two places
        (lambda v: v["places"][1].update(files=["train/town-a_2020.tif"]),
         r"file train/town-a_2020.tif is matched by place 'town-a' \(train\) and by place 'rural-b'.*no two places may share"),
        # a held-out split with too few places
        (lambda v: v.update(places=[p for p in v["places"] if p["name"] != "real-val-0"]),
         r"split real-val has 3 place\(s\) of 3 kind\(s\).*needs >= 4 places"),
        # ... or too few kinds
        (lambda v: [p.update(kind="megacity") for p in v["places"] if p["split"] == "real-test"],
         r"split real-test has 4 place\(s\) of 1 kind\(s\)"),
    ],
)
def test_places_file_errors_name_the_problem(corpus, tmp_path, edit, match):
    data, path = corpus
    with pytest.raises(ConfigError, match=match):
        load_places(_edited(path, tmp_path, edit), data)


def test_pattern_without_match_names_pattern_folder_and_env_var(corpus, tmp_path):
    data, path = corpus
    bad = _edited(path, tmp_path, lambda v: v["places"][0].update(files=["train/nothing_*.tif"]))
    with pytest.raises(RasterError, match=r"'train/nothing_\*\.tif' matches no file in .*data: set DEEPLIGHT_DATA_DIR"):
        load_places(bad, data)
    with pytest.raises(RasterError, match=r"set DEEPLIGHT_DATA_DIR to the shared data folder"):
        load_places(path, tmp_path / "missing")


def test_missing_or_broken_places_file(tmp_path):
    with pytest.raises(ConfigError, match="places file .*nope.yaml not found"):
        load_places(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("places: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_places(bad)


def test_default_data_dir_is_the_env_var(corpus, monkeypatch):
    data, path = corpus
    monkeypatch.setenv("DEEPLIGHT_DATA_DIR", str(data))
    assert load_places(path)[0].data_dir == data


# ------------------------------------------------------------------------------------------ tiling
def _single_place_file(tmp_path, array, *, scale=1.0, nodata=None, dtype="float32", **extra):
    data = tmp_path / "d"
    write_raster(data / "p.tif", array, nodata=nodata, dtype=dtype)
    return data, place_entry("p", "megacity", "train", ["p.tif"], scale=scale, **extra)


def _places_from(tmp_path, data, entry):
    """Load one train place (held-out checks relaxed)."""
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump({"places": [entry]}), encoding="utf-8")
    return load_places(path, data, min_heldout_places=0, min_heldout_kinds=0)


def test_tiling_grid_units_nodata_and_padding(tmp_path):
    raw = np.full((40, 72), 300.0, dtype=np.float32)  # Black-Marble-like DN: 30 nW/cm2/sr
    raw[0, 0] = 65535  # declared nodata
    raw[0, 1] = -20  # negative radiance -> 0
    data, entry = _single_place_file(tmp_path, raw, scale=0.1, nodata=65535, dtype="float32")
    places = _places_from(tmp_path, data, entry)
    ts = build_tiles(places, "train", 32, min_valid=0.5, dark_keep=0.0)
    # rows 0 and 32 (the second overhangs: 8/32 valid -> dropped), cols 0, 32, 64 (the last 8/32 -> dropped)
    assert [r.window for r in ts.refs] == [(0, 0, 32, 32), (0, 32, 32, 32)]
    assert ts.tiles.shape == (2, 32, 32) and ts.tiles.dtype == np.float32
    first = ts.tiles[0]
    assert np.isnan(first[0, 0]) and first[0, 1] == 0.0 and first[5, 5] == pytest.approx(30.0)
    assert ts.counts == {"p": 2} and ts.candidates == {"p": 2}
    assert ts.refs[0].file == "p.tif" and ts.grids["p.tif"][1][0] == pytest.approx(0.004)
    # A lower threshold keeps the overhanging windows, NaN-padded past the raster.
    ts = build_tiles(places, "train", 32, min_valid=0.05, dark_keep=0.0)
    assert len(ts.refs) == 6
    last = ts.tiles[[r.window for r in ts.refs].index((32, 64, 32, 32))]
    assert np.isfinite(last[:8, :8]).all() and np.isnan(last[8:]).all() and np.isnan(last[:, 8:]).all()


def test_nodata_as_zero_and_windows(tmp_path):
    raw = np.zeros((64, 64), dtype=np.uint8)
    raw[10:20, 40:50] = 40  # rescaled uint8: 0 is the dark value, declared nodata
    data, entry = _single_place_file(tmp_path, raw, scale=2.0, nodata=0, dtype="uint8")
    entry["units"]["nodata_as"] = "zero"
    tiles = build_tiles(_places_from(tmp_path, data, entry), "train", 32, dark_keep=1.0).tiles
    assert np.isfinite(tiles).all() and tiles.max() == pytest.approx(80.0) and len(tiles) == 4
    entry["units"]["nodata_as"] = "nan"
    ts = build_tiles(_places_from(tmp_path, data, entry), "train", 32, min_valid=0.05, dark_keep=1.0)
    assert len(ts.refs) == 1 and np.isfinite(ts.tiles[0]).sum() == 100
    # A pixel window, and a WGS84 box (raster origin 10 E, 20 N, 0.004 deg pixels).
    entry["units"]["nodata_as"] = "zero"
    entry["window"] = {"row": 8, "col": 32, "height": 32, "width": 32}
    ts = build_tiles(_places_from(tmp_path, data, entry), "train", 32, dark_keep=1.0)
    assert [r.window for r in ts.refs] == [(8, 32, 32, 32)] and ts.tiles[0].max() == pytest.approx(80.0)
    entry["window"] = {"bbox": [10.0 + 32 * 0.004, 20.0 - 40 * 0.004, 10.0 + 64 * 0.004, 20.0 - 8 * 0.004]}
    ts = build_tiles(_places_from(tmp_path, data, entry), "train", 32, dark_keep=1.0)
    assert [r.window for r in ts.refs] == [(8, 32, 32, 32)]
    entry["window"] = {"bbox": [100.0, 0.0, 101.0, 1.0]}
    with pytest.raises(RasterError, match="window does not overlap"):
        build_tiles(_places_from(tmp_path, data, entry), "train", 32)


def test_dark_tiles_are_subsampled_with_a_seed(tmp_path):
    image = np.full((400, 400), 0.5, dtype=np.float32)  # 2500 dark 8x8 tiles ...
    lit_rows = range(0, 400, 40)
    for r in lit_rows:
        image[r, :: 8] = 10.0  # ... except the 10 rows of 50 tiles holding a pixel >= 2 nW
    data, entry = _single_place_file(tmp_path, image)
    places = _places_from(tmp_path, data, entry)
    ts = build_tiles(places, "train", 8, max_tiles_per_place=0, seed=1)
    lit = (np.nan_to_num(ts.tiles) >= 2).any(axis=(1, 2))
    assert lit.sum() == 500  # every lit tile kept
    dark_share = (~lit).sum() / 2000
    assert 0.12 < dark_share < 0.18  # about 15 % of the dark ones
    again = build_tiles(places, "train", 8, max_tiles_per_place=0, seed=1)
    assert [r.window for r in again.refs] == [r.window for r in ts.refs]
    other = build_tiles(places, "train", 8, max_tiles_per_place=0, seed=2)
    assert [r.window for r in other.refs] != [r.window for r in ts.refs]


def test_cap_is_spread_evenly_over_files(tmp_path):
    data = tmp_path / "d"
    for k, size in enumerate((64, 64, 16)):  # 16, 16 and 1 candidate tiles of 16 px
        write_raster(data / f"s_{k}.tif", np.full((size, size), 5.0))
    entry = place_entry("s", "megacity", "train", ["s_*.tif"])
    ts = build_tiles(_places_from(tmp_path, data, entry), "train", 16, max_tiles_per_place=11)
    per_file = {f: sum(r.file == f for r in ts.refs) for f in ("s_0.tif", "s_1.tif", "s_2.tif")}
    assert per_file == {"s_0.tif": 5, "s_1.tif": 5, "s_2.tif": 1} and ts.counts == {"s": 11}


def test_build_tiles_rejects_bad_sizes_and_empty_splits(corpus):
    data, path = corpus
    places = load_places(path, data)
    with pytest.raises(ConfigError, match="multiple of 8"):
        build_tiles(places, "train", 30)
    with pytest.raises(ConfigError, match="no place in split 'test'"):
        build_tiles(places, "test", 32)


# ------------------------------------------------------------------------------------- degradation
def test_random_degradation_is_deterministic_and_covers_the_ranges():
    rd = RandomDegradation()
    a, b = rd.for_sample(0, 3, 17), rd.for_sample(0, 3, 17)
    assert a == b
    assert rd.for_sample(0, 4, 17) != a and rd.for_sample(1, 3, 17) != a
    draws = [rd.for_sample(7, 0, i) for i in range(2000)]
    realistic = preset_params("realistic")
    preset_share = np.mean([d.params == realistic for d in draws])
    radiance_share = np.mean([d.lr_mode == "radiance" for d in draws])
    assert 0.26 < preset_share < 0.34 and 0.17 < radiance_share < 0.23
    rand = [d.params for d in draws if d.params != realistic]
    core = np.array([p.psf_core_sigma_lr for p in rand])
    tail = np.array([p.psf_tail_sigma_lr for p in rand])
    half = np.array([p.bloom_half_radiance for p in rand])
    sat = np.array([p.saturation_dn for p in rand])
    assert 0.2 <= core.min() and core.max() <= 0.6 and 0.8 <= tail.min() and tail.max() <= 2.5
    assert 5 <= half.min() and half.max() <= 80 and np.median(half) == pytest.approx(20, rel=0.2)  # log-uniform
    assert 0.11 < np.mean(sat < 63) < 0.19 and sat.min() >= 45
    assert 0.07 < np.mean([p.aggregation == "bicubic" for p in rand]) < 0.13
    assert all(0 <= p.bloom_max_fraction <= 0.7 and 0.05 <= p.gain_drift_sigma <= 0.3 for p in rand)
    assert all(p.shift_sigma_lr <= 0.8 and p.max_rotation_deg <= 1 and p.noise_relative <= 0.05 for p in rand)


def test_simulate_lr_modes():
    hr = town(64, 3)
    p = preset_params("realistic", noise_relative=0.0)
    lr_dn, info = simulate_lr(hr, DegradationDraw(params=p, lr_mode="dn", seed=5))
    expected, _ = degrade_dmsp_like(hr, p, seed=5)
    np.testing.assert_array_equal(lr_dn, expected)
    # Radiance mode: the forward model's coarse radiance through the nominal response (what
    # `deeplight predict --lr-units radiance` does); noise_relative = 0 -> no noise.
    lr_rad, info = simulate_lr(hr, DegradationDraw(params=p, lr_mode="radiance", seed=5))
    np.testing.assert_allclose(lr_rad, radiance_to_nominal_dn(info.lr_radiance), rtol=1e-6)
    noisy, _ = simulate_lr(hr, DegradationDraw(params=preset_params("realistic"), lr_mode="radiance", seed=5))
    assert lr_rad.shape == noisy.shape == (8, 8) and not np.allclose(noisy, lr_rad)


# ----------------------------------------------------------------------------------------- dataset
def test_dataset_samples_follow_the_contract(corpus):
    data, path = corpus
    ds = RealCorpusDataset(load_places(path, data), "train", hr_size=32, seed=0, augment=True)
    assert ds.places == ["town-a", "rural-b"] and len(ds) == len(ds.refs) > 0
    assert "split train" in ds.description and "town-a" in ds.description and "\n" not in ds.description
    sample = ds[0]
    shapes = {k: tuple(v.shape) for k, v in sample.items()}
    assert shapes == {"lr": (1, 4, 4), "hr": (1, 32, 32), "dmo": (7, 32, 32), "dem": (1, 32, 32),
                      "isp": (1, 32, 32), "present": (4,), "valid": (1, 32, 32)}
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in sample.values())
    assert sample["present"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert sample["dmo"].abs().sum() == 0 and sample["dem"].abs().sum() == 0 and sample["isp"].abs().sum() == 0
    assert 0 <= sample["lr"].min() and sample["lr"].max() <= 1
    # Deterministic per (seed, epoch, index); another epoch draws another degradation/augmentation.
    again = RealCorpusDataset(load_places(path, data), "train", hr_size=32, seed=0, augment=True)[0]
    assert all(torch.equal(sample[k], again[k]) for k in sample)
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["lr"], sample["lr"]) or not torch.equal(ds[0]["hr"], sample["hr"])


def test_held_out_split_is_reproducible_with_the_realistic_preset(corpus):
    data, path = corpus
    places = load_places(path, data)
    val = RealCorpusDataset(places, "real-val", hr_size=32, seed=4)
    assert not val.randomize and val.places == [f"real-val-{k}" for k in range(4)]
    # Items take the places in turn, so a prefix (max_val_batches) covers every place.
    assert {ref.place for ref in val.refs[:4]} == set(val.places)
    i = 3
    tile = val.tileset.tiles[val.order[i]]
    assert val.refs[i].index == val.order[i]
    expected, _ = degrade_dmsp_like(tile, preset_params("realistic"), seed=4 + i)
    sample = val[i]
    np.testing.assert_allclose(sample["lr"][0].numpy(), normalize_dn(np.nan_to_num(expected)), atol=1e-6)
    np.testing.assert_allclose(sample["hr"][0].numpy(), normalize_radiance(np.nan_to_num(tile)), atol=1e-6)
    val.set_epoch(5)
    assert torch.equal(val[i]["lr"], sample["lr"])  # the same whatever the epoch
    tiles = val.place_tiles("real-val-2")
    assert tiles and all(ref.place == "real-val-2" for ref, _ in tiles)
    ref, s = tiles[0]
    position = [r.index for r in val.refs].index(ref.index)
    assert torch.equal(s["lr"], val[position]["lr"])  # the same sample as through __getitem__
    assert ref.file == "real-val/real-val-2.tif" and ref.window[2:] == (32, 32)
    assert "PROJCS" in s["crs"] or "GEOGCS" in s["crs"] or "GEOGCRS" in s["crs"]
    assert s["transform"][2] == pytest.approx(10.0 + ref.window[1] * 0.004)
    with pytest.raises(KeyError, match="no tile of place 'town-a' in split real-val"):
        val.place_tiles("town-a")


def test_dataset_errors(corpus):
    data, path = corpus
    places = load_places(path, data)
    with pytest.raises(ConfigError, match="gives no HR tile of 256 px"):
        RealCorpusDataset(places, "real-test", hr_size=256, min_valid=1.0)


# ------------------------------------------------------------------------------------------ mixing
class _Const(torch.utils.data.Dataset):
    """``n`` samples whose ``lr`` holds a tag value, and an epoch counter."""

    def __init__(self, n, tag, hr=16):
        self.n, self.tag, self.hr, self.epoch = n, tag, hr, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        h = self.hr
        return {"lr": torch.full((1, h // 8, h // 8), float(self.tag)), "hr": torch.zeros(1, h, h),
                "dmo": torch.zeros(7, h, h), "dem": torch.zeros(1, h, h), "isp": torch.zeros(1, h, h),
                "present": torch.ones(4), "valid": torch.ones(1, h, h), "name": f"{self.tag}-{i}"}


def test_mixed_dataset_proportions_determinism_and_epochs():
    synth, real = _Const(2000, 0), _Const(50, 1)
    mixed = MixedDataset(synth, real, 0.3, seed=0)
    assert len(mixed) == 2000
    tags = [float(mixed[i]["lr"][0, 0, 0]) for i in range(2000)]
    assert 0.27 < np.mean(tags) < 0.33
    assert set(mixed[0]) == {"lr", "hr", "dmo", "dem", "isp", "present", "valid"}  # extras dropped
    assert [mixed.source(i) for i in range(50)] == [MixedDataset(synth, real, 0.3, seed=0).source(i) for i in range(50)]
    mixed.set_epoch(2)
    assert synth.epoch == real.epoch == 2
    assert [float(mixed[i]["lr"][0, 0, 0]) for i in range(2000)] != tags
    assert all(MixedDataset(synth, real, 0.0).source(i)[0] == "synthetic" for i in range(200))
    assert all(MixedDataset(synth, real, 1.0).source(i)[0] == "real" for i in range(200))
    with pytest.raises(ConfigError, match="within 0..1"):
        MixedDataset(synth, real, 1.5)
    with pytest.raises(ConfigError, match="synthetic clips have HR 16x16 px but the real tiles 32x32"):
        MixedDataset(synth, _Const(5, 1, hr=32), 0.5)


def test_mixed_items_from_the_real_corpus_collate_with_synthetic_ones(corpus):
    from deeplight.data.samples import collate_samples

    data, path = corpus
    real = RealCorpusDataset(load_places(path, data), "train", hr_size=32, seed=0)
    mixed = MixedDataset(_Const(64, 0, hr=32), real, 0.5, seed=3)
    kinds = [mixed.source(i)[0] for i in range(64)]
    assert "real" in kinds and "synthetic" in kinds
    batch = collate_samples([mixed[i] for i in range(16)])
    assert batch["hr"].shape == (16, 1, 32, 32) and batch["present"].shape == (16, 4)
    # The same tile drawn by two items gets two degradations (own stream per item).
    j = 0
    assert not torch.equal(real.sample(j, key=1)["lr"], real.sample(j, key=2)["lr"])


# ----------------------------------------------------------------------------------- real shared data
def test_committed_places_file_on_the_shared_data(shared_data):
    places = load_places(DEFAULT_PLACES, shared_data)
    by_split = {s: [p for p in places if p.split == s] for s in ("train", "real-val", "real-test")}
    for split in ("real-val", "real-test"):
        assert len(by_split[split]) >= 4 and len({p.kind for p in by_split[split]}) >= 3
    assert {p.name for p in by_split["real-test"]} == {
        "shanghai", "cote_divoire", "pune", "libya-flares", "dubai", "touggourt"}
    assert {p.name for p in by_split["real-val"]} == {"beijing", "srinagar", "afghanistan", "nile-red-sea"}
    files = {s: {f for p in ps for f in p.files} for s, ps in by_split.items()}
    assert not files["train"] & files["real-val"] and not files["train"] & files["real-test"]
    assert not files["real-val"] & files["real-test"]
    every = [f for p in places for f in p.files]
    assert len(every) == len(set(every))
    for excluded in ("china-viirslike-uint8-national", "china-dmsplike-wu2021", "beijing-landsat-aux", "_cf.tif",
                     "Ndvi", "Pop", "Bld", "ndvi", "ndbi"):
        assert not any(excluded in f for f in every), excluded
    assert {p.name for p in places if "h20v06" in "".join(p.files)} == {"libya-flares"}
    assert all(p.scale == 2.0 and "approximate" in p.units_label for p in places if "uint8" in "".join(p.files))
    assert all(p.scale == 0.1 for p in places if "blackmarble" in "".join(p.files))


def test_every_real_test_place_gives_tiles(shared_data):
    ds = RealCorpusDataset(load_places(DEFAULT_PLACES, shared_data), "real-test", hr_size=128, seed=0)
    counts = ds.tile_counts()
    assert set(counts) == {"shanghai", "cote_divoire", "pune", "libya-flares", "dubai", "touggourt"}
    assert all(n >= 1 for n in counts.values()), counts
    assert all(n <= 600 for n in counts.values())
    assert ds.tileset.tiles.dtype == np.float32 and np.nanmin(ds.tileset.tiles) >= 0
    ref, sample = ds.place_tiles("touggourt")[0]
    assert ref.file.startswith("touggourt/") and sample["hr"].shape == (1, 128, 128)
