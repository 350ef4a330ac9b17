"""The trainer on tiny code-made data: loss lowers, resume is bit-exact, bad runs fail clearly."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from deeplight.errors import CheckpointError
from deeplight.models.checkpoint import load_checkpoint
from deeplight.train.config import config_from_dict
from deeplight.train.distributed import DistContext
from deeplight.train.trainer import Trainer
from tests.train.tiny_data import TinySamples

CPU = DistContext()


def tiny_config(out_dir, **train) -> object:
    values = {
        "model": {"name": "deeplightsr", "kwargs": {"preset": "tiny"}},
        "data": {"batch_size": 4, "drop_dmo": 0.3, "drop_dem": 0.3},
        "optim": {"lr": 3e-3, "warmup_steps": 3},
        "train": {"steps": 30, "val_every": 10, "log_every": 5, "ckpt_every": 10, "seed": 0,
                  "out_dir": str(out_dir), "device": "cpu", **train},
    }
    return config_from_dict(values)


@pytest.fixture(scope="module")
def tiny_sets():
    return TinySamples(16, offset=0), TinySamples(8, offset=1000)


@pytest.mark.slow
def test_training_lowers_validation_loss_and_writes_run_folder(tmp_path, tiny_sets):
    train_set, val_set = tiny_sets
    result = Trainer(tiny_config(tmp_path / "run"), train_set, val_set, ctx=CPU, show_progress=False).fit()
    val = [row for row in result.history if row["kind"] == "val"]
    assert [row["step"] for row in val] == [10, 20, 30]
    assert val[-1]["val_loss"] < val[0]["val_loss"]
    assert result.steps == 30 and math.isfinite(result.best_psnr)
    run = tmp_path / "run"
    for name in ("best.safetensors", "best.json", "last.safetensors", "last.json", "state.pt", "log.csv", "config.yaml"):
        assert (run / name).is_file(), name
    assert any((run / "tb").iterdir())
    with open(run / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows if r["kind"] == "train"] == [5, 10, 15, 20, 25, 30]
    model, meta = load_checkpoint(run / "best")
    assert meta["model"] == "deeplightsr" and meta["model_kwargs"] == {"preset": "tiny"}
    assert meta["metrics"]["val_psnr"] == pytest.approx(result.best_psnr)
    assert meta["simulated_lr"] is True and meta["config"]["train"]["steps"] == 30
    # Running again on a finished run does nothing and keeps the result.
    again = Trainer(tiny_config(run), train_set, val_set, ctx=CPU, show_progress=False).fit()
    assert again.steps == 30 and again.history == []


class _Interrupt(Exception):
    pass


class _KillAt(torch.utils.data.Dataset):
    """Wraps a dataset and raises after ``limit`` item reads (a kill in the middle of a run)."""

    def __init__(self, base, limit):
        self.base, self.limit, self.reads = base, limit, 0

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        self.reads += 1
        if self.reads > self.limit:
            raise _Interrupt("killed")
        return self.base[i]


def test_resume_after_kill_gives_bit_exact_weights(tmp_path, tiny_sets):
    train_set, val_set = tiny_sets
    kwargs = {"steps": 12, "val_every": 4, "ckpt_every": 4}
    straight = Trainer(tiny_config(tmp_path / "a", **kwargs), train_set, val_set, ctx=CPU, show_progress=False).fit()

    killed = _KillAt(train_set, limit=4 * 9 + 2)  # dies while loading step 10's batch (state saved at 8)
    with pytest.raises(_Interrupt):
        Trainer(tiny_config(tmp_path / "b", **kwargs), killed, val_set, ctx=CPU, show_progress=False).fit()
    assert not [p for p in (tmp_path / "b").iterdir() if p.name.startswith(".")], "no temp files left"
    resumed = Trainer(tiny_config(tmp_path / "b", **kwargs), train_set, val_set, ctx=CPU, show_progress=False).fit()
    assert [r["step"] for r in resumed.history if r["kind"] == "train"] == [10, 12]
    for name, tensor in straight.final_weights.items():
        assert torch.equal(tensor, resumed.final_weights[name]), name
    with open(tmp_path / "b" / "log.csv", newline="") as fh:
        steps = [int(r["step"]) for r in csv.DictReader(fh) if r["kind"] == "train"]
    assert steps == [5, 10, 12]  # the rows of the killed tail were dropped, none duplicated


def test_run_folder_of_another_model_is_refused(tmp_path, tiny_sets):
    train_set, val_set = tiny_sets
    Trainer(tiny_config(tmp_path, steps=2, val_every=2, ckpt_every=2), train_set, val_set, ctx=CPU,
            show_progress=False).fit()
    other = config_from_dict({
        "model": {"name": "deeplightsr", "kwargs": {"preset": "tiny", "use_dem": False}},
        "train": {"steps": 4, "out_dir": str(tmp_path), "device": "cpu"},
    })
    with pytest.raises(CheckpointError, match="holds a run of model 'deeplightsr'.*choose another train.out_dir"):
        Trainer(other, train_set, val_set, ctx=CPU, show_progress=False).fit()


def test_corrupt_state_is_a_clear_error(tmp_path, tiny_sets):
    train_set, val_set = tiny_sets
    cfg = tiny_config(tmp_path, steps=2, val_every=2, ckpt_every=2)
    Trainer(cfg, train_set, val_set, ctx=CPU, show_progress=False).fit()
    state = tmp_path / "state.pt"
    state.write_bytes(state.read_bytes()[: len(state.read_bytes()) // 2])
    cfg4 = tiny_config(tmp_path, steps=4, val_every=2, ckpt_every=2)
    with pytest.raises(CheckpointError, match="state.pt is corrupt"):
        Trainer(cfg4, train_set, val_set, ctx=CPU, show_progress=False).fit()
    weights = tmp_path / "best.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "best")


def test_batch_larger_than_dataset_is_a_clear_error(tmp_path):
    from deeplight.errors import ConfigError

    cfg = tiny_config(tmp_path, steps=2)
    with pytest.raises(ConfigError, match="fewer than data.batch_size"):
        Trainer(cfg, TinySamples(2), TinySamples(2, offset=50), ctx=CPU, show_progress=False).fit()
    assert not (tmp_path / "state.pt").exists() and not (tmp_path / "last.safetensors").exists()


def test_export_best_copies_a_verified_checkpoint(tmp_path, tiny_sets):
    from deeplight.train.trainer import export_best

    train_set, val_set = tiny_sets
    with pytest.raises(CheckpointError, match="holds no checkpoint yet"):
        export_best(tmp_path / "empty", tmp_path / "x")
    Trainer(tiny_config(tmp_path / "run", steps=2, val_every=2, ckpt_every=2), train_set, val_set, ctx=CPU,
            show_progress=False).fit()
    path = export_best(tmp_path / "run", tmp_path / "exported")
    model, meta = load_checkpoint(path)
    assert meta["step"] == 2 and meta["model"] == "deeplightsr"


def test_init_from_starts_a_fresh_run_from_a_checkpoints_weights(tmp_path, tiny_sets):
    train_set, val_set = tiny_sets
    first = Trainer(tiny_config(tmp_path / "a", steps=10), train_set, val_set, ctx=CPU, show_progress=False)
    first.fit()
    source, _ = load_checkpoint(tmp_path / "a" / "last")
    tuned = Trainer(
        tiny_config(tmp_path / "b", steps=5, init_from=str(tmp_path / "a" / "last")),
        train_set, val_set, ctx=CPU, show_progress=False,
    )
    tuned._resume()  # no state in b: the weights come from init_from
    for name, value in source.state_dict().items():
        torch.testing.assert_close(tuned.model.state_dict()[name], value)
    assert tuned.step == 0
    other = tiny_config(tmp_path / "c", init_from=str(tmp_path / "a" / "last"))
    other.model.name = "edsr"
    other.model.kwargs = {}
    with pytest.raises(CheckpointError, match="not 'edsr'"):
        Trainer(other, train_set, val_set, ctx=CPU, show_progress=False)._resume()
