"""Shared by the bad-input suites (tests/test_bad_*.py): the real `voicetune` entry point run
in-process, byte-level checks that inputs stay unchanged, and the session corpus of bad and
awkward recordings (registered in conftest.py, so it is built once).

Every case ends either in exit code 2 with one line that names the file and the fix, or in a
quarantine entry with its reason; never a traceback; every input byte-identical afterwards; no
half-written output that looks complete. The corpus is built from real speech (the Joe Piper
voice) and cheap synthetic signals.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import signal
import struct
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

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


def until(cond, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def cue(n: int, a: float, b: float, text: str) -> str:
    return f"{n}\n{srt_time(a)} --> {srt_time(b)}\n{text}\n"


# --------------------------------------------------------------------------- the corpus

@dataclass
class Speech:
    path: Path
    text: str


def spoken(texts, seed: int, pauses=(0.5, 1.0)):
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
    audio, sr, tl = spoken(sentences[48:50], seed=5, pauses=(2.0, 2.2))  # pauses that always end a clip
    # truncated: the file is cut inside the second sentence (the header still promises all of it)
    sf.write(root / "truncated.wav", audio, sr, subtype="PCM_16")
    cut_at = 0.5 * (tl[1].start + tl[1].end)
    raw = (root / "truncated.wav").read_bytes()
    (root / "truncated.wav").write_bytes(raw[: 44 + 2 * int(cut_at * sr)])
    files["truncated.wav"] = root / "truncated.wav"
    speech["truncated.wav"] = Speech(root / "truncated.wav", tl[0].text)
    # header lies: all the audio is there, the header promises 60 s
    audio2, sr, tl2 = spoken(sentences[51:52], seed=6)
    sf.write(root / "header-lies.wav", audio2, sr, subtype="PCM_16")
    _truncate_header(root / "header-lies.wav", 60.0)
    files["header-lies.wav"] = root / "header-lies.wav"
    speech["header-lies.wav"] = Speech(root / "header-lies.wav", " ".join(s.text for s in tl2))

    from voicetune.audio import resample

    audio3, sr, tl3 = spoken(sentences[54:56], seed=7)
    sf.write(root / "speech-8k.wav", resample(audio3, sr, 8000), 8000)
    audio4, sr, tl4 = spoken(sentences[57:58], seed=8)
    hi = resample(audio4, sr, 96000)
    sf.write(root / "speech-96k-float-stereo.wav", np.stack([hi, 0.8 * hi], axis=1), 96000, subtype="FLOAT")
    audio5, sr, tl5 = spoken(sentences[38:39], seed=9)
    odd = root / "naïve talk é.wav"
    sf.write(odd, audio5, sr)
    for name, timeline in (("speech-8k.wav", tl3), ("speech-96k-float-stereo.wav", tl4)):
        files[name] = root / name
        speech[name] = Speech(root / name, " ".join(s.text for s in timeline))
    files[odd.name] = odd
    speech[odd.name] = Speech(odd, " ".join(s.text for s in tl5))
    return {"root": root, "files": files, "speech": speech}

