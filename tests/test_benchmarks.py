"""The benchmark tables' bookkeeping: which machine gave a row, and the CPU-time budget of a run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


PROCESS_VARIABLES = ("OMP_WAIT_POLICY", "GDAL_CACHEMAX")
"""What importing a benchmark sets, as the CLI does (deeplight.runtime)."""


@pytest.fixture(scope="module")
def bench_infer():
    # undone afterwards, so that the processes later tests start inherit the environment they would have had
    saved = {name: os.environ.get(name) for name in PROCESS_VARIABLES}
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_infer

        yield bench_infer
    finally:
        sys.path.remove(str(BENCHMARKS))
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_cpu_description_names_cores_and_model(bench_infer):
    text = bench_infer.cpu_description()
    assert text.startswith(f"{os.cpu_count()}-core ")
    assert len(text) > len(f"{os.cpu_count()}-core ")


def test_core_seconds_row_gives_the_floor_the_cores_allow(bench_infer, monkeypatch):
    monkeypatch.setattr(bench_infer, "usable_cores", lambda: 2)
    row = bench_infer.core_seconds_row("dmo+dem", 2, cpu_s=60.0, wall_s=40.0, computed=80, forward_s=0.25,
                                       model_only_s=16.0)
    assert row["value"] == 60.0 and row["unit"] == "core-seconds"
    setting = row["setting"]
    assert "1.50 of 2 cores busy" in setting
    assert "40.0 core-s (80 tiles x 0.250 s x 2 thread(s))" in setting  # the model's own work
    assert "everything else" in setting and ": 20.0 core-s" in setting
    assert "at least 30.0 s" in setting and "at most 0.53x the model-only rate" in setting


def test_tables_say_which_machine_gave_each_row(bench_infer, monkeypatch, tmp_path):
    monkeypatch.setattr(bench_infer, "RESULTS", tmp_path)
    common = dict(value=1, unit="s", setting="x", model="m", run_utc="2026-12-03 15:00", load_1min="1.0",
                  seconds=1)
    rows = [
        dict(part="e2e", measure="now", machine="2-core Test CPU (AVX2)", **common),
        dict(part="dask", measure="an earlier run", **common),  # a row kept from a CSV without the column
    ]
    text = bench_infer.write_tables(rows, ["machine: test"])
    lines = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "| 2-core Test CPU (AVX2) |" in lines["now"]
    assert "| not recorded |" in lines["an earlier run"]
    header = (tmp_path / "infer.csv").read_text().splitlines()[1]
    assert "machine" in header.split(",")
