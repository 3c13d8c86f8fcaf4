"""Every backend through the same doors (voicetune.backends): train 2 steps with checkpoints picked
by listening -> evaluate -> export in the backend's own format -> a model card and report.html
with the evaluation table -> say. Tiny random bases (they speak noise: the checks are that each
stage works and that the numbers the card shows are the ones the run measured)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from mms_helpers import make_dataset as make_mms_dataset
from mms_helpers import make_hf_folder
from voicetune import backends
from voicetune.cli import app
from xtts_helpers import tiny_base, xtts_dataset  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
SHORT = ["Good morning.", "The cat sat on the mat."]  # what each checkpoint is judged on (the default is 20)


def invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture
def short_evaluation(monkeypatch):
    import voicetune.evaluation.report as report

    monkeypatch.setattr(report, "load_sentences", lambda sentences=None: list(SHORT))


@pytest.fixture(scope="module")
def mms_case(tmp_path_factory):
    root = tmp_path_factory.mktemp("contract-mms")
    return make_hf_folder(root / "mms-tts-tiny"), make_mms_dataset(root / "data")


def _case(name, request, tmp_path):
    """(base, dataset, config YAML, how `say` is pointed at the result) for one backend."""
    if name == "vits":
        cfg = "vits:\n  disc_periods: [2]\n  segment_size: 1024\n  samples: 1\n  bootstrap:\n    enc_q_steps: 10\n" \
              "    sentences: 8\n"
        return request.getfixturevalue("tiny_voice"), request.getfixturevalue("joe_dataset"), cfg
    if name == "mms":
        base, dataset = request.getfixturevalue("mms_case")
        return base, dataset, "vits:\n  disc_periods: [2]\n  segment_size: 1024\n  samples: 1\n"
    return request.getfixturevalue("tiny_base"), request.getfixturevalue("xtts_dataset"), \
        "xtts:\n  freeze_layers: 1\n"


# xtts: ~110 s on 2 cores (coqui loads and generates for every evaluation), so in the slow suite;
# its train/export/say path is also in the default suite (tests/test_xtts_finetune.py)
@pytest.mark.parametrize("name", ["vits", "mms", pytest.param("xtts", marks=pytest.mark.slow)])
def test_train_evaluate_select_export_report_say(name, request, tmp_path, short_evaluation):
    base, dataset, cfg_text = _case(name, request, tmp_path)
    assert backends.for_base(str(base)).name == name
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(cfg_text + "log_every: 1\n")
    run = tmp_path / "run"
    invoke("train", "-d", dataset, "-b", base, "-o", run, "--config", cfg, "--max-steps", 2, "--save-every", 1,
           "--eval-every", 1, "--batch-size", 2, "--select-by", "wer", "--quiet")
    assert backends.for_run(run).name == name
    assert backends.for_run(run / "checkpoints" / "step-000001").name == name

    # select: each checkpoint was heard (eval.jsonl) and the best is the one with the lowest WER
    rows = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["sentences"] == len(SHORT) for r in rows)
    best = json.loads((run / "best.json").read_text())
    assert best["metric"] == "wer" and best["value"] == min(r["wer"] for r in rows)

    # evaluate: the same loader evaluates any checkpoint again, outside the run
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(SHORT) + "\n")
    out = invoke("evaluate", run / "checkpoints" / "step-000002", "-d", dataset, "--sentences", lines, "--json")
    again = json.loads(out)[0]
    assert again["sentences"] == len(SHORT) and again["wer"] is not None and again["rtf"] > 0

    # export in the backend's default format: the card and report carry the run's numbers
    voice = tmp_path / "voice"
    invoke("export", run, "-o", voice, "--no-samples")
    marker = json.loads((voice / "voicetune-voice.json").read_text())
    assert marker["format"] == backends.get(name).export_formats[0]
    card = (voice / "MODEL_CARD.md").read_text()
    table = card.split("## Evaluation", 1)[1]
    assert "| 1 |" in table and "| 2 |" in table and "★" in table
    report = (voice / "report.html").read_text()
    assert "Evaluation by listening" in report and "data:image/png;base64," in report

    # say, with what this backend speaks from: the exported voice (an MMS run speaks through its run)
    wav = tmp_path / "hello.wav"
    target = {"vits": voice / "voice.onnx", "mms": run, "xtts": voice}[name]
    invoke("say", "Hello there.", "--voice", target, "--seed", 1, "-o", wav)
    audio, sr = sf.read(wav)
    assert len(audio) > 256 and sr in (8000, 16000, 22050, 24000)  # a random tiny model speaks briefly


def test_a_format_or_flag_the_backend_does_not_take_is_refused(tmp_path, mms_case):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "xtts.json").write_text(json.dumps({"format_version": 1}))
    with pytest.raises(Exception, match="--format piper: a xtts run exports as xtts, xtts-fp16"):
        backends.for_export(run, "piper")
    base, dataset = mms_case
    res = CliRunner().invoke(app, ["train", "-d", str(dataset), "-b", str(base), "-o", str(tmp_path / "r"),
                                   "--bootstrap-steps", "5"])
    assert res.exit_code != 0 and str(res.exception).startswith("--bootstrap-steps: not used by the mms backend")
    assert not (tmp_path / "r").exists()
    assert backends.names() == ["xtts", "mms", "vits"]
    with pytest.raises(Exception, match="backend 'nope': unknown; choose from xtts, mms, vits"):
        backends.get("nope")


def test_every_backend_knows_its_own_run_files():
    for b in backends.all_backends():
        assert b.export_formats and b.train_flags and set(b.start_only) <= set(b.train_flags)
        assert Path(b.run_file).suffix == ".json"


def test_the_python_api_has_real_signatures():
    """`help(voicetune)` shows the options, not *args/**kwargs; the names survive importing the
    packages the stages live in (a subpackage named like a function would replace it)."""
    import inspect

    import voicetune
    import voicetune.evaluation.report  # noqa: F401
    import voicetune.exporter  # noqa: F401
    import voicetune.trainer.engine  # noqa: F401

    for name in ("prepare", "train", "evaluate", "export", "say"):
        fn = getattr(voicetune, name)
        assert inspect.isfunction(fn) and fn.__doc__, name
        kinds = {p.kind for p in inspect.signature(fn).parameters.values()}
        assert not kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}, name
    assert {"max_minutes", "select_by", "preset"} <= set(inspect.signature(voicetune.train).parameters)
