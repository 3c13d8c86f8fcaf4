"""`voicetune train` end to end on a tiny Piper voice: bootstrap, train, resume, runs, export, say."""

from __future__ import annotations

import json
from pathlib import Path

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


def table_steps(out: str) -> list[int]:
    """The step column of a `voicetune runs` table."""
    rows = [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") > 2]
    return sorted(int(r) for r in rows if r.isdigit())


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
    # --select-by (listening to every checkpoint) is the backend contract test's (test_backends_contract.py);
    # here checkpoints are picked by eval loss, and export listens to the one it takes
    invoke("train", "--dataset", joe_dataset, "--base", tiny_base, "-o", run, "--config", cfg, "--max-steps", 4,
           "--eval-every", 2, "--batch-size", 4, "--bootstrap-steps", 20, "--quiet")
    info = json.loads((run / "vits.json").read_text())
    # a random tiny decoder barely reacts to its input, so its mel-L1 moves little (0.068 -> 0.065
    # here), but without learning it would not move at all: the held-out set and the decoder are
    # fixed. The duration half must learn too (Joe's real figures: bench/bootstrap.py, the slow test)
    assert info["bootstrap"]["mel_l1_after"] < 0.99 * info["bootstrap"]["mel_l1_before"]
    assert info["bootstrap"]["dur_nll_after"] < info["bootstrap"]["dur_nll_before"]
    assert info["import"]["absent"]["enc_q"] > 0
    # no vits.freeze given and a fresh discriminator: the posterior encoder and the decoder's upsamplers
    # stay frozen (the buzz), and the decoder's output gets the multi-resolution STFT loss
    assert info["options"]["freeze"] == ["enc_p", "dp", "enc_q", "dec.conv_pre", "dec.ups"]
    assert info["options"]["c_stft"] == 45.0
    assert (run / "config.yaml").exists() and "derived" in (run / "config.yaml").read_text()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000002", "step-000004"]
    best = json.loads((run / "best.json").read_text())
    evals = {json.loads(line)["step"]: json.loads(line)["loss"]["loss"] for line in (run / "metrics.jsonl")
             .read_text().splitlines() if json.loads(line)["event"] == "eval"}
    assert best["metric"] == "eval/loss" and best["mode"] == "min" and best["value"] == pytest.approx(min(evals.values()))
    assert not (run / "eval.jsonl").exists()  # nothing listened to yet

    invoke("train", "--resume", run, "--max-steps", 6, "--quiet")
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["event"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]

    out = invoke("runs", run)
    kept = sorted(int(p.name.split("-")[1]) for p in (run / "checkpoints").iterdir())
    assert 6 in kept and table_steps(out) == kept

    voice = tmp_path / "voice"
    invoke("export", run, "-o", voice, "--name", "tiny")
    card = (voice / "MODEL_CARD.md").read_text()
    assert "tiny.onnx" in card and "best by eval/loss" in card
    # the evaluation table: the exported checkpoint, listened to by export itself, starred; the real
    # recordings last (a random tiny model makes noise: WER and F0 are measured, similarity undefined)
    chosen = int(Path(json.loads((voice / "voicetune-voice.json").read_text())["checkpoint"]).name.split("-")[1])
    table = card.split("## Evaluation", 1)[1]
    assert f"| {chosen} |" in table and "★" in table and "real recordings" in table
    rows = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [chosen] and "wer" in rows[0] and "median_f0" in rows[0]
    report = (voice / "report.html").read_text()
    assert "data:image/png;base64," in report and "Evaluation by listening" in report and "Diagnosis" in report
    assert len(list((voice / "samples").rglob("*.wav"))) == 6

    # export again: the voice folder is ours, so it is replaced only with --overwrite
    res = CliRunner().invoke(app, ["export", str(run), "-o", str(voice), "--name", "tiny", "--no-samples"])
    assert res.exit_code != 0 and "pass --overwrite" in str(res.exception)
    invoke("export", run, "-o", voice, "--name", "tiny2", "--no-samples", "--overwrite")
    assert sorted(p.name for p in voice.iterdir()) == ["MODEL_CARD.md", "report.html", "tiny2.onnx",
                                                       "tiny2.onnx.json", "voicetune-voice.json"]

    # what `say` writes is what piper-tts itself makes of the exported voice (noise off)
    from piper import PiperVoice, SynthesisConfig

    wav = tmp_path / "hello.wav"
    invoke("say", "Hello there.", "--voice", voice / "tiny2.onnx", "-o", wav, "--noise-scale", 0, "--noise-w", 0)
    audio, sr = sf.read(wav)
    piper = PiperVoice.load(str(voice / "tiny2.onnx"))
    ref = np.concatenate([c.audio_float_array for c in piper.synthesize(
        "Hello there.", syn_config=SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))])
    assert sr == 22050 and abs(len(audio) - len(ref)) <= 256
    n = min(len(audio), len(ref)) - 200  # the 5 ms fades at the edges aside
    assert np.corrcoef(audio[110:n], ref[110:n])[0, 1] > 0.99


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
    import voicetune

    voicetune.train(joe_dataset, "joe", run, config=cfg, max_steps=2, eval_every=1, batch_size=2, bootstrap_steps=20,
                    bootstrap_sentences=12, show_progress=False, log=lambda *a: None)
    result = voicetune.train(resume=run, max_steps=10, show_progress=False, log=lambda *a: None)
    assert result.status == "early_stop" and result.step == 3, result
    info = json.loads((run / "vits.json").read_text())
    assert info["bootstrap"]["mel_l1_after"] < 0.8 * info["bootstrap"]["mel_l1_before"]
    voice = tmp_path / "voice"
    invoke("export", run, "-o", voice, "--name", "joe-tuned", "--no-samples")
    piper = PiperVoice.load(str(voice / "joe-tuned.onnx"))
    text = "The old lighthouse keeper climbed the stairs every evening."
    audio = np.concatenate([c.audio_float_array for c in piper.synthesize(text)])
    from voicetune.audio import resample
    from voicetune.data.transcribe import load_asr, transcribe_clip
    from voicetune.metrics import wer

    heard, _ = transcribe_clip(load_asr(None)[0], resample(audio, piper.config.sample_rate, 16000), language="en",
                               beam_size=5)
    assert wer(text, heard) <= 0.2, heard  # the fine-tuned voice still says the words


def test_freeze_adds_train_removes_none_clears():
    from voicetune.errors import VoicetuneError
    from voicetune.models.vits.training import DEFAULT_FREEZE, vits_options

    quiet = lambda *a: None  # noqa: E731
    assert vits_options({}, None, "cli", True, quiet).freeze == DEFAULT_FREEZE
    assert vits_options({}, ["emb_g"], "cli", True, quiet).freeze == [*DEFAULT_FREEZE, "emb_g"]
    with pytest.raises(VoicetuneError, match="freezes everything inference uses"):  # + flow and decoder: nothing
        vits_options({}, ["flow", "dec"], "cli", True, quiet)
    # --train dec: the whole decoder, its parts frozen on their own included
    assert vits_options({}, None, "cli", True, quiet, train=["dec"]).freeze == ["enc_p", "dp", "enc_q"]
    assert vits_options({}, None, "cli", True, quiet, train=["dec.ups"]).freeze == ["enc_p", "dp", "enc_q", "dec.conv_pre"]
    assert vits_options({}, ["none"], "cli", True, quiet).freeze == []
    assert vits_options({}, ["none", "dec"], "cli", True, quiet).freeze == ["dec"]
    # a config's vits.freeze is the starting list; the flags change it the same way
    assert vits_options({"vits": {"freeze": ["flow"]}}, ["dp"], "cfg.yaml", True, quiet, train=["flow"]).freeze == ["dp"]
    assert vits_options({}, None, "cli", False, quiet).freeze == []  # a .ckpt base: nothing frozen by default
    with pytest.raises(VoicetuneError, match="--train flow: flow is not frozen"):
        vits_options({}, None, "cli", True, quiet, train=["flow"])
    with pytest.raises(VoicetuneError, match="unknown group; choose from enc_p"):
        vits_options({}, ["decoder"], "cli", True, quiet)
    # a decoder part is a group of its own for vits.freeze (the resblocks train, the upsamplers do not)
    parts = {"vits": {"freeze": ["enc_p", "dp", "enc_q", "dec.conv_pre", "dec.ups"]}}
    assert vits_options(parts, None, "cfg.yaml", True, quiet).freeze == parts["vits"]["freeze"]


def test_flags_a_backend_does_not_use_are_refused(tmp_path, tiny_base, joe_dataset):
    def refused(*args):
        res = CliRunner().invoke(app, [str(a) for a in args])
        assert res.exit_code != 0 and not (tmp_path / "r").exists()
        return str(res.exception)

    msg = refused("train", "-d", joe_dataset, "-b", tiny_base, "-o", tmp_path / "r", "--preset", "small-data")
    assert msg.startswith("--preset: not used by the vits backend, which takes --freeze, --train, --bootstrap-steps")
    msg = refused("train", "-d", joe_dataset, "-b", tiny_base, "-o", tmp_path / "r", "--skip-unknown-chars")
    assert msg.startswith("--skip-unknown-chars: not used by the vits backend")
    run = tmp_path / "run"
    run.mkdir()
    (run / "vits.json").write_text(json.dumps({"format_version": 1, "dataset": str(joe_dataset), "options": {}}))
    msg = refused("train", "--resume", run, "--freeze", "dec")
    assert msg.startswith("--freeze: fixed when the run started")
    from voicetune import backends

    with pytest.raises(Exception, match="--freeze, --bootstrap-steps: not used by the xtts backend, "
                                        "which takes --preset, --select-by"):
        backends.check_flags(backends.get("xtts"), {"--select-by": "wer", "--freeze": ["dec"], "--bootstrap-steps": 20,
                                                    "--preset": None})


def test_speakers_of_a_dataset_meet_the_base(joe_dataset):
    """Several dataset speakers on a single-speaker base make it multi-speaker (never merged into
    one voice); --speaker keeps one and names those left out; a multi-speaker base maps them by
    name or id."""
    from types import SimpleNamespace

    from voicetune.data.dataset import load_dataset
    from voicetune.errors import VoicetuneError
    from voicetune.models.vits.speakers import plan_speakers

    def two_speakers():
        ds = load_dataset(joe_dataset)
        for i, c in enumerate(ds.clips):
            c.speaker = "anna" if i % 2 else "bob"
        return ds

    single = SimpleNamespace(speaker_id_map={})
    plan = plan_speakers(two_speakers(), single, 1, None, joe_dataset, "joe")
    assert plan.grow and plan.n_speakers == 2 and plan.table == plan.train_ids == {"anna": 0, "bob": 1}
    assert "the model becomes multi-speaker (anna 0, bob 1)" in plan.lines[0]
    assert "has 2 speakers and no --speaker was given" in plan.lines[0] and "--speaker NAME" in plan.lines[0]
    ds = two_speakers()
    n_anna, n_bob = sum(c.speaker == "anna" for c in ds.clips), sum(c.speaker == "bob" for c in ds.clips)
    plan = plan_speakers(ds, single, 1, "anna", joe_dataset, "joe")
    assert plan.train_ids == {"anna": 0} and not plan.grow and not plan.table
    assert plan.lines == [f"--speaker anna: {n_anna} of {n_anna + n_bob} clips; left out: bob ({n_bob} clips)"]
    assert len(ds.clips) == n_anna and {c.speaker for c in ds.clips} == {"anna"}
    with pytest.raises(VoicetuneError, match="--speaker carol: no clip of that speaker"):
        plan_speakers(two_speakers(), single, 1, "carol", joe_dataset, "joe")
    multi = SimpleNamespace(speaker_id_map={"anna": 2, "bob": 0})
    assert plan_speakers(two_speakers(), multi, 3, None, joe_dataset, "vctk").train_ids == {"anna": 2, "bob": 0}
    with pytest.raises(VoicetuneError, match="speakers anna, bob are not speakers of --base vctk"):
        plan_speakers(two_speakers(), single, 3, None, joe_dataset, "vctk")


def test_dry_run_times_the_run_and_writes_nothing(tmp_path, tiny_base, joe_dataset):
    run = tmp_path / "run"
    out = invoke("train", "--dataset", joe_dataset, "--base", tiny_base, "-o", run, "--max-steps", 40,
                 "--bootstrap-steps", 8, "--dry-run")
    assert not run.exists()
    assert "resolved config (what config.yaml would hold)" in out and "derived:" in out
    estimate = out[out.index("dry run: 40 steps"):]
    assert "(measured)" in estimate and "min on this machine" in estimate and "nothing was written" in estimate
    assert "dry run: nothing is written" in out  # the banner's run line
    # a folder the user owns stays refused exactly as a real run refuses it
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    res = CliRunner().invoke(app, ["train", "--dataset", str(joe_dataset), "--base", str(tiny_base), "-o", str(mine),
                                   "--max-steps", "4", "--dry-run"])
    assert "refusing" in str(res.exception) and (mine / "notes.txt").read_text() == "keep"


def test_a_long_budget_is_picked_by_listening_unless_told(tmp_path, tiny_base, joe_dataset):
    """--max-minutes 30 on English data: the advisor picks checkpoints by the combined listening
    score (trainer/advisor.py LISTEN_FROM_MINUTES); --select-by loss keeps the eval loss."""
    base = ["train", "--dataset", joe_dataset, "--base", tiny_base, "--max-minutes", 30, "--bootstrap-steps", 8,
            "--dry-run"]
    out = invoke(*base, "-o", tmp_path / "run")
    resolved = out[out.index("resolved config"):]
    assert "select_metric: combined" in resolved and "select_mode: max" in resolved, resolved
    assert "scored by listening" in resolved
    out = invoke(*base, "-o", tmp_path / "run2", "--select-by", "loss")
    resolved = out[out.index("resolved config"):]
    assert "select_metric: eval/loss" in resolved and "scored by listening" not in resolved
