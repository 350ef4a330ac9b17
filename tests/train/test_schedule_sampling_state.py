"""Warm-up + cosine schedule, step-addressed sampling, modality dropout, training-state files."""

from __future__ import annotations


import pytest
import torch

from deeplight.errors import CheckpointError
from deeplight.train.sampling import StepBatchSampler, modality_dropout
from deeplight.train.schedule import build_scheduler, warmup_cosine_factor
from deeplight.train.state import load_training_state, save_training_state


def test_warmup_then_cosine():
    f = [warmup_cosine_factor(s, 4, 20, 0.1) for s in range(21)]
    assert f[0] == pytest.approx(1 / 5) and f[3] == pytest.approx(4 / 5)
    assert f[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[4:], f[5:]))
    assert f[20] == pytest.approx(0.1)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(opt, 4, 20, 0.1)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)
    for _ in range(4):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0)


def test_ranks_partition_the_single_process_global_batch():
    data = list(range(40))
    single = list(StepBatchSampler(data, 8, 0, 1, seed=5, start_step=0, total_steps=12))
    ranks = [list(StepBatchSampler(data, 8, r, 2, seed=5, start_step=0, total_steps=12)) for r in range(2)]
    for step in range(12):
        assert sorted(single[step]) == sorted(ranks[0][step] + ranks[1][step])
    # Resuming at step 7 yields exactly the remaining batches.
    assert list(StepBatchSampler(data, 8, 0, 1, seed=5, start_step=7, total_steps=12)) == single[7:]
    # Epoch boundary (5 batches per epoch): a new permutation, every sample once per epoch.
    assert sorted(sum(single[:5], [])) == data and single[5] != single[0]


def test_sampler_rejects_bad_batch_sizes():
    from deeplight.errors import ConfigError

    with pytest.raises(ConfigError, match="divisible by the number of processes"):
        StepBatchSampler(list(range(10)), 3, 0, 2, 0, 0, 1)
    with pytest.raises(ConfigError, match="fewer than data.batch_size"):
        StepBatchSampler(list(range(3)), 8, 0, 1, 0, 0, 1)


def test_modality_dropout_is_deterministic_and_rank_consistent():
    b = 8
    batch = {
        "dmo": torch.ones(b, 7, 4, 4), "dem": torch.ones(b, 1, 4, 4), "present": torch.ones(b, 4),
        "lr": torch.ones(b, 1, 1, 1),
    }
    out = modality_dropout(batch, step=3, seed=1, probabilities={"dmo": 0.5, "dem": 0.5}, rank=0, world_size=1)
    again = modality_dropout(batch, step=3, seed=1, probabilities={"dmo": 0.5, "dem": 0.5}, rank=0, world_size=1)
    assert torch.equal(out["present"], again["present"])
    assert torch.equal(batch["present"], torch.ones(b, 4))  # input untouched
    dropped = out["present"][:, 1] == 0
    assert 0 < int(dropped.sum()) < b
    assert torch.all(out["dmo"][dropped] == 0) and torch.all(out["dmo"][~dropped] == 1)
    assert torch.all(out["present"][:, [0, 3]] == 1)
    halves = [
        modality_dropout({k: v[r::2] for k, v in batch.items()}, 3, 1, {"dmo": 0.5, "dem": 0.5}, r, 2)
        for r in range(2)
    ]
    for r in range(2):
        assert torch.equal(halves[r]["present"], out["present"][r::2])


def test_state_round_trip_and_corruption(tmp_path):
    path = tmp_path / "state.pt"
    save_training_state(path, {"step": 3, "w": torch.arange(4.0), "nested": {"x": [1, 2.5]}})
    state = load_training_state(path)
    assert state["step"] == 3 and torch.equal(state["w"], torch.arange(4.0)) and state["nested"]["x"] == [1, 2.5]
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_training_state(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_training_state(tmp_path / "missing.pt")


class _Payload:
    """Any class instance: weights_only loading must refuse to rebuild it."""


def test_state_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"

    torch.save({"format": 1, "obj": _Payload()}, path)
    with pytest.raises(CheckpointError, match="corrupt or not a DeepLight training state"):
        load_training_state(path)
