"""The Train tab's monitor text and the Estimate's parsing, from what the trainer writes: events in
metrics.jsonl's format (voicetune.trainer.logs) and `--dry-run`'s print (engine.dry_run_result)."""

from __future__ import annotations

import pytest

from voicetune.errors import VoicetuneError
from voicetune.trainer.config import TrainConfig, config_text
from voicetune.trainer.engine import DRY_RUN_CONFIG, DRY_RUN_ESTIMATE
from voicetune.ui import monitor
from voicetune.ui.runs import parse_dry_run

EVENTS = [
    {"event": "start", "step": 0, "total_steps": 40},
    {"event": "train", "step": 1, "loss": {"loss": 3.0}, "lr": {"gen": 2e-4, "disc": 1e-4},
     "grad_norm": {"gen": 12.0, "disc": 0.5}},
    {"event": "warning", "step": 2, "kind": "nonfinite",
     "message": "step 2: the loss or gradient was NaN/inf; the update was skipped"},
    {"event": "train", "step": 2, "loss": {"loss": 2.5}, "lr": {"gen": 1.9e-4, "disc": 0.9e-4},
     "grad_norm": {"gen": 9.0, "disc": 0.4}},
    {"event": "warning", "step": 2, "kind": "spike", "message": "loss spike at step 2"},
    {"event": "end", "step": 2, "status": "interrupted", "message": "stopped by SIGTERM after step 2"},
    {"event": "resume", "step": 2, "total_steps": 40},
    {"event": "warning", "step": 30, "kind": "overfit", "message": "eval loss rose 3 evals in a row"},
    {"event": "end", "step": 30, "status": "overfit", "message": "eval loss rose 3 evals in a row"},
]


def test_event_lines_in_plain_words():
    assert monitor.event_lines(EVENTS) == [
        "step 2 · NaN/inf: step 2: the loss or gradient was NaN/inf; the update was skipped",
        "step 2 · loss spike: loss spike at step 2",
        "step 2 · the run ended: stopped by Stop (resumable) (stopped by SIGTERM after step 2)",
        "step 2 · resumed",
        "step 30 · overfitting: eval loss rose 3 evals in a row",
        "step 30 · the run ended: stopped: overfitting (eval loss rose 3 evals in a row)",
    ]
    assert monitor.series(EVENTS, "lr") == {"gen": [(1, 2e-4), (2, 1.9e-4)], "disc": [(1, 1e-4), (2, 0.9e-4)]}
    assert monitor.series(EVENTS, "grad_norm")["gen"] == [(1, 12.0), (2, 9.0)]
    fig = monitor.series_figure(EVENTS, "lr", "learning rate", True)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["disc", "gen"]
    assert fig.axes[0].get_yscale() == "log"


def test_parse_dry_run_lists_derived_settings():
    cfg = TrainConfig(max_steps=8)
    cfg.derive("batch_size", 4, "batch 4 from 3 clips")
    cfg.derive("scheduler.warmup_fraction", 0.05, "5 % warmup")
    cfg.derived["advice.1"] = "only 0.4 min of training audio"
    printed = (f"note: something first\n{DRY_RUN_CONFIG}\n{config_text(cfg)}"
               f"{DRY_RUN_ESTIMATE} 8 steps × 2.2 s ≈ 0.3 min on this machine; nothing was written\n")
    rows, estimate = parse_dry_run(printed)
    assert estimate == "8 steps × 2.2 s ≈ 0.3 min on this machine"
    assert rows == [("batch_size", "4", "batch 4 from 3 clips"), ("scheduler.warmup_fraction", "0.05", "5 % warmup"),
                    ("advice", "–", "only 0.4 min of training audio")]
    with pytest.raises(VoicetuneError, match="^--batch-size 0 is refused$"):
        parse_dry_run("error: --batch-size 0 is refused\n")
    with pytest.raises(VoicetuneError, match="printed no estimate: Killed"):
        parse_dry_run("loading\nKilled\n")
