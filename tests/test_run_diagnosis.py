"""The after-run diagnosis on real runs made to show each problem: a toy regression trained by the
engine until it overfits, with an LR that diverges, with one that never moves, with a schedule cut
short before it fires, and a clean run that has nothing to report."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from train_helpers import RegressionBackend
from voicetune.cli import app
from voicetune.run_report import diagnosis, read_events, run_config
from voicetune.trainer.config import TrainConfig
from voicetune.trainer.diagnosis import diagnose
from voicetune.trainer.engine import fit

QUIET = {"early_stop": {"enabled": False}, "overfit": {"action": "warn"}, "log_every": 5, "device": "cpu",
         "samples_every": 10**6, "keep_top_k": 1}


def _run(tmp_path, name, backend, **cfg):
    run = tmp_path / name
    fit(backend, TrainConfig(**{**QUIET, **cfg}), run, show_progress=False)
    return run


def _findings(run):
    return diagnose(read_events(run), run_config(run))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diagnosis")
    return {
        # 8 noisy training points, no dropout: the net memorises the noise, the eval loss turns up
        "overfit": _run(tmp, "overfit", RegressionBackend(n_train=8, n_eval=32, noise=1.0, dropout=0.0, hidden=128),
                        epochs=400, batch_size=8, eval_every=20, optimizer={"lr": 1e-2}, scheduler={"name": "constant"}),
        # plain SGD at LR 30 without clipping: the loss blows up
        "diverge": _run(tmp, "diverge", RegressionBackend(), epochs=6, batch_size=8, eval_every=8, clip_norm=None,
                        optimizer={"name": "sgd", "lr": 30.0, "momentum": 0.9}, scheduler={"name": "constant"},
                        instability={"max_bad_steps": 1000}),
        "stall": _run(tmp, "stall", RegressionBackend(dropout=0.0), epochs=6, batch_size=8, eval_every=8,
                      optimizer={"lr": 1e-8}, scheduler={"name": "constant"}),
        # early stop after 2 flat evals ends the run at step 24 of 160, before the milestone at 50 %
        "schedule": _run(tmp, "schedule", RegressionBackend(eval_curve=[1.0]), epochs=20, batch_size=8,
                         eval_every=8, early_stop={"enabled": True, "patience": 2},
                         scheduler={"name": "step", "milestones": [0.5]}),
        "clean": _run(tmp, "clean", RegressionBackend(), epochs=6, batch_size=8, eval_every=8,
                      optimizer={"lr": 3e-3}, scheduler={"name": "constant"}),
    }


def _kinds(run):
    return {f.kind for f in _findings(run)}


def test_overfitting_run_names_the_step_to_stop_at(runs):
    found = [f for f in _findings(runs["overfit"]) if f.kind == "overfit"]
    assert len(found) == 1, _findings(runs["overfit"])
    evals = [(e["step"], e["loss"]["loss"]) for e in read_events(runs["overfit"]) if e["event"] == "eval"]
    best_step = min(evals, key=lambda sv: sv[1])[0]
    assert found[0].step == best_step < evals[-1][0]
    assert f"--max-steps {best_step}" in found[0].fix and "overfitting from step" in found[0].what
    assert _kinds(runs["overfit"]) <= {"overfit"}  # nothing else is wrong with it


def test_diverging_run_says_lower_the_lr(runs):
    found = _findings(runs["diverge"])
    assert {"unstable", "diverged"} & {f.kind for f in found}, found
    assert all("--lr 3" in f.fix for f in found if f.kind in ("unstable", "diverged"))  # a tenth of 30
    assert "overfit" not in _kinds(runs["diverge"]) and "stalled" not in _kinds(runs["diverge"])


def test_stalled_run_says_the_lr_is_too_low(runs):
    found = [f for f in _findings(runs["stall"]) if f.kind == "stalled"]
    assert found and "never moved" in found[0].what and "1e-08" in found[0].what and "--lr 1e-07" in found[0].fix
    assert _kinds(runs["stall"]) == {"stalled"}


def test_schedule_cut_short_before_its_milestone(runs):
    found = [f for f in _findings(runs["schedule"]) if f.kind == "schedule"]
    assert found and "never fired" in found[0].what and "100%" in found[0].what
    # Piper's per-epoch exponential decay barely moves in a short run by design: not a finding
    assert "schedule" not in {f.kind for f in diagnose(read_events(runs["clean"]), {"scheduler": {"name": "exponential"}})}


def test_clean_run_has_nothing_to_say_and_all_frozen_is_named(runs):
    assert _findings(runs["clean"]) == []
    assert diagnosis(read_events(runs["clean"]), None, run_config(runs["clean"])) == []
    frozen = [{"event": "start", "step": 0, "parameters": {"gen": {"trainable": 0, "total": 10}}}]
    assert [f.kind for f in diagnose(frozen)] == ["nothing_trained"]


def test_runs_command_ends_with_the_diagnosis(runs):
    res = CliRunner().invoke(app, ["runs", str(runs["overfit"])])
    assert res.exit_code == 0, res.output
    tail = res.output[res.output.index("Diagnosis"):]
    assert "overfitting from step" in tail and "Try:" in tail
    res = CliRunner().invoke(app, ["runs", str(runs["clean"]), "--json"])
    data = json.loads(res.output)
    assert data["diagnosis"] == [] and data["checkpoints"] and data["checkpoints"][0]["step"] > 0
