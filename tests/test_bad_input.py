"""Bad input ends in a one-line error or a quarantine entry naming the file; nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from voicetune.data.build import PrepareOptions, prepare
from voicetune.data.dataset import load_dataset
from voicetune.errors import VoicetuneError


def run_cli(*args, cwd=None):
    """The real console entry point in a subprocess: what a user sees, exit code included."""
    return subprocess.run([sys.executable, "-m", "voicetune", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    for n in needles:
        assert n in errors[0], err


def test_bad_sources_are_quarantined_and_named(tmp_path, joe_variants):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is not audio" * 3)
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(22050 * 5, np.float32), 22050)
    music = tmp_path / "music.flac"
    t = np.arange(22050 * 8) / 22050
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.1
    sf.write(music, (chord * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))).astype(np.float32), 22050)
    good = joe_variants["second.wav"].path
    out = tmp_path / "ds"
    result = prepare([corrupt, empty, silence, music, good], out)
    ds = load_dataset(out)
    assert ds.clips and result.added == len(ds.clips)
    reasons = {os.path.basename(q.source): q.reason for q in ds.quarantine if q.source}
    assert "cannot decode" in reasons["corrupt.wav"]
    assert "empty file" in reasons["empty.mp3"]
    assert "no speech" in reasons["silence.wav"]
    assert "music.flac" in reasons, "music alone must not produce clips"
    report = (out / "report.md").read_text()
    for name in ("corrupt.wav", "empty.mp3", "silence.wav", "music.flac"):
        assert name in report


def test_nothing_usable_is_one_error_and_no_folder(tmp_path):
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(22050 * 3, np.float32), 22050)
    out = tmp_path / "ds"
    proc = run_cli("prepare", silence, "-o", out)
    one_line_error(proc, "no usable clips", "silence.wav")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.tmp")]


def test_output_that_is_a_file(tmp_path, joe_variants):
    target = tmp_path / "taken"
    target.write_text("x")
    proc = run_cli("prepare", joe_variants["second.wav"].path, "-o", target)
    one_line_error(proc, "is a file")
    assert target.read_text() == "x"


def test_missing_input_and_empty_folder(tmp_path):
    one_line_error(run_cli("prepare", tmp_path / "nope.wav", "-o", tmp_path / "ds"), "nope.wav", "no such file")
    (tmp_path / "empty").mkdir()
    one_line_error(run_cli("prepare", tmp_path / "empty", "-o", tmp_path / "ds"), "no audio files")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folder(tmp_path):
    d = tmp_path / "locked"
    d.mkdir()
    sf.write(d / "a.wav", np.zeros(100, np.float32), 22050)
    d.chmod(0)
    try:
        one_line_error(run_cli("prepare", d, "-o", tmp_path / "ds"), "not readable")
    finally:
        d.chmod(0o755)


def test_non_english_with_tiny_en_says_how_to_fix(tmp_path, joe_variants):
    proc = run_cli("prepare", joe_variants["second.wav"].path, "-o", tmp_path / "ds", "--language", "de")
    one_line_error(proc, "English-only", "--asr-model")


def test_bad_limits(tmp_path, joe_variants):
    with pytest.raises(VoicetuneError, match="XTTS"):
        PrepareOptions(max_seconds=15)
    with pytest.raises(VoicetuneError, match="min-seconds"):
        PrepareOptions(min_seconds=5, max_seconds=4)


def test_unknown_format_version_is_refused(tmp_path, joe_dataset):
    import shutil

    d = tmp_path / "ds"
    shutil.copytree(joe_dataset, d)
    meta = json.loads((d / "dataset.json").read_text())
    meta["format_version"] = 99
    (d / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(VoicetuneError, match="format_version 99"):
        load_dataset(d)
    one_line_error(run_cli("dataset", "report", d), "format_version 99")
