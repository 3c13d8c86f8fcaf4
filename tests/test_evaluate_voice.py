"""evaluate_voice on real speech: Joe against its own dataset and against an espeak-ng speaker,
a WORLD re-synthesis of Joe that buzzes at the frame rate, and `voicetune evaluate` on a run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from voicetune.evaluation import evaluate_voice, load_sentences, problems, synthesizer_for
from voicetune.evaluation.reference import dataset_reference
from voicetune.evaluation.report import F0_MARGIN, score

N_SENTENCES = 8  # of the 20 built-in ones: enough for stable numbers, ~10 s of work


class Recorder:
    """Wraps a synthesizer and keeps what it said, so other tests can score the same audio."""

    def __init__(self, synth):
        self.synth, self.clips, self.sample_rate = synth, [], None

    def __call__(self, text):
        audio, sr = self.synth(text)
        self.clips.append(audio)
        self.sample_rate = sr
        return audio, sr


@pytest.fixture(scope="session")
def eval_texts():
    return load_sentences()[:N_SENTENCES]


@pytest.fixture(scope="session")
def joe_eval(joe_dataset, eval_texts):
    joe = synthesizer_for("joe")
    rec = Recorder(joe)
    result = evaluate_voice(rec, joe_dataset, eval_texts, hop_length=joe.hop_length, target="joe")
    return result, rec


@pytest.fixture(scope="session")
def espeak_dataset(tmp_path_factory, espeak_recording):
    from voicetune.data.build import prepare

    out = tmp_path_factory.mktemp("datasets") / "espeak"
    prepare([espeak_recording.path], out)
    return out


def test_joe_against_its_own_dataset(joe_eval, joe_dataset):
    r, _ = joe_eval
    assert r.sentences == N_SENTENCES and r.sample_rate == 22050
    # same speaker: close to the dataset's own train-vs-eval similarity
    assert r.reference_similarity > 0.9
    assert r.similarity > 0.85 and r.similarity > r.reference_similarity - 0.1
    assert r.wer is not None and r.wer <= 0.1 and r.cer <= 0.05
    assert all(t["heard"] for t in r.transcripts)
    # within the margin problems() uses, not tighter: Joe's pitch spreads wide (harvest, dataset quartiles
    # 97 and 164 Hz), so its median moves ~10 % with the sentences (these 8: 128 Hz, the dataset: 116 Hz)
    assert r.median_f0 == pytest.approx(r.dataset_median_f0, rel=F0_MARGIN)
    assert 100 < r.median_f0 < 135  # Joe is a male voice, ~116 Hz by harvest (bench/pitch_instruments.py)
    assert r.frame_rate == pytest.approx(86.13, abs=0.01)
    assert r.lock_share < 0.1 and r.dataset_lock_share < 0.1  # the detector stays quiet on real speech
    assert abs(r.comb_db - r.dataset_comb_db) < 1.0 and r.comb_db < 2.0
    assert 0.85 < r.duration_ratio < 1.15  # the dataset is Joe at the same length_scale
    assert r.leading_silence < 0.25 and r.trailing_silence < 0.5
    assert r.clipping < 0.001 and 0 < r.rtf < 3
    assert not [p for p in problems(r) if "buzz" in p or "pitch" in p]
    row = r.row(step=3)
    assert row["step"] == 3 and "transcripts" not in row and json.dumps(row)


def test_a_different_speaker_scores_clearly_lower(joe_eval, espeak_dataset, eval_texts):
    joe, rec = joe_eval
    ref = dataset_reference(espeak_dataset)
    assert ref.similarity > 0.85  # espeak-ng is consistent with itself ...
    other = score(rec.clips, rec.sample_rate, eval_texts, ref)
    assert other["similarity"] < joe.similarity - 0.2  # ... and Joe is not espeak-ng
    assert other["similarity"] < 0.8
    assert other["wer"] == pytest.approx(joe.wer)  # same audio, same words heard
    assert other["dataset_median_f0"] != joe.dataset_median_f0  # the espeak-ng recordings' own pitch is read


def _buzzing(clips: list[np.ndarray], sr: int, rate: float) -> list[np.ndarray]:
    """Joe re-synthesized by WORLD with every voiced frame at the decoder frame rate."""
    import pyworld

    out = []
    for c in clips:
        x = c.astype(np.float64)
        f0, t = pyworld.harvest(x, sr, f0_floor=60.0, f0_ceil=600.0)
        sp, ap = pyworld.cheaptrick(x, f0, t, sr), pyworld.d4c(x, f0, t, sr)
        y = pyworld.synthesize(np.where(f0 > 0, rate, 0.0), sp, ap, sr)
        out.append((0.9 * y / np.abs(y).max()).astype(np.float32))
    return out


def test_frame_rate_buzz_is_flagged(joe_eval, joe_dataset, eval_texts):
    joe, rec = joe_eval
    k = 3
    clips = _buzzing(rec.clips[:k], rec.sample_rate, joe.frame_rate)
    r = score(clips, rec.sample_rate, eval_texts[:k], dataset_reference(joe_dataset))
    assert r["lock_share"] > 0.6 and joe.lock_share < 0.1
    assert r["comb_db"] > joe.dataset_comb_db + 2.0
    assert r["median_f0"] == pytest.approx(joe.frame_rate, rel=0.03)
    from voicetune.evaluation.report import EvalResult

    result = EvalResult(target="buzz", dataset=str(joe_dataset), sentences=k, rtf=0.0, audio_seconds=1.0,
                        eval_seconds=0.0, sample_rate=rec.sample_rate, **r)
    assert any("frame-rate buzz" in p for p in problems(result))


def _vits_run(root, joe, steps=(10,)):
    """A run folder as `voicetune train` writes it for VITS: vits.json + weight-normed step weights."""
    import copy

    from voicetune.models.vits.run import RUN_FORMAT
    from voicetune.trainer.checkpoints import save_weights

    gen = copy.deepcopy(joe.model).apply_weight_norm()
    for step in steps:
        ckpt = root / "checkpoints" / f"step-{step:06d}"
        ckpt.mkdir(parents=True)
        save_weights({"gen": gen}, ckpt / "model.safetensors")
        (ckpt / "trainer.json").write_text(json.dumps({"step": step}))
    (root / "config.yaml").write_text("{}\n")
    (root / "vits.json").write_text(json.dumps({"format_version": RUN_FORMAT, "model_config": gen.config.to_dict(),
                                                "voice": joe.config.to_piper_dict()}))
    return root


def test_cli_evaluates_every_checkpoint_of_a_run(tmp_path, joe_dataset):
    from voicetune.commands.evaluate import evaluate
    from voicetune.synth import load_voice
    from voicetune.trainer.checkpoints import eval_rows

    run = _vits_run(tmp_path / "run", load_voice("joe"))
    lines = tmp_path / "lines.txt"
    lines.write_text("# two sentences\nThe engine coughed twice and then roared back to life.\n"
                     "Yesterday the mayor opened a new playground next to the zoo.\n")
    app = typer.Typer()
    app.command()(evaluate)
    args = [str(run), "--dataset", str(joe_dataset), "--sentences", str(lines)]
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    [out] = json.loads(res.stdout)
    assert out["sentences"] == 2 and out["similarity"] > 0.8 and out["wer"] <= 0.15
    rows = eval_rows(run)
    assert list(rows) == [10] and rows[10]["checkpoint"] == "checkpoints/step-000010"
    assert rows[10]["similarity"] == pytest.approx(out["similarity"])
    assert list((run / "tb").glob("events.out.tfevents.*"))  # and the curves for TensorBoard
    # evaluated already: skipped, no second row
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and "already" in res.output
    assert len((run / "eval.jsonl").read_text().splitlines()) == 1
    assert out["combined"] == pytest.approx(out["similarity"] - max(0, out["wer"] - out["reference_wer"])
                                            - max(0, out["lock_share"] - out["dataset_lock_share"]))


def test_checkpoint_scorer_for_the_trainer(tmp_path, joe_dataset):
    """The engine's on_checkpoint hook gets plain floats (it stores them with float())."""
    from voicetune.evaluation.runlog import checkpoint_scorer
    from voicetune.models.vits.checkpoint import save_vits_checkpoint
    from voicetune.synth import load_voice

    joe = load_voice("joe")
    ckpt = save_vits_checkpoint(joe.model, joe.config, tmp_path / "step-000004")
    scores = checkpoint_scorer(joe_dataset, ["Fresh pepper and a squeeze of lemon improve almost any soup."])(ckpt, 4)
    assert all(isinstance(v, float) for v in scores.values())
    assert scores["similarity"] > 0.8 and scores["combined"] > 0.7 and scores["lock_share"] < 0.05


def test_user_errors_name_the_file_and_the_fix(tmp_path, joe_dataset):
    import shutil

    from voicetune.errors import VoicetuneError

    def never(text):
        raise AssertionError("must fail before synthesizing")

    with pytest.raises(VoicetuneError, match="no such dataset folder"):
        evaluate_voice(never, tmp_path / "missing")
    german = tmp_path / "de"
    shutil.copytree(joe_dataset, german)
    meta = json.loads((german / "dataset.json").read_text())
    meta["language"] = "de"
    (german / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(VoicetuneError, match="--sentences FILE"):
        evaluate_voice(never, german)


@pytest.mark.slow
def test_full_evaluation_table_of_joe(joe_dataset):
    """All 20 built-in sentences through the command as a user runs it (~20-30 s on 2 cores)."""
    from voicetune.commands.evaluate import evaluate

    app = typer.Typer()
    app.command()(evaluate)
    res = CliRunner().invoke(app, ["joe", "--dataset", str(joe_dataset)], terminal_width=200)
    assert res.exit_code == 0, res.output
    for label in ("WER", "speaker similarity", "median F0", "F0 locked at 86.1 Hz", "duration ratio", "RTF"):
        assert label in res.output
    assert "frame-rate buzz" not in res.output
    res = CliRunner().invoke(app, ["joe", "--dataset", str(joe_dataset), "--json"])
    [r] = json.loads(res.stdout)
    assert r["sentences"] == 20 and r["similarity"] > 0.88 and r["wer"] < 0.08 and r["lock_share"] < 0.01


def test_evaluation_hears_the_same_audio_every_time(eval_texts):
    """Joe's ONNX graph draws its noise inside onnxruntime: each synthesizer gets a seeded session,
    so two evaluations of the same voice score identical audio (the test above cannot flake)."""
    a, b = synthesizer_for("joe"), synthesizer_for("joe")
    order = [eval_texts[0], eval_texts[1], eval_texts[0]]
    heard_a, heard_b = [a(t)[0] for t in order], [b(t)[0] for t in order]
    for x, y in zip(heard_a, heard_b, strict=True):
        assert x.shape == y.shape and np.array_equal(x, y)
    first, again = heard_a[0], heard_a[2]  # the noise is still there: the same sentence twice differs
    assert first.shape != again.shape or not np.array_equal(first, again)
