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
