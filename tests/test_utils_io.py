"""Atomic writes leave either the old file or the new one, never half of one."""

from __future__ import annotations

import os
import stat

import pytest

from deeplight.utils_io import atomic_path, atomic_write_text, sha256_file


def test_atomic_write_replaces_and_keeps_ordinary_permissions(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failure_inside_the_block_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("kept")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_sha256_matches_hashlib(tmp_path):
    import hashlib

    target = tmp_path / "b.bin"
    target.write_bytes(b"x" * 3_000_000)
    assert sha256_file(target, chunk=1000) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


def test_read_json_names_a_corrupt_file(tmp_path):
    from deeplight.errors import DeepLightError
    from deeplight.utils_io import read_json

    good = tmp_path / "good.json"
    good.write_text('{"a": 1}')
    assert read_json(good) == {"a": 1}
    bad = tmp_path / "manifest.json"
    bad.write_text("{truncated")
    with pytest.raises(DeepLightError, match="manifest.json is not valid JSON"):
        read_json(bad)


# -- check_outputs_distinct: no output may replace an input (or another output) -------------------------
def test_outputs_distinct_from_inputs_pass(tmp_path):
    from deeplight.utils_io import check_outputs_distinct

    check_outputs_distinct(
        {"--checkpoint": tmp_path / "m.safetensors", "--lr": tmp_path / "lr.tif", "--dem": None},
        {"--out": tmp_path / "sr.tif", "--geo": None},
    )


@pytest.mark.parametrize(
    ("inputs", "outputs", "match"),
    [
        ({"--checkpoint": "m.safetensors"}, {"--out": "m.safetensors"}, r"output --out \(.*m\.safetensors\) is one of the inputs: it would replace input --checkpoint"),
        ({"--checkpoint": ("m", "checkpoint")}, {"--out": "m.json"}, r"replace input the metadata sidecar of --checkpoint \(.*m\.json\)"),
        ({"--checkpoint": "m.safetensors"}, {"--out": "m.json"}, r"the metadata sidecar of --checkpoint"),
        ({"--regions": "r.geojson"}, {"--out": ("o.csv", "csv"), "--geo": "o.json"}, r"outputs --out and --geo would both write .*o\.json"),
        ({"--regions": "r.geojson"}, {"--out": "r.csv"}, None),
        ({"--regions": "d.shp"}, {"--out": "d.dbf"}, r"the \.dbf part of --regions"),
        ({"--hr": "hr.tif"}, {"--out": ("hr", "table")}, None),
        ({"--data": "t.csv"}, {"--out": ("t", "table")}, r"output the CSV table of --out \(.*t\.csv\) is one of the inputs"),
        ({"--regions": "r.geojson"}, {"--out": ("r.json", "csv")}, r"--out r\.json: its JSON sidecar would be the file itself"),
    ],
)
def test_outputs_that_replace_an_input_or_each_other_are_refused(tmp_path, monkeypatch, inputs, outputs, match):
    from deeplight.errors import ConfigError
    from deeplight.utils_io import check_outputs_distinct

    monkeypatch.chdir(tmp_path)
    if match is None:
        check_outputs_distinct(inputs, outputs)
    else:
        with pytest.raises(ConfigError, match=match):
            check_outputs_distinct(inputs, outputs)


def test_outputs_distinct_follows_symlinks_hard_links_and_relative_paths(tmp_path, monkeypatch):
    from deeplight.errors import ConfigError
    from deeplight.utils_io import check_outputs_distinct

    (tmp_path / "data").mkdir()
    source = tmp_path / "data" / "hr.tif"
    source.write_bytes(b"x")
    (tmp_path / "link.tif").symlink_to(source)
    os.link(source, tmp_path / "hard.tif")
    monkeypatch.chdir(tmp_path / "data")
    for output in (tmp_path / "link.tif", tmp_path / "hard.tif", "../data/./hr.tif", "hr.tif"):
        with pytest.raises(ConfigError, match="is one of the inputs"):
            check_outputs_distinct({"--hr": str(source)}, {"--out": output})


def test_implied_files_of_each_kind(tmp_path):
    from deeplight.utils_io import implied_files

    names = lambda path, kind=None: [p.name for p, _ in implied_files(tmp_path / path, kind)]
    assert names("m.safetensors")[:2] == ["m.safetensors", "m.json"]
    assert names("m", "checkpoint")[:3] == ["m", "m.safetensors", "m.json"]
    assert names("x.csv")[:2] == ["x.csv", "x.json"]
    assert names("t", "table")[:2] == ["t.csv", "t.md"]
    assert {"d.shp", "d.shx", "d.dbf", "d.prj"} <= set(names("d.shp"))
    assert "x.tif.sha256" in names("x.tif")
    with pytest.raises(ValueError, match="unknown file kind"):
        implied_files("x", "weird")
