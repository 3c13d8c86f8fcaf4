"""What a new user meets first: help that names shell types and every default, one --device rule,
and a train banner that says how to watch the run."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from train_helpers import RegressionBackend
from voicetune.cli import app
from voicetune.devices import resolve
from voicetune.errors import VoicetuneError
from voicetune.trainer.config import TrainConfig
from voicetune.trainer.engine import fit

VERBS = [["train"], ["prepare"], ["say"], ["evaluate"], ["export"], ["runs"], ["dataset", "split"]]


def _help(args):
    res = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("args", VERBS, ids=" ".join)
def test_help_names_shell_types_not_python_annotations(args):
    out = _help(args)
    assert not re.search(r"<(str|int|float|bool|path|list\[\w+\])>", out), out
    assert re.search(r"\b(TEXT|PATH|INTEGER|FLOAT)\b", out)


def test_train_help_shows_every_default():
    out = " ".join(_help(["train"]).split())  # rich wraps long help lines
    d = TrainConfig.model_fields
    for flag, shown in (("--epochs", f"default: {d['epochs'].default}"), ("--batch-size", "default: the advisor's"),
                        ("--lr", "default: 2e-4"), ("--save-every", "default: at every eval"),
                        ("--seed", f"default: {d['seed'].default}"), ("--keep", f"default: {d['keep_top_k'].default}")):
        assert shown in out[out.index(f"│ {flag} "):][:400], flag
    assert "vits" in out and "mms" in out and "xtts" in out  # the summary names the three backends


@pytest.mark.parametrize("args", [["prepare"], ["say"], ["evaluate"]], ids=" ".join)
def test_every_verb_defaults_to_device_auto(args):
    out = " ".join(_help(args).split())
    assert re.search(r"--device TEXT Device for \w+: auto \| cpu \| cuda \| cuda:N .*default: auto", out), out


def test_device_rule():
    import torch

    assert resolve("auto") == resolve(None) == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve("CPU") == "cpu"
    with pytest.raises(VoicetuneError, match="--device gpu: choose auto | cpu"):
        resolve("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(VoicetuneError, match="this machine has 0 CUDA GPU"):
            resolve("cuda:1")


def test_banner_says_how_to_watch(tmp_path, capsys):
    from voicetune.trainer.ui import console

    run = tmp_path / "run"
    with console.capture() as cap:
        fit(RegressionBackend(), TrainConfig(epochs=1, batch_size=32, device="cpu"), run, show_progress=False)
    text = " ".join(cap.get().split())
    assert f"tensorboard --logdir {run / 'tb'}" in text and f"voicetune runs {run}" in text


def test_doctor_json_on_stdout():
    import json

    res = CliRunner().invoke(app, ["doctor", "--json"])
    checks = json.loads(res.stdout)
    assert {c["name"] for c in checks} >= {"disk", "memory"} and all({"ok", "detail"} <= set(c) for c in checks)
