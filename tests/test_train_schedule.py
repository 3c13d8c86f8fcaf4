"""Optimizers and LR schedules: sized from the real run, and the LR really changes."""

from __future__ import annotations

import json
import math

import pytest
import torch

from train_helpers import RegressionBackend
from voicetune.errors import VoicetuneError
from voicetune.trainer.config import OptimizerConfig, SchedulerConfig, TrainConfig
from voicetune.trainer.engine import fit
from voicetune.trainer.schedule import LRSchedule, apply_lr, build_optimizer, run_length


def test_run_length_counts_real_optimizer_steps():
    # 100 items / batch 8 = 13 batches; accumulation 4 -> 4 steps (the last window has 1 batch)
    length = run_length(100, 8, 4, epochs=10, max_steps=None)
    assert (length.steps_per_epoch, length.total_steps) == (4, 40)
    # two processes: 13 batches padded to 14 -> 7 per process -> 4 windows of 2
    assert run_length(100, 8, 2, epochs=3, max_steps=None, world_size=2).total_steps == 12
    assert run_length(100, 8, 1, epochs=10, max_steps=50).total_steps == 50  # max_steps is shorter
    assert run_length(100, 8, 1, epochs=2, max_steps=500).total_steps == 26  # epochs are shorter
    with pytest.raises(VoicetuneError, match="empty"):
        run_length(0, 8, 1, 1, None)


def test_exponential_per_epoch_is_the_vits_decay():
    length = run_length(40, 8, 1, epochs=20, max_steps=None)  # 5 steps per epoch
    s = LRSchedule(SchedulerConfig(name="exponential", gamma=0.999875), length)
    assert s.factor(0) == s.factor(4) == 1.0
    assert s.factor(5) == pytest.approx(0.999875)
    assert s.factor(99) == pytest.approx(0.999875**19)
    per_step = LRSchedule(SchedulerConfig(name="exponential", gamma=0.9, gamma_per="step"), length)
    assert per_step.factor(10) == pytest.approx(0.9**10)


def test_warmup_then_cosine_restarts_given_as_a_count():
    length = run_length(80, 8, 1, epochs=10, max_steps=None)  # 100 steps
    cfg = SchedulerConfig(name="cosine_restarts", restarts=2, warmup_steps=10, warmup_start_factor=0.0, min_lr_ratio=0.1)
    s = LRSchedule(cfg, length)
    assert [start for start, _ in s.cycles] == [0, 30, 60]  # 90 post-warmup steps in 3 equal cycles
    assert s.factor(0) == 0.0 and s.factor(5) == pytest.approx(0.5)  # linear warmup
    assert s.factor(10) == pytest.approx(1.0)  # cycle 1 starts at the peak
    assert s.factor(25) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 15 / 30)))
    assert s.factor(39) < 0.11 and s.factor(40) == pytest.approx(1.0)  # restart
    assert s.factor(70) == pytest.approx(1.0) and s.factor(99) < 0.11
    with pytest.raises(VoicetuneError, match="restarts"):
        LRSchedule(SchedulerConfig(name="cosine_restarts", restarts=200), length)


def test_step_decay_milestones_are_fractions_of_this_run():
    length = run_length(80, 8, 2, epochs=8, max_steps=None)  # 5 steps/epoch, 40 steps
    s = LRSchedule(SchedulerConfig(name="step", milestones=[0.5, 0.75], decay=0.1), length)
    assert s.milestones == [20, 30]
    assert s.factor(19) == 1.0 and s.factor(20) == pytest.approx(0.1) and s.factor(30) == pytest.approx(0.01)


def test_absolute_milestone_beyond_the_run_is_an_error_that_says_so():
    length = run_length(80, 8, 1, epochs=5, max_steps=None)  # 50 steps
    cfg = SchedulerConfig(name="step", milestone_steps=[900_000, 2_700_000, 5_400_000])  # coqui recipe's
    with pytest.raises(VoicetuneError, match=r"beyond this run's last optimizer step 49.*never"):
        LRSchedule(cfg, length)
    assert LRSchedule(SchedulerConfig(name="step", milestone_steps=[10, 49]), length).factor(49) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="fractions"):
        SchedulerConfig(milestones=[900_000])


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd", "rmsprop"])
def test_every_optimizer_steps_and_takes_the_scheduled_lr(name):
    p = torch.nn.Parameter(torch.ones(3))
    opt = build_optimizer(OptimizerConfig(name=name, lr=0.1), [{"params": [p], "lr_mult": 0.5}])
    assert opt.param_groups[0]["base_lr"] == pytest.approx(0.05)
    assert apply_lr(opt, 0.2) == pytest.approx(0.01)
    (p**2).sum().backward()
    opt.step()
    assert not torch.equal(p.detach(), torch.ones(3))


@pytest.mark.parametrize(("scheduler", "expect"), [
    ({"name": "step", "milestones": [0.5], "decay": 0.1}, lambda s: 1e-2 if s <= 8 else 1e-3),
    ({"name": "exponential", "gamma": 0.5}, lambda s: 1e-2 * 0.5 ** ((s - 1) // 4)),
    ({"name": "constant", "warmup_steps": 4, "warmup_start_factor": 0.0}, lambda s: 1e-2 * min(1.0, (s - 1) / 4)),
])
def test_lr_logged_by_a_real_run_follows_the_schedule(tmp_path, scheduler, expect):
    cfg = TrainConfig(epochs=4, batch_size=8, log_every=1, device="cpu", optimizer={"lr": 1e-2},
                      scheduler=scheduler, early_stop={"enabled": False})
    fit(RegressionBackend(n_train=32), cfg, tmp_path / "run", show_progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    lrs = {r["step"]: r["lr"]["main"] for r in rows if r["event"] == "train"}
    assert sorted(lrs) == list(range(1, 17))
    for step, lr in lrs.items():  # the LR used for step s is the schedule at s - 1
        assert lr == pytest.approx(expect(step)), step
    assert len(set(lrs.values())) > 1
