"""`voicetune train` end to end on a tiny Piper voice: bootstrap, train, resume, runs, export, say."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from voicetune.cli import app

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def tiny_base(tiny_voice):
    """A tiny random VITS exported as a Piper voice (conftest.tiny_voice): an ONNX-only base."""
    return tiny_voice


def invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_train_resume_runs_export_say(tmp_path, monkeypatch, tiny_base, joe_dataset):
    monkeypatch.setenv("VOICETUNE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("vits:\n  disc_periods: [2]\n  prior_warmup_steps: 2\n  segment_size: 4096\n  samples: 1\n"
                   "early_stop:\n  patience: 3\nlog_every: 1\n")
    invoke("train", "--dataset", joe_dataset, "--base", tiny_base, "-o", run, "--config", cfg, "--max-steps", 4,
           "--eval-every", 2, "--batch-size", 4, "--bootstrap-steps", 20, "--select-by", "wer", "--quiet")
    info = json.loads((run / "vits.json").read_text())
    # a random tiny decoder barely reacts to its input, so its mel-L1 hardly moves; the duration
    # half must learn (Joe's real figures: bench/bootstrap.py and the slow Joe test)
    assert info["bootstrap"]["mel_l1_after"] <= info["bootstrap"]["mel_l1_before"] + 1e-3
    assert info["bootstrap"]["dur_nll_after"] < info["bootstrap"]["dur_nll_before"]
    assert info["import"]["absent"]["enc_q"] > 0
    # no vits.freeze given and a fresh discriminator: the decoder stays frozen (it would buzz at 86 Hz)
    assert info["options"]["freeze"] == ["enc_p", "dp", "dec"]
    assert (run / "config.yaml").exists() and "derived" in (run / "config.yaml").read_text()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000002", "step-000004"]
    # --select-by wer: each checkpoint was evaluated by listening and the best picked by it (a random
    # tiny model makes noise: no speaker embedding, so similarity/combined are undefined here)
    rows = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4] and all("wer" in r and "median_f0" in r for r in rows)
    best = json.loads((run / "best.json").read_text())
    assert best["metric"] == "wer" and best["mode"] == "min"
    assert best["value"] == min(r["wer"] for r in rows)

    invoke("train", "--resume", run, "--max-steps", 6, "--quiet")
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["event"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]

    out = invoke("runs", run)
    assert "step-000006" in out or "6" in out

    voice = tmp_path / "voice"
    invoke("export", run, "-o", voice, "--name", "tiny")
    card = (voice / "MODEL_CARD.md").read_text()
    assert "tiny.onnx" in card and "best by wer" in card
    # the evaluation table: every listened-to checkpoint, the chosen one starred, the real recordings last
    table = card.split("## Evaluation", 1)[1]
    assert "| 2 |" in table and "| 4 |" in table and "★" in table and "real recordings" in table
    report = (voice / "report.html").read_text()
    assert "data:image/png;base64," in report and "Evaluation by listening" in report and "Diagnosis" in report
    assert len(list((voice / "samples").rglob("*.wav"))) == 6

    wav = tmp_path / "hello.wav"
    invoke("say", "Hello there.", "--voice", voice / "tiny.onnx", "-o", wav)
    audio, sr = sf.read(wav)
    assert sr == 22050 and len(audio) > 2000 and np.isfinite(audio).all()


def test_train_refuses_bad_input(tmp_path, monkeypatch, tiny_base, joe_dataset):
    monkeypatch.setenv("VOICETUNE_CACHE", str(tmp_path / "cache"))
    res = CliRunner().invoke(app, ["train", "--dataset", str(tmp_path / "nope"), "--base", str(tiny_base),
                                   "-o", str(tmp_path / "r")])
    assert res.exit_code != 0 and "no such dataset folder" in str(res.exception)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("vits:\n  freeze: [decoder]\n")
    res = CliRunner().invoke(app, ["train", "--dataset", str(joe_dataset), "--base", str(tiny_base),
                                   "-o", str(tmp_path / "r2"), "--config", str(cfg)])
    assert "unknown group" in str(res.exception)
    cfg.write_text("scheduler:\n  name: step\n  milestone_steps: [900000]\nmax_steps: 10\n")
    res = CliRunner().invoke(app, ["train", "--dataset", str(joe_dataset), "--base", str(tiny_base),
                                   "-o", str(tmp_path / "r3"), "--config", str(cfg), "--bootstrap-steps", "1"])
    assert "900000" in str(res.exception)


@pytest.mark.slow
def test_joe_finetune_runs_resumes_early_stops_exports(tmp_path, monkeypatch, joe_dataset):
    """The real base: Joe from ONNX, bootstrapped, fine-tuned, resumed, stopped early, exported."""
    from piper import PiperVoice

    monkeypatch.setenv("VOICETUNE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    cfg = tmp_path / "cfg.yaml"
    # min_delta far above any gain: every eval after the first counts as "no improvement"
    cfg.write_text("vits:\n  disc_periods: [2, 3, 5]\n  samples: 1\nlog_every: 1\n"
                   "early_stop:\n  patience: 2\n  min_delta: 1000.0\n")
    from voicetune.models.vits.training import run_training

    run_training(dataset=joe_dataset, base="joe", output=run, config=cfg, resume=None,
                 overrides={"max_steps": 2, "eval_every": 1, "batch_size": 2}, bootstrap_steps=20,
                 bootstrap_sentences=12, show_progress=False, log=lambda *a: None)
    result = run_training(dataset=None, base=None, output=None, config=None, resume=run,
                          overrides={"max_steps": 10}, show_progress=False, log=lambda *a: None)
    assert result.status == "early_stop" and result.step == 3, result
    info = json.loads((run / "vits.json").read_text())
    assert info["bootstrap"]["mel_l1_after"] < 0.8 * info["bootstrap"]["mel_l1_before"]
    voice = tmp_path / "voice"
    invoke("export", run, "-o", voice, "--name", "joe-tuned", "--no-samples")
    piper = PiperVoice.load(str(voice / "joe-tuned.onnx"))
    audio = np.concatenate([c.audio_float_array for c in piper.synthesize("Hello there.")])
    assert len(audio) > 10000 and np.isfinite(audio).all()
