"""`voicetune train --max-minutes N` with nothing else: the run lasts N minutes, is sized from the
measured step, and the voice it makes says things differently from the base (something on the
inference path trained)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from test_train_cli import tiny_base  # noqa: F401 - session fixture
from voicetune.cli import app

# The default discriminator (periods 2,3,5,7,11 + a scale disc, ~47 M parameters) makes a step of the
# tiny base ~7 s on 2 cores: the command exactly as users type it runs in the slow suite, and the
# default suite checks the same budget logic with a one-period discriminator and a short bootstrap.
# (early stop off here: with an eval every 1-2 steps of 19-29 it ended a CI run at step 14 of 19)
SMALL = ("vits:\n  disc_periods: [2]\n  segment_size: 4096\n  samples: 1\nearly_stop:\n  enabled: false\n",
         ["--bootstrap-steps", "20"], 0.4)
DEFAULT = (None, [], 1.5)


@pytest.mark.parametrize("setup", [SMALL, pytest.param(DEFAULT, marks=pytest.mark.slow)], ids=["small-disc", "default"])
def test_default_command_fills_the_budget_and_changes_the_voice(setup, tmp_path, monkeypatch, tiny_base, joe_dataset):  # noqa: F811
    from voicetune.synth import load_voice, say

    config, flags, budget = setup  # budget in minutes
    monkeypatch.setenv("VOICETUNE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    if config:
        (tmp_path / "cfg.yaml").write_text(config)
        flags = [*flags, "--config", str(tmp_path / "cfg.yaml")]
    res = CliRunner().invoke(app, ["train", "--dataset", str(joe_dataset), "--base", str(tiny_base), "-o", str(run),
                                   "--max-minutes", str(budget), *flags], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["epochs"] is None and "min budget" in cfg["derived"]["max_steps"]
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    start, end = events[0], events[-1]
    first = start["total_steps"]
    assert f"max_steps = {first} steps" in res.output and end["event"] == "end"  # the banner's length is the budget's
    # the run re-fits its length to its measured pace at evals (trainer/sizing.py refit): each change is
    # printed, and config.yaml holds the length the run ended with
    refits = [e for e in events if e["event"] == "refit"]
    for e in refits:
        assert f"run length: {e['previous']} -> {e['total_steps']} steps" in res.output.replace("\n", " "), e
    planned = refits[-1]["total_steps"] if refits else first
    assert cfg["max_steps"] == planned and ("re-fitted" in cfg["derived"]["max_steps"]) == bool(refits)
    trained = [e for e in events if e["event"] == "train"][-1]
    # the run used its budget: it ran (nearly) all planned steps, and about as long as asked
    # (early stop is on by default: with evals every 1-2 steps of a tiny run it may end the run sooner)
    if end["status"] != "early_stop":
        assert end["step"] >= 0.8 * planned, (end, planned)
        assert 0.5 * budget * 60 <= end["time"] - start["time"] <= 1.3 * budget * 60 + 15, (end["time"] - start["time"])
    assert end["time"] - start["time"] <= 1.3 * budget * 60 + 15
    assert trained["step"] >= 1 and end["step"] > 1
    # several evals, sized from the run's real length (not one, not one per tiny epoch)
    evals = [e for e in events if e["event"] == "eval"]
    # derived as total // N, N about 10 (fewer when the budget cannot hold them; trainer/sizing.py):
    # 2 for 24-29 steps, i.e. 12-14 evals
    every = cfg["eval_every"]
    n = int(cfg["derived"]["eval_every"].split("about ")[1].split()[0])
    assert every == max(1, first // n) and n <= 10  # sized from the first plan, kept by a refit
    expected = end["step"] // every  # one at each multiple of it, and at most one more when the run ends
    assert len(evals) >= 5 and expected <= len(evals) <= expected + 1, (len(evals), every, end["step"])

    # something on the inference path trained (compared through the biases and the weights that
    # are not weight-normed: those keys are the same in the base and the run's checkpoint)
    from safetensors.torch import load_file

    from voicetune.models.vits.import_piper import import_piper_onnx

    base = import_piper_onnx(tiny_base).model.state_dict()
    best = json.loads((run / "best.json").read_text())["path"]
    tuned = {k.removeprefix("gen."): v for k, v in load_file(run / best / "model.safetensors").items()}
    moved = {".".join(k.split(".")[:2]) if k.startswith("dec.") else k.split(".")[0] for k, v in base.items()
             if k in tuned and (tuned[k].float() - v.float()).abs().max() > 1e-4}
    # the flow and the decoder's resblocks learn; the upsamplers (the buzz's source) and the text
    # encoder (intelligibility) keep the base's weights (enc_q and the duration predictor's training
    # half differ from the ONNX import because the bootstrap re-learned them)
    assert {"flow", "dec.resblocks"} <= moved, moved
    assert not moved & {"enc_p", "dec.ups", "dec.conv_pre"}, moved
    if config is None:  # the real default on the tiny base: the voice says things differently
        text = "The quick brown fox jumps over the lazy dog."
        base_audio, _ = say(text, load_voice(tiny_base), noise_scale=0.0, noise_w=0.0)
        tuned_audio, _ = say(text, load_voice(run), noise_scale=0.0, noise_w=0.0)
        n = min(len(base_audio), len(tuned_audio))
        diff = np.abs(base_audio[:n] - tuned_audio[:n]).max()
        assert len(base_audio) != len(tuned_audio) or diff > 1e-3, diff
