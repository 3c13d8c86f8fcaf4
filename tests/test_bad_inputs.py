"""Bad input, end to end through the real `voicetune` entry point.

Every case ends either in exit code 2 with one line that names the file and the fix, or in a
quarantine entry with its reason; never a traceback; every input byte-identical afterwards; no
half-written output that looks complete. The corpus is built once per session from real speech
(the Joe Piper voice) and cheap synthetic signals; each `prepare` over it runs once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetune.metrics import wer
from voicetune.text.normalize import normalize_text

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# --------------------------------------------------------------------------- the real entry point

@dataclass
class Run:
    code: int | str
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]


def vt(*args) -> Run:
    """`voicetune ARGS` in this process through ``voicetune.cli.main`` (exit code, stdout, stderr)."""
    from voicetune.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, handlers = sys.argv, {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    sys.argv = ["voicetune", *map(str, args)]
    code: int | str = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001 - the point: nothing may escape as a traceback
                code = "traceback"
                err.write(traceback.format_exc())
    finally:
        sys.argv = argv
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return Run(code, out.getvalue(), err.getvalue())


def refused(run: Run, *needles: str) -> str:
    """Exit 2 and no traceback; the last line printed is the one `error:` line, holding every needle
    (progress bars and notes may come before it)."""
    assert "Traceback" not in run.err + run.out, run.err
    assert run.code == 2, (run.code, run.err)
    errors = [ln for ln in run.lines if "error:" in ln]
    assert len(errors) == 1 and run.lines[-1].startswith("error:"), run.err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def sha_tree(*paths: Path) -> dict[str, str]:
    """sha256 of every file under each path (a file or a folder)."""
    out = {}
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


# --------------------------------------------------------------------------- the corpus

@dataclass
class Speech:
    path: Path
    text: str


def _speech(texts, seed: int, pauses=(0.5, 1.0)):
    from voicetune.sample_data import make_recording, synth_piper

    clips, sr = synth_piper(texts)
    audio, timeline = make_recording(clips, texts, sr, seed=seed, pauses=pauses)
    return audio, sr, timeline


def _truncate_header(path: Path, seconds: float) -> None:
    """Patch a PCM16 mono WAV's RIFF and data sizes to promise ``seconds`` of audio."""
    data = bytearray(path.read_bytes())
    i = data.find(b"data")
    rate = struct.unpack("<I", data[24:28])[0]
    size = int(seconds * rate) * 2
    data[i + 4 : i + 8] = struct.pack("<I", size)
    data[4:8] = struct.pack("<I", size + i + 8 - 8)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, sentences):
    """Bad and awkward recordings: each name -> its file (speech ones also carry the known text)."""
    root = tmp_path_factory.mktemp("bad-corpus")
    rng = np.random.default_rng(0)
    files: dict[str, Path] = {}
    speech: dict[str, Speech] = {}

    (root / "zero.wav").write_bytes(b"")
    (root / "random.mp3").write_bytes(rng.bytes(30_000))
    sr = 22050
    sf.write(root / "silence.wav", np.zeros(sr * 4, np.float32), sr)
    sf.write(root / "noise.wav", (rng.standard_normal(sr * 4) * 0.1).astype(np.float32), sr)
    t = np.arange(sr * 4) / sr
    sf.write(root / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    files.update({n: root / n for n in ("zero.wav", "random.mp3", "silence.wav", "noise.wav", "tone.wav")})

    # sentences 48-59 and 38-39 are spoken by no other fixture (a repeated text is quarantined)
    audio, sr, tl = _speech(sentences[48:50], seed=5, pauses=(2.0, 2.2))  # pauses that always end a clip
    # truncated: the file is cut inside the second sentence (the header still promises all of it)
    sf.write(root / "truncated.wav", audio, sr, subtype="PCM_16")
    cut_at = 0.5 * (tl[1].start + tl[1].end)
    raw = (root / "truncated.wav").read_bytes()
    (root / "truncated.wav").write_bytes(raw[: 44 + 2 * int(cut_at * sr)])
    files["truncated.wav"] = root / "truncated.wav"
    speech["truncated.wav"] = Speech(root / "truncated.wav", tl[0].text)
    # header lies: all the audio is there, the header promises 60 s
    audio2, sr, tl2 = _speech(sentences[51:52], seed=6)
    sf.write(root / "header-lies.wav", audio2, sr, subtype="PCM_16")
    _truncate_header(root / "header-lies.wav", 60.0)
    files["header-lies.wav"] = root / "header-lies.wav"
    speech["header-lies.wav"] = Speech(root / "header-lies.wav", " ".join(s.text for s in tl2))

    from voicetune.audio import resample

    audio3, sr, tl3 = _speech(sentences[54:56], seed=7)
    sf.write(root / "speech-8k.wav", resample(audio3, sr, 8000), 8000)
    audio4, sr, tl4 = _speech(sentences[57:58], seed=8)
    hi = resample(audio4, sr, 96000)
    sf.write(root / "speech-96k-float-stereo.wav", np.stack([hi, 0.8 * hi], axis=1), 96000, subtype="FLOAT")
    audio5, sr, tl5 = _speech(sentences[38:39], seed=9)
    odd = root / "naïve talk é.wav"
    sf.write(odd, audio5, sr)
    for name, timeline in (("speech-8k.wav", tl3), ("speech-96k-float-stereo.wav", tl4)):
        files[name] = root / name
        speech[name] = Speech(root / name, " ".join(s.text for s in timeline))
    files[odd.name] = odd
    speech[odd.name] = Speech(odd, " ".join(s.text for s in tl5))
    return {"root": root, "files": files, "speech": speech}


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


# --------------------------------------------------------------------------- subtitles

def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def _cue(n: int, a: float, b: float, text: str) -> str:
    return f"{n}\n{_srt_time(a)} --> {_srt_time(b)}\n{text}\n"


@pytest.fixture(scope="session")
def subtitled(tmp_path_factory, sentences):
    """Recordings with overlapping and garbled subtitles next to them, prepared once (no ASR)."""
    from voicetune.data.dataset import load_dataset
    from voicetune.sample_data import make_recording, synth_piper

    root = tmp_path_factory.mktemp("bad-subs")
    texts = sentences[48:54]
    clips, sr = synth_piper(texts)
    audio, tl = make_recording(clips, texts, sr, seed=9)
    three = audio[: int((tl[2].end + 0.6) * sr)]
    sf.write(root / "overlap.wav", three, sr)
    (root / "overlap.srt").write_text(  # cue 1 runs 1 s into cue 2: one clip must hold both
        _cue(1, tl[0].start, tl[1].start + 1.0, tl[0].text) + "\n" + _cue(2, tl[1].start, tl[1].end, tl[1].text)
        + "\n" + _cue(3, tl[2].start, tl[2].end, tl[2].text))
    sf.write(root / "overlap-long.wav", audio, sr)
    (root / "overlap-long.srt").write_text(
        _cue(1, tl[0].start, tl[4].end, " ".join(s.text for s in tl[:5])) + "\n"
        + _cue(2, tl[2].start, tl[2].end, tl[2].text) + "\n" + _cue(3, tl[5].start, tl[5].end, tl[5].text))
    sf.write(root / "garbled.wav", three * 0.8, sr)
    (root / "garbled.srt").write_text(
        _cue(1, tl[0].start, tl[0].end, tl[0].text) + "\n"
        + f"2\n00:00:0x,500 --> {_srt_time(tl[1].end)}\n{tl[1].text}\n\n"
        + f"3\n{_srt_time(tl[2].end)} --> {_srt_time(tl[2].start)}\n{tl[2].text}\n\n"
        + _cue(4, 999.0, 1001.0, "Words after the end.") + "\nOrphan words without timing.\n")
    inputs = [root / n for n in ("overlap.wav", "overlap-long.wav", "garbled.wav")]
    before = sha_tree(root)
    out = tmp_path_factory.mktemp("bad-subs-out") / "ds"
    run = vt("prepare", *inputs, "-o", out, "--quiet")
    assert run.code == 0, run.err
    assert sha_tree(root) == before
    return {"root": root, "tl": tl, "ds": load_dataset(out), "out": out}


def test_overlapping_cues_become_one_clip_with_both_texts(subtitled):
    ds, tl = subtitled["ds"], subtitled["tl"]
    sha = next(s.sha256 for s in ds.sources if Path(s.path).name == "overlap.wav")
    texts = [c.text for c in sorted(ds.clips, key=lambda c: c.start) if c.source == sha]
    # the two cues' words stay together in one clip (a cut between them would fall inside cue 1)
    both = normalize_text(f"{tl[0].text} {tl[1].text}")
    assert [t for t in texts if normalize_text(tl[0].text) in t] == [t for t in texts if both in t] != []
    assert " ".join(texts) == " ".join(normalize_text(s.text) for s in tl[:3])


def test_overlap_too_long_for_a_clip_is_quarantined_with_audio(subtitled):
    ds, out = subtitled["ds"], subtitled["out"]
    qs = [q for q in ds.quarantine if q.reason.startswith("overlap-long.srt cue ")]
    assert [q.reason.split(":")[0] for q in qs] == ["overlap-long.srt cue 1", "overlap-long.srt cue 2"]
    assert all("cues 1, 2 overlap and together last" in q.reason and "fix their timings" in q.reason for q in qs)
    assert all((out / "quarantine" / f"{q.clip}.wav").is_file() for q in qs)
    sha = next(s.sha256 for s in ds.sources if Path(s.path).name == "overlap-long.wav")
    assert [c.text for c in ds.clips if c.source == sha] == [normalize_text(subtitled["tl"][5].text)]


def test_garbled_and_impossible_cues_are_quarantined_not_dropped(subtitled):
    ds, tl = subtitled["ds"], subtitled["tl"]
    srt = subtitled["root"] / "garbled.srt"
    duration = sf.info(subtitled["root"] / "garbled.wav").duration
    by_cue = {q.reason.split(":")[0]: q.reason for q in ds.quarantine if q.source == str(srt)}
    assert by_cue == {
        "garbled.srt cue 2": f"garbled.srt cue 2: garbled timing line `00:00:0x,500 --> {_srt_time(tl[1].end)}`; "
                             "fix it as `00:00:01,000 --> 00:00:03,500`",
        "garbled.srt cue 3": f"garbled.srt cue 3: ends before it starts (`{_srt_time(tl[2].end)} --> "
                             f"{_srt_time(tl[2].start)}`); fix its timing",
        "garbled.srt cue 4": f"garbled.srt cue 4: starts at 999.00 s, after the audio ends ({duration:.2f} s); "
                             "check that the subtitle belongs to this recording",
        "garbled.srt cue 5": "garbled.srt cue 5: text without a timing line (a blank line inside a cue?)",
    }
    texts = {q.reason.split(":")[0]: q.text for q in ds.quarantine if q.source == str(srt)}
    assert texts["garbled.srt cue 2"] == tl[1].text and texts["garbled.srt cue 5"] == "Orphan words without timing."
    sha = next(s.sha256 for s in ds.sources if Path(s.path).name == "garbled.wav")
    assert [c.text for c in ds.clips if c.source == sha] == [normalize_text(tl[0].text)]


def test_subtitle_errors_stop_before_any_work(tmp_path, corpus):
    wav = corpus["files"]["speech-8k.wav"]
    before = sha_tree(corpus["root"])
    (tmp_path / "a.wav").write_bytes(wav.read_bytes())
    (tmp_path / "a.srt").write_bytes("1\n00:00:01,000 --> 00:00:02,000\ncafé crème\n".encode("cp1252"))
    refused(vt("prepare", tmp_path / "a.wav", "-o", tmp_path / "ds"), "a.srt: not UTF-8", "--srt-encoding")
    refused(vt("prepare", wav, "--srt", tmp_path / "missing.srt", "-o", tmp_path / "ds"),
            "missing.srt: subtitle file not found")
    (tmp_path / "other.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nhello\n")
    refused(vt("prepare", wav, corpus["files"]["tone.wav"], "--srt", tmp_path / "other.srt", "-o", tmp_path / "ds"),
            "other.srt: no input audio file is named other.*", "name the subtitle like its audio file")
    refused(vt("prepare", corpus["root"], "--srt", tmp_path / "other.srt", "-o", tmp_path / "ds"),
            "other.srt: no input audio file is named other.*")
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []
    assert sha_tree(corpus["root"]) == before


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


# --------------------------------------------------------------------------- broken datasets

def _break(d: Path, how: str) -> str:
    """Damage the dataset copy ``d``; returns the file the error must name."""
    train = d / "metadata_train.csv"
    meta = json.loads((d / "dataset.json").read_text())
    first = meta["clips"][0]["id"]
    if how == "missing-wav":
        row = train.read_text().splitlines()[1].split("|")[0]
        (d / row).unlink()
        return row
    if how == "comma-csv":
        train.write_text(train.read_text().replace("|", ","))
    elif how == "latin1-csv":
        lines = train.read_text().splitlines()
        a, _, s = lines[1].split("|")
        lines[1] = f"{a}|Café crème|{s}"
        train.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    elif how == "empty-csv":
        train.write_bytes(b"")
    elif how == "headerless-csv":
        train.write_text("\n".join(train.read_text().splitlines()[1:]) + "\n")
    elif how == "format-99":
        meta["format_version"] = 99
        (d / "dataset.json").write_text(json.dumps(meta))
        return "dataset.json"
    elif how == "dotdot-id":
        meta["clips"][0]["id"] = "../../escape"
        (d / "dataset.json").write_text(json.dumps(meta))
        for csv in (train, d / "metadata_eval.csv"):
            csv.write_text(csv.read_text().replace(f"wavs/{first}.wav", "wavs/../../escape.wav"))
        return "dataset.json"
    return "metadata_train.csv"


BROKEN = {
    "missing-wav": "file missing; restore it, or remove its row from the metadata CSV",
    "comma-csv": "uses ',' as the separator; fields are separated by '|'",
    "latin1-csv": "not UTF-8 (byte 0xe9); re-save the file as UTF-8",
    "empty-csv": "is empty; the file is damaged: restore it, or write the header line",
    "headerless-csv": "line 1 is not the header `audio_file|text|speaker_name`",
    "format-99": "format_version 99 is not supported by this voicetune (reads 1); it was written by a newer "
                 "voicetune: upgrade voicetune",
    "dotdot-id": "malformed at clips.0.id: Value error, clip id '../../escape' is not a plain file name",
}


@pytest.fixture(scope="session")
def broken(tmp_path_factory, joe_dataset):
    root = tmp_path_factory.mktemp("broken")
    out = {}
    for how in BROKEN:
        d = root / how
        shutil.copytree(joe_dataset, d)
        out[how] = (d, _break(d, how))
    return out


@pytest.mark.parametrize("how", list(BROKEN))
def test_broken_dataset(broken, how, tmp_path, corpus):
    d, named = broken[how]
    before = sha_tree(d)
    check = vt("dataset", "validate", d)
    assert check.code == 1 and "Traceback" not in check.err, check.err
    assert any(named in ln and BROKEN[how] in ln for ln in check.err.splitlines()), check.err
    refused(vt("train", "-d", d, "--base", "joe", "-o", tmp_path / "run", "--max-steps", 1, "-q"), named, BROKEN[how])
    assert not (tmp_path / "run").exists()
    if how != "missing-wav":  # those two read every file: the damaged one stops them at once
        refused(vt("dataset", "report", d), named, BROKEN[how])
        refused(vt("prepare", corpus["files"]["tone.wav"], "-o", d, "-q"), named, BROKEN[how])
    refused(vt("dataset", "split", d), named) if how != "missing-wav" else None
    assert sha_tree(d) == before and leftovers(d.parent) == []


def test_deleting_a_csv_row_is_a_valid_edit(tmp_path, joe_dataset):
    """The README's way to drop a clip: validate stays clean and the report points at the real wav."""
    from voicetune.data.dataset import load_dataset

    d = tmp_path / "ds"
    shutil.copytree(joe_dataset, d)
    csv = d / "metadata_train.csv"
    lines = csv.read_text().splitlines()
    dropped = lines.pop(1).split("|")[0]
    csv.write_text("\n".join(lines) + "\n")
    check = vt("dataset", "validate", d)
    assert check.code == 0, check.err
    assert vt("dataset", "report", d).code == 0
    report = (d / "report.md").read_text()
    assert f"`{dropped}` | removed from the metadata CSV by the user" in report
    assert vt("dataset", "split", d, "--seed", 5).code == 0  # rewritten as one unit: the wav moves along
    clip = Path(dropped).stem
    assert not (d / dropped).exists() and (d / "quarantine" / f"{clip}.wav").is_file()
    assert f"`quarantine/{clip}.wav` | removed from the metadata CSV by the user" in (d / "report.md").read_text()
    assert clip not in {c.id for c in load_dataset(d).clips} and vt("dataset", "validate", d).code == 0


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


# --------------------------------------------------------------------------- signals

def _until(cond, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_prepare_leaves_the_dataset_as_it_was(tmp_path, joe_dataset, corpus, sig, code):
    out = tmp_path / "ds"
    shutil.copytree(joe_dataset, out)
    before = sha_tree(out)
    src = corpus["files"]["speech-96k-float-stereo.wav"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "voicetune", "prepare", src, "-o", out, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert _until(lambda: any(p.name.startswith(".ds.tmp-") for p in tmp_path.iterdir())), "never started"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code and "Traceback" not in err, err
    assert leftovers(tmp_path) == [] and sha_tree(out) == before


def test_sigterm_during_the_bootstrap_keeps_what_is_done(tmp_path, joe_dataset, tiny_voice):
    """The posterior-encoder stage saves a snapshot every bootstrap.SNAPSHOT_EVERY steps; a SIGTERM
    exits 143 without a traceback, and the same command continues from the last snapshot."""
    from voicetune.models.vits import bootstrap as bs

    cache, dataset = tmp_path / "cache", tmp_path / "ds"
    shutil.copytree(joe_dataset, dataset)  # training writes feature caches into its dataset
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "VOICETUNE_CACHE": str(cache)}
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("vits:\n  bootstrap:\n    sentences: 8\n")  # synthesis is not what this test is about
    cmd = [sys.executable, "-m", "voicetune", "train", "-d", dataset, "-b", tiny_voice, "-o", tmp_path / "run",
           "--bootstrap-steps", "100000", "--max-steps", "1", "--config", cfg, "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        partial = lambda: list((cache / "bootstrap").glob("*.partial.safetensors"))  # noqa: E731
        assert _until(partial, timeout=240), "no snapshot written"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "Traceback" not in err, err
    from safetensors import safe_open

    with safe_open(str(partial()[0]), "pt") as f:
        saved = int(f.metadata()["step"])
    assert saved >= bs.SNAPSHOT_EVERY and saved % bs.SNAPSHOT_EVERY == 0
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())  # nothing that looks like a run
    # the same command again continues from the snapshot (stopped once more after the next one)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines: list[str] = []
        assert _until(lambda: lines.append(proc.stdout.readline()) or "continuing from step" in "".join(lines),
                      timeout=240), "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
        proc.kill()
    assert f"continuing from step {saved}" in "".join(lines)


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
    (tmp_path / "loud.srt").write_text("\n".join(_cue(i + 1, s.start, s.end, s.text) for i, s in enumerate(tl)))
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
