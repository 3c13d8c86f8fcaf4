"""The engine on real toy backends: loss goes down, accumulation, freezing, NaN, early stop,
overfitting, samples, time budget, in-process interrupt + exact resume."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest
import torch

from train_helpers import GanBackend, RegressionBackend, weights_digest
from voicetune.errors import VoicetuneError
from voicetune.trainer import checkpoints as ckpt
from voicetune.trainer.backend import FreezeRule
from voicetune.trainer.config import TrainConfig
from voicetune.trainer.engine import fit, resume


def _cfg(**kw) -> TrainConfig:
    base = {"epochs": 4, "batch_size": 8, "log_every": 1, "device": "cpu", "optimizer": {"lr": 3e-3}}
    return TrainConfig(**{**base, **kw})


def _events(run, kind=None):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if kind is None or r["event"] == kind]


def test_single_optimizer_loss_goes_down_and_run_folder_is_complete(tmp_path):
    run = tmp_path / "run"
    result = fit(RegressionBackend(), _cfg(epochs=6, eval_every=8), run, show_progress=False)
    assert result.status == "finished" and result.step == 48
    evals = [r["loss"]["loss"] for r in _events(run, "eval")]
    assert len(evals) == 6 and evals[-1] < 0.75 * evals[0]
    assert (run / "config.yaml").exists() and (run / "tb").is_dir()
    assert "run.total_steps" in (run / "config.yaml").read_text()
    sample_dir = run / "samples" / "step-000048"
    assert (sample_dir / "tone.wav").stat().st_size > 4000 and (sample_dir / "tone.pred.png").exists()
    best = json.loads((run / "best.json").read_text())
    assert best["value"] == pytest.approx(min(evals))
    assert len(ckpt.checkpoint_dirs(run)) <= 3 + 1  # top-3 + last
    norms = [r["grad_norm"]["main"] for r in _events(run, "train")]
    assert all(n > 0 for n in norms)


def test_gan_backend_two_optimizers(tmp_path):
    run = tmp_path / "run"
    backend = GanBackend()
    before = {n: weights_digest(m) for n, m in backend.modules().items()}
    result = fit(backend, _cfg(epochs=5, eval_every=8, optimizer={"lr": 5e-3}), run, show_progress=True)
    assert result.status == "finished"
    evals = [r["loss"]["loss"] for r in _events(run, "eval")]
    assert evals[-1] < 0.8 * evals[0]
    train = _events(run, "train")
    assert set(train[0]["grad_norm"]) == {"gen", "disc"} and set(train[0]["loss"]) == {"loss", "adv", "disc"}
    after = {n: weights_digest(m) for n, m in backend.modules().items()}
    assert before["gen"] != after["gen"] and before["disc"] != after["disc"]


def test_gradient_accumulation_matches_the_big_batch(tmp_path):
    # batch 4 × accumulation 2 must give the same updates as batch 8 (no dropout, same data order)
    a = RegressionBackend(dropout=0.0, lengths=False)
    b = RegressionBackend(dropout=0.0, lengths=False)
    fit(a, _cfg(epochs=2, batch_size=8, optimizer={"lr": 1e-2, "name": "sgd"}), tmp_path / "a", show_progress=False)
    fit(b, _cfg(epochs=2, batch_size=4, grad_accum=2, optimizer={"lr": 1e-2, "name": "sgd"}), tmp_path / "b",
        show_progress=False)
    for pa, pb in zip(a.net.parameters(), b.net.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)
    assert _events(tmp_path / "b", "end")[0]["step"] == 16


def test_freeze_rule_keeps_a_group_fixed_for_the_first_steps(tmp_path):
    backend = RegressionBackend(freeze=[FreezeRule("net.0", until_step=5)])
    first = backend.net[0].weight.detach().clone()
    last = backend.net[3].weight.detach().clone()
    fit(backend, _cfg(epochs=None, max_steps=5), tmp_path / "a", show_progress=False)
    start = _events(tmp_path / "a", "start")[0]
    assert start["parameters"]["net"] == {"trainable": 552 - 8 * 32 - 32, "total": 552}  # net.0 = 8×32 + 32
    assert torch.equal(backend.net[0].weight, first) and not torch.equal(backend.net[3].weight, last)
    backend2 = RegressionBackend(freeze=[FreezeRule("net.0", until_step=5)])
    fit(backend2, _cfg(epochs=None, max_steps=8), tmp_path / "b", show_progress=False)
    assert not torch.equal(backend2.net[0].weight, first)  # unfrozen from step 5 on


def test_nan_steps_are_skipped_reported_and_lower_the_lr(tmp_path):
    run = tmp_path / "run"
    backend = RegressionBackend(nan_steps=(3, 4, 5))
    result = fit(backend, _cfg(epochs=2, instability={"lower_lr_after": 3}), run, show_progress=False)
    assert result.status == "finished" and result.step == 16
    assert all(torch.isfinite(p).all() for p in backend.net.parameters())
    warnings = _events(run, "warning")
    skipped = [w["step"] for w in warnings if w["kind"] == "nonfinite"]
    assert skipped == [3, 4, 5]
    assert any(w["kind"] == "lr_lowered" for w in warnings)
    lrs = {r["step"]: r["lr"]["main"] for r in _events(run, "train")}
    assert lrs[6] == pytest.approx(0.5 * lrs[2], rel=1e-3)
    assert all(np.isfinite(r["loss"]["loss"]) for r in _events(run, "train"))


def test_too_many_nan_steps_stop_with_a_clear_message(tmp_path):
    backend = RegressionBackend(nan_steps=tuple(range(2, 40)))
    result = fit(backend, _cfg(epochs=4, instability={"max_bad_steps": 6}), tmp_path / "run", show_progress=False)
    assert result.status == "unstable" and result.step == 7
    assert "Lower the learning rate" in result.message
    assert ckpt.latest(tmp_path / "run") is not None


def test_early_stopping_on_a_rising_eval_curve_keeps_the_best(tmp_path):
    run = tmp_path / "run"
    curve = [1.0, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1]
    backend = RegressionBackend(n_eval=8, eval_curve=curve)
    cfg = _cfg(epochs=20, eval_every=2, early_stop={"patience": 3, "min_delta": 0.01}, overfit={"enabled": False})
    result = fit(backend, cfg, run, show_progress=False)
    assert result.status == "early_stop" and result.step == 10  # evals at 2,4 (best),6,8,10 -> stop
    assert "best 0.8 at step 4" in result.message
    best = json.loads((run / "best.json").read_text())
    assert best["step"] == 4 and (run / best["path"] / "model.safetensors").exists()


def test_overfitting_monitor_warns_or_stops(tmp_path):
    curve = [1.0, 0.7, 0.75, 0.8, 0.9, 1.0]  # eval rises from the 3rd eval while train keeps falling
    cfg = _cfg(epochs=10, eval_every=4, early_stop={"enabled": False}, overfit={"k_evals": 2})
    fit(RegressionBackend(n_eval=8, eval_curve=curve), cfg, tmp_path / "warn", show_progress=False)
    kinds = [w["kind"] for w in _events(tmp_path / "warn", "warning")]
    assert "overfit" in kinds
    cfg = _cfg(epochs=10, eval_every=4, early_stop={"enabled": False}, overfit={"k_evals": 2, "action": "stop", "gap_ratio": 100})
    result = fit(RegressionBackend(n_eval=8, eval_curve=curve), cfg, tmp_path / "stop", show_progress=False)
    assert result.status == "overfit" and result.step == 16
    assert json.loads((tmp_path / "stop" / "best.json").read_text())["step"] == 8


def test_time_budget_stops_cleanly_with_a_checkpoint(tmp_path):
    cfg = _cfg(epochs=100, max_minutes=0.05)  # 3 s: 60 steps of 0.05 s; at 1.2 s a busy machine once got to 5
    result = fit(RegressionBackend(step_sleep=0.05), cfg, tmp_path / "run", show_progress=False)
    assert result.status == "time_budget" and 5 < result.step < 100
    assert ckpt.latest(tmp_path / "run").name == f"step-{result.step:06d}"


def test_interrupt_then_resume_equals_an_uninterrupted_run(tmp_path):
    """SIGTERM in-process (the subprocess version is in test_train_process.py)."""
    cfg = lambda: _cfg(epochs=5, eval_every=4, early_stop={"enabled": False})  # noqa: E731
    full = RegressionBackend()
    fit(full, cfg(), tmp_path / "full", show_progress=False)

    class Interrupting(RegressionBackend):
        def train_step(self, batch, ctx):
            out = super().train_step(batch, ctx)
            if ctx.global_step == 13:  # during step 14
                os.kill(os.getpid(), signal.SIGTERM)
            return out

    first = Interrupting()
    r1 = fit(first, cfg(), tmp_path / "cut", show_progress=False)
    assert r1.status == "interrupted" and r1.step == 14
    second = RegressionBackend(init_seed=99)  # different init: everything must come from the checkpoint
    r2 = resume(second, tmp_path / "cut", show_progress=False)
    assert r2.status == "finished" and r2.step == 40
    assert weights_digest(second.net) == weights_digest(full.net)
    curve = lambda run: [(r["step"], r["loss"]) for r in _events(run, "train")]  # noqa: E731
    assert curve(tmp_path / "cut") == curve(tmp_path / "full")


def test_new_run_refuses_a_folder_with_checkpoints(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text('{"event": "train", "step": 99}\n')  # a start that died
    fit(RegressionBackend(), _cfg(epochs=1), tmp_path / "run", show_progress=False)
    assert 99 not in [r["step"] for r in _events(tmp_path / "run")]
    with pytest.raises(VoicetuneError, match="--resume"):
        fit(RegressionBackend(), _cfg(epochs=1), tmp_path / "run", show_progress=False)
    with pytest.raises(VoicetuneError, match="fp16 needs a CUDA GPU"):
        fit(RegressionBackend(), _cfg(epochs=1, precision="fp16"), tmp_path / "x", show_progress=False)


def test_bf16_autocast_on_cpu_trains(tmp_path):
    result = fit(RegressionBackend(), _cfg(epochs=1, precision="bf16"), tmp_path / "run", show_progress=False)
    assert result.status == "finished"
    assert np.isfinite(_events(tmp_path / "run", "eval")[-1]["loss"]["loss"])


def test_gradient_checkpointing_hook_and_describe(tmp_path, capsys):
    class Checkpointed(RegressionBackend):
        enabled = False

        def enable_gradient_checkpointing(self, modules):
            Checkpointed.enabled = True

        def describe(self):
            return {"note": "toy backend line"}

    fit(Checkpointed(), _cfg(epochs=1, gradient_checkpointing=True), tmp_path / "run", show_progress=False)
    assert Checkpointed.enabled and "toy backend line" in capsys.readouterr().out


@pytest.mark.slow
def test_torch_compile_opt_in_trains_and_saves_plain_keys(tmp_path):
    backend = RegressionBackend()
    result = fit(backend, _cfg(epochs=2, compile=True), tmp_path / "run", show_progress=False)
    assert result.status == "finished"
    from safetensors.torch import load_file

    keys = load_file(str(ckpt.latest(tmp_path / "run") / "model.safetensors"))
    assert all(k.startswith("net.") and "_orig_mod" not in k for k in keys)


def test_checkpoint_hook_scores_select_the_best(tmp_path):
    run = tmp_path / "run"
    scores = {4: 0.70, 8: 0.90, 12: 0.80, 16: 0.75}  # e.g. speaker similarity, peaking at step 8
    seen = []

    def judge(path, step):
        seen.append((path.name, (path / "model.safetensors").exists()))
        return {"similarity": scores[step]}

    cfg = _cfg(epochs=2, eval_every=4, select_metric="similarity", select_mode="max", keep_top_k=1)
    fit(RegressionBackend(), cfg, run, show_progress=False, on_checkpoint=judge)
    assert seen == [(f"step-{s:06d}", True) for s in (4, 8, 12, 16)]
    assert json.loads((run / "best.json").read_text())["step"] == 8
    assert [p.name for p in ckpt.checkpoint_dirs(run)] == ["step-000008", "step-000016"]  # best + last
    rows = [r for r in ckpt.list_checkpoints(run)]
    assert rows[0]["eval"]["similarity"] == 0.9 and rows[0]["best"]


def test_resume_with_a_longer_run_and_a_new_budget(tmp_path):
    run = tmp_path / "run"
    fit(RegressionBackend(), _cfg(epochs=2, early_stop={"enabled": False}), run, show_progress=False)
    result = resume(RegressionBackend(), run, overrides={"epochs": 3}, show_progress=False)
    assert result.status == "finished" and result.step == 24
    assert "changed on resume at step 16" in (run / "config.yaml").read_text()
    assert [r["step"] for r in _events(run, "train")][-1] == 24


def test_a_budget_alone_sizes_the_run_from_the_measured_step_time(tmp_path):
    """--max-minutes without epochs/max_steps: the engine times its own step, sizes the run (and the
    schedule, the eval interval) from it, and the probe leaves no trace in the training itself."""
    budget = 0.1  # minutes
    backend = RegressionBackend(step_sleep=0.02)
    result = fit(backend, _cfg(epochs=None, max_minutes=budget, scheduler={"name": "constant"}),
                 tmp_path / "budget", show_progress=False)
    text = (tmp_path / "budget" / "config.yaml").read_text()
    import yaml

    saved = yaml.safe_load(text)
    steps = saved["max_steps"]
    assert "s per optimizer step (measured)" in saved["derived"]["max_steps"]  # kept through a refit
    assert saved["derived"]["run.length_from"] == "max_minutes"
    # ~0.02 s per step of sleep: 6 s of budget minus ~10 evals/checkpoints (2 s each) leaves no room;
    # the plan must still fit at least one step, and not more than the sleep alone allows
    assert 1 <= steps <= budget * 60 / 0.02
    planned = _events(tmp_path / "budget", "start")[0]["total_steps"]  # the probe's plan (a refit may move it)
    assert saved["eval_every"] == max(1, planned // 10)
    assert result.status in ("finished", "time_budget")
    # the same run stopped at the same step without a probe trains the identical weights: the probe's
    # steps were undone (weights, optimizer state, every RNG); constant LR, so the planned length
    # does not enter the comparison
    same = RegressionBackend(step_sleep=0.02)
    fit(same, _cfg(epochs=None, max_steps=result.step, eval_every=saved["eval_every"],
                   scheduler={"name": "constant"}), tmp_path / "explicit", show_progress=False)
    assert result.step >= 1 and weights_digest(same.net) == weights_digest(backend.net)


class PaceChange(RegressionBackend):
    """Sleeps ``timed`` seconds in its first train steps (the engine's step-time probe) and ``after``
    seconds in every later one: a machine busier, or idler, while the probe timed it than after."""

    def __init__(self, timed: float, after: float, **kw):
        super().__init__(**kw)
        self.timed, self.after, self.calls = timed, after, 0

    def train_step(self, batch, ctx):
        from voicetune.trainer import probe

        self.calls += 1
        time.sleep(self.timed if self.calls <= probe.PROBE_STEPS else self.after)
        return super().train_step(batch, ctx)


def _budget_run(tmp_path, backend, budget: float, eval_every: int = 5, on_checkpoint=None):
    run = tmp_path / "run"
    t0 = time.monotonic()
    result = fit(backend, _cfg(epochs=None, max_minutes=budget, eval_every=eval_every, scheduler={"name": "constant"},
                               early_stop={"enabled": False}), run, show_progress=False, on_checkpoint=on_checkpoint)
    import yaml

    planned = _events(run, "start")[0]["total_steps"]
    return result, planned, _events(run, "refit"), yaml.safe_load((run / "config.yaml").read_text()), \
        time.monotonic() - t0


def test_a_budget_run_faster_than_its_probe_is_lengthened_to_fill_the_budget(tmp_path):
    budget = 0.2  # minutes (REFIT_MARGIN of it, 0.36 s, is what a hiccup of the machine may take)
    result, planned, refits, saved, took = _budget_run(tmp_path, PaceChange(timed=0.25, after=0.01), budget)
    # the probe saw 0.25 s per step and planned ~40 steps of the 12 s; the steps then take ~0.01 s
    assert planned <= 12 / 0.25 and refits and refits[0]["previous"] == planned
    assert result.status == "finished" and result.step >= 3 * planned
    assert took >= 0.6 * budget * 60  # the budget is used, not left two-thirds idle
    assert saved["max_steps"] == result.step and "re-fitted at step" in saved["derived"]["max_steps"]


def test_a_budget_run_slower_than_its_probe_is_shortened_and_still_ends_evaluated(tmp_path):
    budget = 0.1
    result, planned, refits, saved, _took = _budget_run(tmp_path, PaceChange(timed=0.01, after=0.12), budget)
    assert refits and result.step < planned / 2
    # it ends as a finished run whose last step was evaluated, not cut by the budget between evals
    assert result.status == "finished"
    assert _events(tmp_path / "run", "eval")[-1]["step"] == result.step == saved["max_steps"]


def test_a_refit_waits_for_as_many_steps_as_the_probe_timed(tmp_path):
    from voicetune.trainer import probe

    # an eval after every step: a refit from the pace of the first step alone would swing the length
    _result, _planned, refits, _saved, _took = _budget_run(tmp_path, PaceChange(timed=0.25, after=0.01), 0.1,
                                                           eval_every=1)
    assert refits and min(r["step"] for r in refits) == probe.PROBE_STEPS


def test_a_slow_first_eval_is_kept_out_of_the_step_pace(tmp_path, monkeypatch):
    from voicetune.trainer import probe

    monkeypatch.setattr(probe, "LISTEN_SECONDS", 0.05)  # the probe's guess for one listening
    calls = []

    def listen(_path, step):  # the first listening loads its models: 3 s, later ones 0.05 s
        calls.append(step)
        time.sleep(3.0 if len(calls) == 1 else 0.05)
        return {"score": float(step)}

    budget = 0.25  # minutes
    result, _planned, refits, _saved, took = _budget_run(tmp_path, RegressionBackend(step_sleep=0.05), budget,
                                                         on_checkpoint=listen)
    # the pace is the training step's (~0.05 s), not the first eval's 3 s spread over the steps before it
    assert refits and all(r["seconds_per_step"] < 0.15 for r in refits), refits
    # nor are 3 s foreseen for every eval (the probe's own eval, which may pay a first import, caps it)
    assert all(r["seconds_per_eval"] < 2.5 for r in refits), refits
    assert result.status == "finished" and took >= 0.8 * budget * 60


def test_the_evals_still_to_come_are_counted_with_the_run_end():
    from voicetune.trainer.sizing import remaining_evals, steps_that_fit

    assert remaining_evals(10, 10, 5) == 2 and remaining_evals(10, 12, 5) == 3 and remaining_evals(10, 0, 5) == 0
    # 100 s left at 1 s per step and 10 s per eval every 10 steps: 50 steps bring 5 evals (100 s)
    assert steps_that_fit(100.0, 0, 1.0, 10.0, 10) == 50
    assert steps_that_fit(100.0, 0, 1.0, 0.0, 10) == 100 and steps_that_fit(-1.0, 0, 1.0, 10.0, 10) == 0
    assert steps_that_fit(5.0, 0, 1.0, 10.0, 10) == 0  # not even one step with its closing eval


def test_only_a_length_free_schedule_is_refitted():
    from voicetune.trainer.config import SchedulerConfig
    from voicetune.trainer.sizing import length_free

    assert length_free(SchedulerConfig(name="exponential")) and length_free(SchedulerConfig(name="constant"))
    assert length_free(SchedulerConfig(name="step", milestone_steps=[10], warmup_steps=5))
    assert not length_free(SchedulerConfig(name="cosine_restarts"))
    assert not length_free(SchedulerConfig(name="step"))  # milestones at fractions of the run
    assert not length_free(SchedulerConfig(name="exponential", warmup_fraction=0.05))


def test_a_budget_that_fits_no_step_is_refused(tmp_path):
    with pytest.raises(VoicetuneError, match="not one step fits"):
        fit(RegressionBackend(step_sleep=0.5), _cfg(epochs=None, max_minutes=0.001), tmp_path / "r",
            show_progress=False)


def test_a_short_budget_holds_fewer_evals_not_fewer_steps():
    from voicetune.trainer import probe

    # Joe on one busy core: 16 s a step, 74 s an eval + checkpoint, 123 s of timing, 15 minutes
    p = probe.plan(15, 16.09, 70.0, 4.0, listening=False, spent=123.0)
    assert p.evals == 3 and p.steps == (900 - 3 * 74 - 123) // 16.09  # ten evals would leave 2 steps
    assert "3 evals/checkpoints (74 s each)" in p.explain
    cheap = probe.plan(15, 1.0, 1.0, 0.5, listening=False)
    assert cheap.evals == probe.EVALS_PER_RUN and cheap.steps == 900 - 15


def test_dry_run_measures_and_writes_nothing(tmp_path):
    run = tmp_path / "run"
    result = fit(RegressionBackend(), _cfg(epochs=3, eval_every=8), run, show_progress=False, dry_run=True)
    assert result.status == "dry_run" and result.step == 0 and result.checkpoint is None
    assert result.message.startswith("24 steps × ") and "min on this machine" in result.message
    assert not run.exists()


def test_a_refit_prices_the_last_eval_at_the_slowest_one_since_the_first(monkeypatch):
    """refit on a fixed clock: 20-minute budget, 600 s spent (60 s of probe), 30 steps done in a loop
    of 540 s of which evals took 90 (the first, loading models), 40, 40 and 80 s. Pace (540 - 250) /
    30 = 9.67 s; later evals cost their mean, 53.3 s; the budget less REFIT_MARGIN leaves 564 s, of
    which the run's last eval may take 80 - 53.3 s more than the mean: 537.3 s hold 33 more steps
    (4 evals: steps 40, 50, 60 and the end), where 564 s, every eval at the mean, would hold 36."""
    from types import SimpleNamespace

    from voicetune.trainer import sizing
    from voicetune.trainer.config import TrainConfig

    cfg = TrainConfig(epochs=None, max_minutes=20, batch_size=1, max_steps=60, scheduler={"name": "constant"})
    cfg.derive("max_steps", 60, "probe")
    monkeypatch.setattr(sizing.time, "monotonic", lambda: 1600.0)
    run = SimpleNamespace(cfg=cfg, step=30, loop_step0=0, budget_sized=True, start=1000.0, loop_started=1060.0,
                          eval_blocks=[90.0, 40.0, 40.0, 80.0], timing=(9.0, 30.0, 1.0), on_checkpoint=print,
                          eval_every=10, world=1, total=60, train_ds=list(range(1000)), main=False)
    sizing.refit(run)
    assert run.total == 63 and cfg.max_steps == 63, run.total
    assert "re-fitted at step 30 from 60" in cfg.derived["max_steps"]
    # the same 250 s of evals, the slowest since the first 60 s: 557.3 s hold 35 more steps
    run.eval_blocks, run.total, cfg.max_steps = [90.0, 60.0, 50.0, 50.0], 60, 60
    sizing.refit(run)
    assert run.total == 65, run.total


def test_a_plan_that_overruns_the_budget_is_shortened_however_little(monkeypatch):
    """At 0.1 s per step a 20-minute run is ~11,500 steps: the refit's hysteresis (REFIT_MIN_CHANGE,
    5 % = ~575 steps) is wider than its margin (REFIT_MARGIN, 36 s = 360 steps), so a plan 100 steps
    past the whole budget used to be kept and cut by the budget before its last eval (the 12-second
    toy run of the 'faster than its probe' test above ended time_budget so in 2 of 4 runs of this
    file). Such a plan is shortened; one inside the budget is left alone."""
    from types import SimpleNamespace

    from voicetune.trainer import sizing
    from voicetune.trainer.config import TrainConfig

    monkeypatch.setattr(sizing.time, "monotonic", lambda: 1003.04)
    cfg = TrainConfig(epochs=None, max_minutes=20, batch_size=1, max_steps=100, scheduler={"name": "constant"})

    def refit(total: int) -> int:
        cfg.max_steps = total
        run = SimpleNamespace(cfg=cfg, step=30, loop_step0=0, budget_sized=True, start=1000.0, loop_started=1000.0,
                              eval_blocks=[0.01] * 4, timing=(0.1, 0.01, 0.0), on_checkpoint=None, eval_every=10,
                              world=1, total=total, train_ds=list(range(100)), main=False)
        sizing.refit(run)
        return run.total

    pace, left = 3.0 / 30, 1200 - 3.04  # 30 steps in 3.04 s, 0.04 s of it evals
    fits = 30 + sizing.steps_that_fit(left - 36, 30, pace, 0.01, 10)
    whole = 30 + sizing.steps_that_fit(left, 30, pace, 0.01, 10)
    assert whole - fits > 300 and 0.05 * whole > whole + 100 - fits  # the case the hysteresis hid
    assert refit(whole + 100) == fits
    assert refit(fits + 200) == fits + 200  # inside the budget and inside the hysteresis: kept
