"""Every verb that writes a folder: a non-empty folder of another kind is refused and left exactly as
it was (sha256 of every file), an input inside the output is refused, and our own kind is replaced
only as documented (prepare adds, keeping foreign files and caches; the others take --overwrite)."""

from __future__ import annotations

import json
import shutil

import pytest

from test_bad_inputs import refused, sha_tree, vt


@pytest.fixture
def foreign(tmp_path):
    """A folder of the user's: other voices, notes, an MP3."""
    d = tmp_path / "mine"
    (d / "voices").mkdir(parents=True)
    (d / "voices" / "other.onnx").write_bytes(b"\x08\x01 someone else's voice")
    (d / "notes.txt").write_text("keep me")
    (d / "talk.mp3").write_bytes(b"ID3 not really audio")
    return d


def _run_dir(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "vits.json").write_text(json.dumps({"format_version": 1}))
    return run


def test_every_verb_refuses_a_foreign_folder(tmp_path, foreign, joe_dataset, tiny_voice):
    before = sha_tree(foreign)
    run = _run_dir(tmp_path)
    (tmp_path / "lines.txt").write_text("Hello.\n")
    wav = next((joe_dataset / "wavs").glob("*.wav"))
    commands = [
        ("prepare", wav, "-o", foreign),
        ("dataset", "merge", joe_dataset, joe_dataset, "-o", foreign),
        ("dataset", "import-hf", tmp_path / "hf", "-o", foreign),
        ("dataset", "import", tmp_path / "hf", "-o", foreign),
        ("dataset", "export", joe_dataset, "--format", "piper", "-o", foreign),
        ("export", run, "-o", foreign),
        ("export", run, "--format", "hf", "-o", foreign),
        ("export", run, "--format", "xtts", "-o", foreign),
        ("export", run, "-o", foreign, "--overwrite"),  # --overwrite replaces our kind only
        ("train", "-d", joe_dataset, "--base", tiny_voice, "-o", foreign, "--max-steps", 1),
        ("say", "--lines", tmp_path / "lines.txt", "--voice", tiny_voice, "-o", foreign),
        ("demo", "-o", foreign, "--quick"),
    ]
    (tmp_path / "hf").mkdir()
    for args in commands:
        refused(vt(*args), f"{foreign}: exists, is not empty and is not a voicetune")
        assert sha_tree(foreign) == before, args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "lines.txt", "mine", "run"]


def test_inputs_inside_the_output_are_refused(tmp_path, joe_dataset):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(joe_dataset, a)
    shutil.copytree(joe_dataset, b)
    before = sha_tree(a)
    refused(vt("dataset", "merge", a, b, "-o", a, "--overwrite"), f"{a}: lies inside the output folder {a}")
    refused(vt("prepare", a / "wavs", "-o", a), "lies inside the output folder")
    assert sha_tree(a) == before


def test_merge_replaces_a_dataset_only_with_overwrite(tmp_path, joe_dataset):
    from voicetune.data.dataset import load_dataset

    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    shutil.copytree(joe_dataset, a)
    shutil.copytree(joe_dataset, b)
    shutil.copytree(joe_dataset, out)
    before = sha_tree(out)
    refused(vt("dataset", "merge", a, b, "-o", out), "already holds a voicetune dataset; pass --overwrite")
    assert sha_tree(out) == before
    assert vt("dataset", "merge", a, b, "-o", out, "--overwrite").code == 0
    assert len(load_dataset(out).clips) == 2 * len(load_dataset(a).clips)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_prepare_adds_and_keeps_foreign_files_and_caches(tmp_path, joe_dataset):
    """Re-running prepare on its dataset: files it did not write and .cache/ survive, byte for byte."""
    ds = tmp_path / "ds"
    shutil.copytree(joe_dataset, ds)
    (ds / "notes.txt").write_text("my notes")
    (ds / ".cache" / "vits-v1").mkdir(parents=True, exist_ok=True)  # training tests may have made it already
    (ds / ".cache" / "vits-v1" / "abc.safetensors").write_bytes(b"cached features")
    kept = sha_tree(ds / "notes.txt", ds / ".cache")
    from voicetune.data.build import prepare
    from voicetune.data.dataset import load_dataset

    notes = []
    result = prepare([load_dataset(ds).sources[0].path], ds, log=notes.append)  # nothing new
    assert result.added == 0 and sha_tree(ds / "notes.txt", ds / ".cache") == kept
    assert notes == []


def test_split_rewrites_in_place_keeping_foreign_files(tmp_path, joe_dataset):
    ds = tmp_path / "ds"
    shutil.copytree(joe_dataset, ds)
    (ds / "notes.txt").write_text("my notes")
    wavs = sha_tree(ds / "wavs")
    assert vt("dataset", "split", ds, "--seed", 3, "--eval-fraction", 0.3).code == 0
    assert (ds / "notes.txt").read_text() == "my notes" and sha_tree(ds / "wavs") == wavs


def test_say_lines_replaces_its_own_folder_with_overwrite(tmp_path, tiny_voice):
    lines = tmp_path / "lines.txt"
    lines.write_text("One.\nTwo.\n")
    out = tmp_path / "said"
    assert vt("say", "--lines", lines, "--voice", tiny_voice, "-o", out).code == 0
    assert sorted(p.name for p in out.iterdir()) == ["0001.wav", "0002.wav", "voicetune-lines.json"]
    refused(vt("say", "--lines", lines, "--voice", tiny_voice, "-o", out), "pass --overwrite")
    lines.write_text("Only one now.\n")
    assert vt("say", "--lines", lines, "--voice", tiny_voice, "-o", out, "--overwrite").code == 0
    assert sorted(p.name for p in out.iterdir()) == ["0001.wav", "voicetune-lines.json"]
