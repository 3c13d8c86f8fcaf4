"""Bad recordings end to end through the real `voicetune` entry point: unusable, truncated and
odd sources, paths and outputs, nothing usable, options and messages (tests/bad_inputs.py has
the rules every case checks and the corpus).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bad_inputs import cue, leftovers, refused, sha_tree, vt
from voicetune.metrics import wer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="session")
def prepared(corpus, tmp_path_factory):
    """One `voicetune prepare` over the whole audio corpus; hashes taken before it ran."""
    from voicetune.data.dataset import load_dataset

    inputs = list(corpus["files"].values())
    before = sha_tree(*inputs)
    out = tmp_path_factory.mktemp("bad-prepared") / "ds"
    run = vt("prepare", *inputs, "-o", out, "--quiet")
    return {"run": run, "out": out, "ds": load_dataset(out) if (out / "dataset.json").exists() else None,
            "before": before, "inputs": inputs}


def _source_reasons(ds, name: str) -> list[str]:
    return [q.reason for q in ds.quarantine if q.source and Path(q.source).name == name]


def test_corpus_prepares_and_inputs_stay_unchanged(prepared):
    run = prepared["run"]
    assert run.code == 0 and "Traceback" not in run.err, run.err
    assert sha_tree(*prepared["inputs"]) == prepared["before"]
    assert leftovers(prepared["out"].parent) == []


EMPTY = "empty file (0 bytes); re-export or remove it"
UNDECODABLE = ("cannot decode: not audio in a format libsndfile reads (wav, flac, mp3, ogg); re-export it, "
               "or install ffmpeg for other formats")
NO_SPEECH = "no speech found (silence or noise only)"


@pytest.mark.parametrize("name,reason", [
    ("zero.wav", EMPTY), ("random.mp3", UNDECODABLE), ("silence.wav", NO_SPEECH), ("noise.wav", NO_SPEECH),
    ("tone.wav", NO_SPEECH),
])
def test_unusable_sources_are_quarantined_with_their_reason(prepared, name, reason):
    ds = prepared["ds"]
    assert _source_reasons(ds, name) == [reason]
    sources = {Path(s.path).name: s.sha256 for s in ds.sources}
    assert not [c for c in ds.clips if sources.get(name) and c.source == sources[name]]
    assert f"`{prepared['inputs'][0].parent / name}`" in (prepared["out"] / "report.md").read_text()


def test_truncated_wav_keeps_what_is_there_and_quarantines_the_cut_clip(prepared, corpus):
    ds = prepared["ds"]
    (reason,) = _source_reasons(ds, "truncated.wav")
    assert reason.startswith("truncated: the header promises ") and reason.endswith(
        "; clips before the cut-off are kept, a clip that reaches it is quarantined")
    sha = next(s.sha256 for s in ds.sources if Path(s.path).name == "truncated.wav")
    kept = [c for c in ds.clips if c.source == sha]
    cut = [q for q in ds.quarantine if q.clip and q.clip.startswith(f"truncated-{sha[:8]}")]
    assert len(cut) == 1 and "reaches the end of truncated.wav, which is cut off at" in cut[0].reason
    assert (prepared["out"] / "quarantine" / f"{cut[0].clip}.wav").is_file()
    # the first sentence, whole and alone (tiny.en may mishear a word of it)
    assert len(kept) == 1 and wer(corpus["speech"]["truncated.wav"].text, kept[0].text) <= 0.3


def test_header_promising_more_is_recorded_and_the_speech_kept(prepared, corpus):
    ds = prepared["ds"]
    (reason,) = _source_reasons(ds, "header-lies.wav")
    assert reason.startswith("truncated: the header promises 60.00 s, ")
    sha = next(s.sha256 for s in ds.sources if Path(s.path).name == "header-lies.wav")
    text = " ".join(c.text for c in sorted(ds.clips, key=lambda c: c.start) if c.source == sha)
    assert wer(corpus["speech"]["header-lies.wav"].text, text) <= 0.3


@pytest.mark.parametrize("name", ["speech-8k.wav", "speech-96k-float-stereo.wav", "naïve talk é.wav"])
def test_odd_rates_channels_and_names_are_transcribed(prepared, corpus, name):
    ds = prepared["ds"]
    source = next(s for s in ds.sources if Path(s.path).name == name)
    assert source.path == str(corpus["files"][name].resolve())
    clips = sorted((c for c in ds.clips if c.source == source.sha256), key=lambda c: c.start)
    assert clips and all(c.id.isascii() and " " not in c.id for c in clips)
    assert wer(corpus["speech"][name].text, " ".join(c.text for c in clips)) <= 0.3
    assert not _source_reasons(ds, name)


# --------------------------------------------------------------------------- paths and outputs

def test_prepare_paths_and_outputs(tmp_path, corpus):
    wav = corpus["files"]["speech-8k.wav"]
    refused(vt("prepare", tmp_path / "nope.wav", "-o", tmp_path / "ds"), "nope.wav: no such file or folder")
    (tmp_path / "empty").mkdir()
    refused(vt("prepare", tmp_path / "empty", "-o", tmp_path / "ds"), "empty: no audio files")
    (tmp_path / "taken").write_text("mine")
    refused(vt("prepare", wav, "-o", tmp_path / "taken"), "taken: exists and is a file")
    assert (tmp_path / "taken").read_text() == "mine"
    refused(vt("prepare", wav, "-o", "/proc/voicetune-x"), "/proc/voicetune-x: cannot write in /proc",
            "choose another -o")
    danger = tmp_path / "danger"
    danger.mkdir()
    shutil.copy(wav, danger / "talk.wav")
    (danger / "notes.txt").write_text("mine")
    before = sha_tree(danger)
    refused(vt("prepare", danger, "-o", danger), "lies inside the output folder")
    refused(vt("prepare", wav, "-o", danger), "danger: exists, is not empty and is not a voicetune dataset")
    assert sha_tree(danger) == before and not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output(tmp_path, corpus):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        refused(vt("prepare", corpus["files"]["speech-8k.wav"], "-o", ro / "ds"), "cannot write in", "choose another -o")
    finally:
        ro.chmod(0o755)


# --------------------------------------------------------------------------- nothing usable, options

def test_nothing_usable_is_one_error_and_no_folder(tmp_path, corpus):
    out = tmp_path / "ds"
    refused(vt("prepare", corpus["files"]["silence.wav"], "-o", out), "no usable clips", "silence.wav", NO_SPEECH)
    assert not out.exists() and leftovers(tmp_path) == []


def test_every_clip_failing_keeps_the_quarantine_audio(tmp_path, sentences):
    """Every clip clipped: exit 2, and the folder holds the quarantined audio the report lists."""
    from voicetune.data.dataset import load_dataset
    from voicetune.sample_data import make_recording, synth_piper

    texts = sentences[54:56]
    clips, sr = synth_piper(texts)
    audio, tl = make_recording(clips, texts, sr, seed=4)
    sf.write(tmp_path / "loud.wav", np.clip(audio * 40, -1, 1), sr)
    (tmp_path / "loud.srt").write_text("\n".join(cue(i + 1, s.start, s.end, s.text) for i, s in enumerate(tl)))
    out = tmp_path / "ds"
    line = refused(vt("prepare", tmp_path / "loud.wav", "-o", out), "no usable clips", "clipping:",
                   f"quarantined clip(s) are kept for review in {out / 'quarantine'}")
    ds = load_dataset(out)
    kept = [q for q in ds.quarantine if q.clip]
    assert not ds.clips and kept and f"the {len(kept)} quarantined clip(s)" in line
    assert all((out / "quarantine" / f"{q.clip}.wav").is_file() for q in ds.quarantine if q.clip)
    assert all(q.reason.startswith("clipping:") for q in ds.quarantine if q.clip)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folder(tmp_path):
    d = tmp_path / "locked"
    d.mkdir()
    sf.write(d / "a.wav", np.zeros(100, np.float32), 22050)
    d.chmod(0)
    try:
        refused(vt("prepare", d, "-o", tmp_path / "ds"), "not readable")
    finally:
        d.chmod(0o755)


def test_non_english_with_tiny_en_says_how_to_fix(tmp_path, corpus):
    refused(vt("prepare", corpus["files"]["speech-8k.wav"], "-o", tmp_path / "ds", "--language", "de"),
            "English-only", "--asr-model")


def test_bad_limits():
    from voicetune.data.build import PrepareOptions
    from voicetune.errors import VoicetuneError

    with pytest.raises(VoicetuneError, match="XTTS"):
        PrepareOptions(max_seconds=15)
    with pytest.raises(VoicetuneError, match="min-seconds"):
        PrepareOptions(min_seconds=5, max_seconds=4)


def test_crafted_best_json_cannot_point_outside_the_run(tmp_path):
    run = tmp_path / "run"
    ckpt = run / "checkpoints" / "step-000001"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer.json").write_text(json.dumps({"format_version": 1, "step": 1, "epoch": 0}))
    (run / "config.yaml").write_text("max_steps: 1\n")
    (run / "best.json").write_text(json.dumps({"path": "../../../etc", "metric": "eval/loss", "value": 1.0,
                                               "mode": "min", "step": 1}))
    refused(vt("runs", run), "best.json: path '../../../etc' points outside")


def test_undecodable_mp3_prints_no_decoder_chatter(tmp_path, corpus):
    """A real process: libmpg123's own "Note: Illegal Audio-MPEG-Header" lines stay off the terminal."""
    proc = subprocess.run([sys.executable, "-m", "voicetune", "prepare", corpus["files"]["random.mp3"], "-o",
                           tmp_path / "ds", "-q"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 2 and "Note:" not in proc.stderr and "MPEG" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: no usable clips in the input (random.mp3: {UNDECODABLE})"]


def test_a_real_process_prints_one_line(tmp_path):
    """The console script itself (not the in-process entry point): one line, exit 2."""
    proc = subprocess.run([sys.executable, "-m", "voicetune", "runs", tmp_path / "nope"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "no such run folder" in proc.stderr

