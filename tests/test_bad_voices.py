"""Bad bases, folders that are not runs, and bad text or outputs for `say`: one line each.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from bad_inputs import leftovers, refused, sha_tree, vt

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# --------------------------------------------------------------------------- bases, runs, export, say

def test_bad_bases(tmp_path, joe_dataset):
    from voicetune.sample_data import joe_voice_path

    (tmp_path / "junk.onnx").write_bytes(np.random.default_rng(1).bytes(5000))
    shutil.copy(joe_voice_path().with_suffix(".onnx.json"), tmp_path / "junk.onnx.json")  # a config, no model
    (tmp_path / "empty").mkdir()
    cases = [(tmp_path / "nope.onnx", "nope.onnx: not found"), (tmp_path / "junk.onnx", "junk.onnx: not an ONNX model"),
             (tmp_path / "empty", "empty: a folder without a .onnx voice or vits.json")]
    before = sha_tree(joe_dataset)
    for base, needle in cases:
        refused(vt("train", "-d", joe_dataset, "--base", base, "-o", tmp_path / "run", "--max-steps", 1, "-q"), needle)
        assert not (tmp_path / "run").exists()
    assert sha_tree(joe_dataset) == before


def test_runs_export_and_resume_on_what_is_not_a_run(tmp_path, joe_dataset):
    refused(vt("runs", joe_dataset), "not a run folder (it is a dataset folder)")
    refused(vt("runs", tmp_path / "nope"), "nope: no such run folder")
    refused(vt("train", "--resume", joe_dataset), "not a run folder (it is a dataset folder: pass it as --dataset)")
    refused(vt("export", tmp_path / "nope", "-o", tmp_path / "voice"), "nope: not found")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "vits.json").write_text(json.dumps({"format_version": 1}))
    refused(vt("export", run, "-o", tmp_path / "voice"), "the run has no checkpoint yet; train it first")
    assert not (tmp_path / "voice").exists() and leftovers(tmp_path) == []


def test_bad_text_and_outputs_for_say(tmp_path, tiny_voice):
    refused(vt("say", "", "--voice", tiny_voice, "-o", tmp_path / "a.wav"), "nothing to say")
    refused(vt("say", "   ", "--voice", tiny_voice, "-o", tmp_path / "a.wav"), "nothing to say: the text is empty")
    refused(vt("say", "😀🎉🙈", "--voice", tiny_voice, "-o", tmp_path / "a.wav"), "nothing to say: '😀🎉🙈' has no letters or digits")
    assert not (tmp_path / "a.wav").exists()
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "mine.txt").write_text("mine")
    # the output is checked before the voice is even looked at
    refused(vt("say", "Hello.", "--voice", tmp_path / "no-such-voice", "-o", tmp_path / "folder"),
            "folder: is a folder; -o names the .wav file to write")
    refused(vt("say", "Hello.", "--voice", tiny_voice, "-o", "/proc/voicetune-x.wav"), "cannot write in /proc")
    (tmp_path / "lines.txt").write_text("One line.\n")
    refused(vt("say", "--lines", tmp_path / "lines.txt", "--voice", tiny_voice, "-o", tmp_path / "folder"),
            "folder: exists, is not empty and is not a voicetune `say --lines` folder")
    assert (tmp_path / "folder" / "mine.txt").read_text() == "mine"
    refused(vt("say", "Hello.", "--voice", tiny_voice, "--speaker-wav", tmp_path / "x.wav", "-o", tmp_path / "b.wav"),
            "--speaker-wav: not used by a Piper/VITS voice")


def test_five_thousand_characters_are_all_spoken(tmp_path, tiny_voice):
    """One run-on sentence of 5,000 characters: spoken in pieces, none dropped (duration scales)."""
    phrase = "the quick brown fox jumps over the lazy dog"
    long_text = " ".join([phrase] * 116)[:5000]
    assert len(long_text) == 5000
    for text, name in ((phrase, "one.wav"), (long_text, "long.wav")):
        run = vt("say", text, "--voice", tiny_voice, "-o", tmp_path / name, "--noise-scale", 0, "--noise-w", 0)
        assert run.code == 0, run.err
    one, sr = sf.read(tmp_path / "one.wav")
    long, _ = sf.read(tmp_path / "long.wav")
    words = len(long_text.split()) / len(phrase.split())
    pieces_silence = 0.2 * (len(long_text) // 300 + 1) * sr
    assert 0.8 * words * len(one) < len(long) - pieces_silence < 1.25 * words * len(one)

