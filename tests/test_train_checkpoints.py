"""Checkpoints: weights_only-loadable state, tied weights, retention, best.json, listing, `runs`."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from train_helpers import RegressionBackend
from voicetune.errors import VoicetuneError
from voicetune.trainer import checkpoints as ckpt
from voicetune.trainer.config import TrainConfig, load_config, save_config
from voicetune.trainer.engine import fit


def _fake(run, step, loss):
    tmp = ckpt.begin(run, step)
    ckpt.write_rng(tmp, 0)
    net = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(net.parameters())
    metrics = {"train/loss": 1.0, **({"eval/loss": loss} if loss is not None else {})}
    return ckpt.finish(tmp, {"net": net}, {"main": opt}, None, {"step": step, "epoch": 0, "metrics": metrics})


def test_state_loads_with_weights_only_and_restores_everything(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=8, device="cpu", log_every=1)
    backend = RegressionBackend()
    fit(backend, cfg, tmp_path / "run", show_progress=False)
    last = ckpt.latest(tmp_path / "run")
    state = torch.load(last / "state.pt", map_location="cpu", weights_only=True)  # must not raise
    assert state["optimizers"]["main"]["state"]  # Adam moments are there
    rng = torch.load(last / "rng-rank0.pt", map_location="cpu", weights_only=True)
    assert {"torch", "numpy", "python"} <= set(rng)
    other = RegressionBackend(init_seed=5)
    opt = torch.optim.AdamW(other.net.parameters())
    opt.param_groups[0]["base_lr"] = 0.0
    trainer = ckpt.load(last, other.modules(), {"main": opt}, None)
    assert trainer["step"] == 16
    for a, b in zip(backend.net.parameters(), other.net.parameters(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(opt.state[next(iter(other.net.parameters()))]["exp_avg"],
                       state["optimizers"]["main"]["state"][0]["exp_avg"])


def test_tied_weights_are_saved_once_and_restored_tied(tmp_path):
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(5, 3)
            self.head = torch.nn.Linear(3, 5, bias=False)
            self.head.weight = self.emb.weight

    a, b = Tied(), Tied()
    ckpt.save_weights({"m": a}, tmp_path / "w.safetensors")
    ckpt.load_weights({"m": b}, tmp_path / "w.safetensors")
    assert torch.equal(b.head.weight, a.emb.weight) and b.head.weight is b.emb.weight
    with pytest.raises(VoicetuneError, match="do not fit"):
        ckpt.load_weights({"m": torch.nn.Linear(2, 2)}, tmp_path / "w.safetensors")


def test_retention_keeps_top_k_plus_last_and_writes_best(tmp_path):
    run = tmp_path / "run"
    for step, loss in [(10, 0.9), (20, 0.5), (30, 0.7), (40, 0.4), (50, 0.8), (60, None)]:
        _fake(run, step, loss)
    best = ckpt.retain(run, keep_top_k=2, save_total_limit=None, metric="eval/loss", mode="min")
    assert [p.name for p in ckpt.checkpoint_dirs(run)] == ["step-000020", "step-000040", "step-000060"]
    assert best["step"] == 40 and json.loads((run / "best.json").read_text())["path"] == "checkpoints/step-000040"
    assert ckpt.best_checkpoint(run).name == "step-000040"
    ckpt.retain(run, keep_top_k=2, save_total_limit=2, metric="eval/loss", mode="min")
    assert [p.name for p in ckpt.checkpoint_dirs(run)] == ["step-000040", "step-000060"]  # best + last


def test_keep_all_with_total_limit_drops_worst_ranked_but_never_best_or_last(tmp_path):
    run = tmp_path / "run"
    for step, loss in [(1, 0.1), (2, 0.5), (3, 0.6), (4, 0.7), (5, 0.8)]:
        _fake(run, step, loss)
    ckpt.retain(run, keep_top_k=0, save_total_limit=3, metric="eval/loss", mode="min")
    assert [p.name for p in ckpt.checkpoint_dirs(run)] == ["step-000001", "step-000002", "step-000005"]


def test_eval_jsonl_metrics_select_and_list(tmp_path):
    run = tmp_path / "run"
    for step, loss in [(10, 0.5), (20, 0.4), (30, 0.3)]:
        _fake(run, step, loss)
    rows = [{"checkpoint": "checkpoints/step-000010", "similarity": 0.81, "wer": 0.05},
            {"step": 20, "similarity": 0.86, "wer": 0.04}, {"step": 30, "similarity": 0.84, "wer": 0.03}]
    (run / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{torn")
    best = ckpt.retain(run, keep_top_k=3, save_total_limit=None, metric="similarity", mode="max")
    assert best["step"] == 20
    listed = ckpt.list_checkpoints(run)
    assert [r["step"] for r in listed] == [10, 20, 30] and [r["best"] for r in listed] == [False, True, False]
    assert listed[0]["eval"]["similarity"] == 0.81 and listed[2]["metrics"]["eval/loss"] == 0.3

    from voicetune.cli import app  # `runs` is registered from voicetune.commands.runs

    out = CliRunner().invoke(app, ["runs", str(run)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "similarity" in out.output and "0.86" in out.output and "best" in out.output
    with pytest.raises(VoicetuneError, match="no such run folder"):
        ckpt.list_checkpoints(tmp_path / "nope")


def test_partial_temp_folders_are_ignored_and_cleaned(tmp_path):
    run = tmp_path / "run"
    _fake(run, 5, 0.5)
    torn = run / "checkpoints" / ".tmp-step-000010"
    torn.mkdir()
    (torn / "model.safetensors").write_bytes(b"half")
    half_named = run / "checkpoints" / "step-000011"  # no trainer.json: incomplete
    half_named.mkdir()
    assert [p.name for p in ckpt.checkpoint_dirs(run)] == ["step-000005"]
    assert ckpt.remove_partial(run) == [torn] and not torn.exists()


def test_unknown_checkpoint_version_is_refused(tmp_path):
    path = _fake(tmp_path / "run", 1, 0.1)
    data = json.loads((path / "trainer.json").read_text())
    (path / "trainer.json").write_text(json.dumps({**data, "format_version": 99}))
    with pytest.raises(VoicetuneError, match="format_version 99 is unknown"):
        ckpt.read_trainer(path)


def test_config_yaml_round_trip_with_derived_reasons(tmp_path):
    cfg = TrainConfig(epochs=3)
    cfg.derive("scheduler.gamma", 0.99, "advisor: 12 min of audio -> faster decay")
    save_config(cfg, tmp_path / "config.yaml")
    text = (tmp_path / "config.yaml").read_text()
    assert "advisor: 12 min of audio" in text
    back = load_config(tmp_path / "config.yaml")
    assert back.scheduler.gamma == 0.99 and back.derived == cfg.derived
    assert load_config(tmp_path / "config.yaml", {"optimizer.lr": 1e-5}).optimizer.lr == 1e-5
    (tmp_path / "bad.yaml").write_text("optimiser: {lr: 1}\n")
    with pytest.raises(VoicetuneError, match="optimiser"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(VoicetuneError, match="disc"):
        TrainConfig(optimizers={"disc": {"lr": -1}}).optimizer_for("disc")
