"""The Train tab's bases (voicetune.ui.bases): every backend's base is offered, described and
started with exactly the flags `voicetune train` takes for it; uploads land whole in bases/; and an
XTTS run started from the tab trains and then speaks on the Listen tab as its export does."""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest
import soundfile as sf

from mms_helpers import make_hf_folder
from voicetune.errors import VoicetuneError
from voicetune.ui import bases, runs
from voicetune.ui.workspace import OutsideWorkspace, Workspace
from xtts_helpers import copy_dataset, tiny_base, xtts_dataset  # noqa: F401 - fixtures


@pytest.fixture
def ws(tmp_path, tiny_voice, tiny_base):  # noqa: F811
    ws = Workspace.open(tmp_path / "ws")
    (ws.root / "bases" / "piper").mkdir(parents=True)
    for f in (tiny_voice, tiny_voice.with_suffix(".onnx.json")):
        shutil.copy(f, ws.root / "bases" / "piper" / f.name)
    make_hf_folder(ws.root / "bases" / "mms-tiny")
    shutil.copytree(tiny_base, ws.root / "bases" / "xtts-tiny")
    (ws.dataset).mkdir()
    (ws.dataset / "dataset.json").write_text("{}")
    return ws


def test_every_backend_base_is_listed_described_and_given_its_own_flags(ws, tmp_path):
    outside = tmp_path / "elsewhere"
    make_hf_folder(outside)
    (ws.root / "bases" / "linked").symlink_to(outside)  # a symlink out of the workspace is never offered
    found = dict((value, label) for label, value in bases.find_bases(ws))
    assert found == {"joe": "joe · vits · Piper en_US joe medium (built in)",
                     "bases/mms-tiny": "bases/mms-tiny · mms", "bases/piper/tiny.onnx": "bases/piper/tiny.onnx · vits",
                     "bases/xtts-tiny": "bases/xtts-tiny · xtts"}

    line, takes = bases.describe(ws, "bases/piper/tiny.onnx")
    assert line.startswith("**vits** backend: a Piper ONNX voice") and "--bootstrap-steps" in takes
    line, takes = bases.describe(ws, "bases/xtts-tiny")
    assert line.startswith("**xtts** backend") and set(takes) == {"--preset", "--select-by"}
    line, takes = bases.describe(ws, "bases/mms-tiny")
    assert "--skip-unknown-chars" in takes and "--bootstrap-steps" not in takes and "--preset" not in takes
    # each option's text is the CLI's own --help line
    assert {o.flag for o in bases.options()} >= {"--preset", "--freeze", "--skip-unknown-chars"}
    assert bases.flag_help("--preset").startswith("XTTS: small-data")
    assert dict((o.flag, o.choices) for o in bases.options())["--preset"] == ("small-data",)


def test_start_arguments_follow_the_backend(ws):
    xtts = runs._start_args(ws, runs.TrainSettings(base="bases/xtts-tiny", max_steps=2,
                                                   flags={"--preset": "small-data", "--select-by": None}), ws.runs / "r")
    assert xtts[xtts.index("--base") + 1] == str(ws.root / "bases" / "xtts-tiny")
    assert xtts[-2:] == ["--preset", "small-data"] and "--select-by" not in xtts
    # another backend's flag is refused with the CLI's message, before any process starts
    with pytest.raises(VoicetuneError, match="--freeze: not used by the xtts backend"):
        runs._start_args(ws, runs.TrainSettings(base="bases/xtts-tiny", flags={"--freeze": ["dec"]}), ws.runs / "r")
    mms = runs._start_args(ws, runs.TrainSettings(base="bases/mms-tiny", flags={
        "--freeze": ["enc_p", "dp"], "--skip-unknown-chars": True}), ws.runs / "r")
    assert mms[mms.index("--base") + 4:] == ["--freeze", "enc_p", "--freeze", "dp", "--skip-unknown-chars"]
    # a hub id goes to the CLI as it is (it downloads); a workspace path that is not there is refused
    hub = runs._start_args(ws, runs.TrainSettings(base="facebook/mms-tts-spa"), ws.runs / "r")
    assert hub[hub.index("--base") + 1] == "facebook/mms-tts-spa"
    with pytest.raises(VoicetuneError, match="bases/missing.onnx: not found in the workspace"):
        runs._start_args(ws, runs.TrainSettings(base="bases/missing.onnx"), ws.runs / "r")
    with pytest.raises(OutsideWorkspace):
        runs._start_args(ws, runs.TrainSettings(base="../bases/piper/tiny.onnx"), ws.runs / "r")
    assert bases.split_list("enc_p, dp  dec") == ["enc_p", "dp", "dec"]


def test_uploaded_bases_land_whole_or_not_at_all(ws, tmp_path, tiny_voice):
    up = tmp_path / "up"
    up.mkdir()
    onnx, config = shutil.copy(tiny_voice, up / "me.onnx"), shutil.copy(tiny_voice.with_suffix(".onnx.json"),
                                                                        up / "me.onnx.json")
    with pytest.raises(VoicetuneError, match="needs its me.onnx.json"):
        bases.add_base(ws, [(str(onnx), "me.onnx")], None)
    value, msg = bases.add_base(ws, [(str(onnx), "me.onnx"), (str(config), "me.onnx.json")], None)
    assert value == "bases/me/me.onnx" and msg == "added bases/me/me.onnx (2 file(s); backend vits)"
    assert (ws.root / value).read_bytes() == onnx.read_bytes() and onnx.is_file()  # copied, never moved
    with pytest.raises(VoicetuneError, match="bases/me exists already"):
        bases.add_base(ws, [(str(onnx), "me.onnx"), (str(config), "me.onnx.json")], None)
    junk = up / "notes.txt"
    junk.write_text("not a model")
    with pytest.raises(VoicetuneError, match="not a base"):
        bases.add_base(ws, [(str(junk), "notes.txt")], "junk")
    assert not (ws.root / "bases" / "junk").exists() and not list((ws.root / "bases").glob(".*"))
    # an XTTS folder's files, uploaded flat, make an XTTS base
    files = [(str(p), p.name) for p in (ws.root / "bases" / "xtts-tiny").iterdir() if p.is_file()]
    value, msg = bases.add_base(ws, files, "my xtts")
    assert value == "bases/my_xtts" and msg.endswith("backend xtts)") and bases.describe(ws, value)[1] == ("--preset",
                                                                                                         "--select-by")


def test_an_xtts_run_from_the_tab_trains_and_speaks_on_listen(ws, tmp_path, xtts_dataset):  # noqa: F811
    """Start (the CLI in a subprocess, as the browser's Start) on the XTTS base, then Speak with its
    checkpoint: the audio equals what the exported voice folder says with the same seed."""
    from voicetune.api import export, say
    from voicetune.ui import listen

    shutil.rmtree(ws.dataset)
    copy_dataset(xtts_dataset, ws.dataset)
    (ws.root / "cfg.yaml").write_text("xtts:\n  freeze_layers: 1\nlog_every: 1\n")
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # the trainer subprocess inherits it
    try:
        name = runs.start_run(ws, runs.TrainSettings(base="bases/xtts-tiny", config="cfg.yaml", max_steps=2,
                                                     batch_size=4, eval_every=2))
    finally:
        os.environ.pop("OMP_NUM_THREADS") if old is None else os.environ.update(OMP_NUM_THREADS=old)
    deadline = time.time() + 240
    while runs.active_run(ws) is not None and time.time() < deadline:
        time.sleep(0.5)
    st = runs.run_state(ws, name)
    assert st.status == "finished", (st, runs.log_file(ws, name).read_text()[-2000:])
    folder = runs.run_dir(ws, name)
    assert json.loads((folder / "xtts.json").read_text())["base"] == str(ws.root / "bases" / "xtts-tiny")
    step = listen.default_step(ws, name)
    assert step == "step-000002" and listen.samples(ws, name, step) == []  # XTTS speaks none while training

    wav = listen.speak(ws, name, step, "Hello there.", seed=3)
    audio, sr = sf.read(wav)
    voice = tmp_path / "voice"
    export(folder, voice, samples=False, evaluate=False)
    ref, ref_sr = say("Hello there.", voice, seed=3)
    assert sr == ref_sr == 24000 and len(audio) == len(ref) > 2000
    assert np.corrcoef(audio, ref.astype(np.float64))[0, 1] > 0.999
    # `voicetune say` speaks with the run itself too (its best checkpoint, through the same folder)
    from typer.testing import CliRunner

    from voicetune.cli import app

    res = CliRunner().invoke(app, ["say", "Hello there.", "--voice", str(folder), "--seed", "3", "-o",
                                   str(tmp_path / "cli.wav")])
    assert res.exit_code == 0, res.output
    assert np.corrcoef(sf.read(tmp_path / "cli.wav")[0], ref.astype(np.float64))[0, 1] > 0.999
    # the A/B speaks both through the same path; the cached voice is reused, not rebuilt
    a, b = listen.speak_ab(ws, name, step, step, "Hello there.")
    assert np.array_equal(sf.read(a)[0], sf.read(b)[0])
    with pytest.raises(VoicetuneError, match="length_scale: not used by an XTTS voice"):
        say("Hi.", folder, length_scale=1.2)


def test_an_mms_run_from_the_tab_takes_its_flags_and_speaks(ws, tmp_path):
    """An MMS base with an MMS-only flag (--skip-unknown-chars), started as the browser's Start does; the
    run records the flag, and Listen speaks its checkpoint as `voicetune say` does."""
    from typer.testing import CliRunner

    from mms_helpers import make_dataset
    from voicetune.cli import app
    from voicetune.ui import listen

    shutil.rmtree(ws.dataset)
    make_dataset(ws.dataset)
    (ws.root / "cfg.yaml").write_text("vits:\n  disc_periods: [2]\n  segment_size: 1024\n  samples: 1\nlog_every: 1\n")
    name = runs.start_run(ws, runs.TrainSettings(base="bases/mms-tiny", config="cfg.yaml", max_steps=2, batch_size=2,
                                                 eval_every=2, flags={"--skip-unknown-chars": True}))
    deadline = time.time() + 240
    while runs.active_run(ws) is not None and time.time() < deadline:
        time.sleep(0.5)
    log = runs.log_file(ws, name).read_text()
    assert runs.run_state(ws, name).status == "finished", log[-2000:]
    info = json.loads((runs.run_dir(ws, name) / "vits.json").read_text())
    assert info["mms_options"]["skip_unknown_chars"] is True  # the flag reached the trainer
    step = listen.default_step(ws, name)
    wav = listen.speak(ws, name, step, "Hola amigo.", seed=3)
    res = CliRunner().invoke(app, ["say", "Hola amigo.", "--voice", str(runs.run_dir(ws, name) / "checkpoints" / step),
                                   "--seed", "3", "-o", str(tmp_path / "cli.wav")])
    assert res.exit_code == 0, res.output
    ours, sr = sf.read(wav)
    theirs, cli_sr = sf.read(tmp_path / "cli.wav")
    assert sr == cli_sr == 8000 and len(ours) > 400 and np.array_equal(ours, theirs)
    # Listen: the base beside the checkpoint, scored by the same evaluation as `voicetune evaluate BASE`
    from voicetune.api import evaluate

    texts = ["Hola amigo.", "Buenos dias."]
    assert listen.base_score(ws, name) is None and "| base |" not in listen.checkpoint_summary(ws, name, step)
    row = listen.score_base(ws, name, sentences=texts)
    direct = evaluate(ws.root / "bases" / "mms-tiny", ws.dataset, sentences=texts)
    assert (row["wer"], row["comb_db"], row["audio_seconds"]) == (direct.wer, direct.comb_db, direct.audio_seconds)
    summary = listen.checkpoint_summary(ws, name, step)
    # the tiny random base says 0.2 s of noise: too short for a similarity ("–"), a WER of 100 %
    assert f"| base | – | {row['wer']:.1%} |" in summary and "| real recordings |" in summary
    assert listen.real_recording(ws).startswith(str(ws.dataset / "wavs"))
    # the A/B's "base" speaks with the run's base voice
    assert sf.read(listen.speak(ws, name, listen.BASE, "Hola amigo.", seed=3))[1] == 8000
    # a run from a hub id records the id as its base and the download as base_folder: the A/B's base
    # speaks with the local folder, never sends the id to a loader
    run_file = runs.run_dir(ws, name) / "vits.json"
    info["base"] = "facebook/mms-tts-tiny"
    run_file.write_text(json.dumps(info))
    assert listen.base_voice(ws, name) == info["base_folder"] == str(ws.root / "bases" / "mms-tiny")
    assert sf.read(listen.speak(ws, name, listen.BASE, "Hola amigo.", seed=3))[1] == 8000
