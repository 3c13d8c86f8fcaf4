"""Subtitles, text cleaning, merge, split and validate on real dataset folders."""

from __future__ import annotations

import json
import shutil

import pytest

from srt_helpers import write_srt
from voicetune.data.build import PrepareOptions, prepare
from voicetune.data.dataset import load_dataset
from voicetune.data.manage import merge, resplit, validate
from voicetune.data.srt import read_subtitles
from voicetune.errors import VoicetuneError


def test_subtitles_replace_asr(tmp_path, joe_variants):
    rec = joe_variants["second.wav"]
    audio = tmp_path / "talk.wav"
    shutil.copy(rec.path, audio)
    timeline = list(rec.timeline)
    timeline[0] = type(timeline[0])(timeline[0].start, timeline[0].end, "Crème brûlée at 7 o’clock.")
    write_srt(tmp_path / "talk.srt", timeline)
    out = tmp_path / "ds"
    prepare([audio], out)
    ds = load_dataset(out)
    texts = " ".join(c.text for c in sorted(ds.clips, key=lambda c: c.start))
    assert "Crème brûlée at seven o'clock." in texts  # the subtitle's text, cleaned, not Whisper's
    assert ds.asr_model is None
    assert all(c.asr_confidence is None for c in ds.clips)


def test_subtitle_encoding(tmp_path, joe_variants):
    rec = joe_variants["second.wav"]
    sub = tmp_path / "latin.srt"
    tl = [type(rec.timeline[0])(1.0, 2.0, "café crème")]
    write_srt(sub, tl, encoding="cp1252")
    with pytest.raises(VoicetuneError, match="not UTF-8.*--srt-encoding"):
        read_subtitles(sub)
    assert read_subtitles(sub, "cp1252").cues[0].text == "café crème"
    vtt = tmp_path / "a.vtt"
    vtt.write_text("WEBVTT\n\n00:01.000 --> 00:02.500\n<v Joe>Hello there</v>\n")
    assert read_subtitles(vtt).cues[0].start == 1.0 and read_subtitles(vtt).cues[0].text == "Hello there"


def _with_quarantined_clip(d):
    """Give dataset ``d`` a quarantined clip with audio (the first clip's, under a new id)."""
    import json

    meta = json.loads((d / "dataset.json").read_text())
    first = meta["clips"][0]
    shutil.copy(d / "wavs" / f"{first['id']}.wav", d / "quarantine" / "held-0001.wav")
    meta["quarantine"].append({"clip": "held-0001", "reason": "very low SNR: 3.0 dB < 12 dB (noisy recording)",
                               "text": first["text"], "start": first["start"], "end": first["end"]})
    (d / "dataset.json").write_text(json.dumps(meta))
    return (d / "quarantine" / "held-0001.wav").read_bytes()


def test_merge_and_split(tmp_path, joe_dataset):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(joe_dataset, a)
    shutil.copytree(joe_dataset, b)  # same clip ids on purpose: merge must rename, not overwrite
    held = _with_quarantined_clip(a)
    assert _with_quarantined_clip(b) == held
    out = tmp_path / "merged"
    merged = merge([a, b], out, eval_fraction=0.2, seed=3)
    n = len(load_dataset(a).clips)
    assert len(merged.clips) == 2 * n
    assert len({c.id for c in merged.clips}) == 2 * n
    assert validate(out) == []
    # the quarantine travels too, its ids renamed like the clips', its audio copied
    held_ids = [q.clip for q in merged.quarantine if q.reason.startswith("very low SNR: 3.0 dB")]
    assert held_ids == ["held-0001", "held-0001-2"]
    assert [(out / "quarantine" / f"{i}.wav").read_bytes() for i in held_ids] == [held, held]
    assert len(merged.eval) == round(0.2 * 2 * n)
    before = {c.id: c.split for c in load_dataset(out).clips}
    ds = resplit(out, eval_fraction=0.2, seed=99)
    assert {c.id: c.split for c in ds.clips} != before
    assert len(ds.eval) == len(merged.eval)
    with pytest.raises(VoicetuneError, match="already holds a voicetune dataset; pass --overwrite"):
        merge([a, b], out)


def test_validate_finds_problems(tmp_path, joe_dataset):
    d = tmp_path / "ds"
    shutil.copytree(joe_dataset, d)
    ds = load_dataset(d)
    (d / ds.clips[0].audio_file).unlink()
    wav = d / ds.clips[1].audio_file
    wav.write_bytes(wav.read_bytes()[: len(wav.read_bytes()) // 2])
    csv = d / "metadata_train.csv"
    lines = csv.read_text().splitlines()
    lines.append("wavs/ghost.wav||speaker")
    csv.write_text("\n".join(lines) + "\n")
    problems = validate(d)
    text = "\n".join(problems)
    assert ds.clips[0].id in text and "missing" in text
    assert ds.clips[1].id in text
    assert "ghost.wav" in text and "empty text" in text


def test_eval_never_empty_with_two_clips(tmp_path, joe_dataset):
    from voicetune.data.dataset import assign_splits

    ds = load_dataset(joe_dataset)
    two = [c.model_copy() for c in ds.clips[:2]]
    assign_splits(two, 0.01, seed=1)
    assert sorted(c.split for c in two) == ["eval", "train"]


def test_prepare_options_padding_adapts():
    assert PrepareOptions(min_seconds=1.0, max_seconds=1.2).pad <= 0.1


def test_split_killed_between_its_writes_leaves_the_dataset_whole(tmp_path, joe_dataset):
    """SIGKILL after dataset.json is written and before the CSVs: the dataset reads exactly as before
    (no clip "removed by the user"), and the next command removes the half-written folder."""
    import hashlib
    import os
    import subprocess
    import sys

    d = tmp_path / "ds"
    shutil.copytree(joe_dataset, d)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.rglob("*") if p.is_file()}
    splits = {c.id: c.split for c in load_dataset(d).clips}
    code = """if True:
        import os, signal, sys
        import voicetune.data.dataset as dataset
        import voicetune.fileio as fileio
        real, calls = fileio.write_text, []
        def dying(path, text):
            calls.append(path)
            if len(calls) == 2:  # dataset.json is written; the first CSV is next
                os.kill(os.getpid(), signal.SIGKILL)
            real(path, text)
        fileio.write_text = dataset.write_text = dying
        from voicetune.data.manage import resplit
        resplit(sys.argv[1], 0.4, 99)
    """
    proc = subprocess.run([sys.executable, "-c", code, str(d)], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == -9
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.rglob("*") if p.is_file()} == before
    ds = load_dataset(d)
    assert {c.id: c.split for c in ds.clips} == splits and not [q for q in ds.quarantine if "removed" in q.reason]
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".ds.tmp-")]
    assert len(left) == 1
    from voicetune.folders import recover

    notes = []
    recover(d, notes.append)
    assert [p.name for p in tmp_path.iterdir()] == ["ds"] and f"removed {tmp_path / left[0]}" in notes[0]
    assert len(resplit(d, 0.4, 99).clips) == len(splits)


def test_results_go_to_stdout_and_progress_to_stderr(tmp_path, joe_dataset):
    """`dataset report D > r.md` and `dataset validate D > log` keep what the verb answers."""
    import subprocess
    import sys

    joe_dataset = shutil.copytree(joe_dataset, tmp_path / "ds")  # report rewrites report.md

    def run(*args):
        return subprocess.run([sys.executable, "-m", "voicetune", *map(str, args)], capture_output=True, text=True,
                              timeout=120)

    shown = run("dataset", "validate", joe_dataset)
    assert shown.returncode == 0 and "is valid" in shown.stdout and "is valid" not in shown.stderr
    report = run("dataset", "report", joe_dataset)
    # not a terminal: the markdown itself, as dataset/report.md holds it
    assert report.returncode == 0 and report.stdout.strip() == (joe_dataset / "report.md").read_text().strip()
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("voicetune ")
    as_json = run("dataset", "report", joe_dataset, "--json")
    figures = json.loads(as_json.stdout)
    assert figures["clips"] == len(load_dataset(joe_dataset).clips) and figures["minutes"] > 0
    verdict = json.loads(run("dataset", "validate", joe_dataset, "--json").stdout)
    assert verdict == {"dataset": str(joe_dataset), "valid": True, "problems": [], "notes": []}
