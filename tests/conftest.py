"""Session fixtures: real speech synthesized once per test session (Joe Piper voice, espeak-ng)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bad_inputs import corpus  # noqa: F401 - the bad-input suites' session corpus, registered once here

os.environ.setdefault("OMP_NUM_THREADS", "2")


@dataclass
class Recording:
    path: Path
    sample_rate: int
    audio: np.ndarray
    timeline: list  # [Spoken(start, end, text)]
    sha256: str = ""  # of the file's bytes when the fixture wrote it, before anything read it

    def __post_init__(self) -> None:
        import hashlib

        self.sha256 = self.sha256 or hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.timeline)


@pytest.fixture(scope="session")
def sentences():
    from voicetune.sample_data import sentences as load

    return load()


@pytest.fixture(scope="session")
def joe_recording(tmp_path_factory, sentences) -> Recording:
    """~70 s of Joe reading 20 known sentences with 0.5-1.0 s pauses (mono wav, 22.05 kHz)."""
    from voicetune.sample_data import make_recording, synth_piper

    texts = sentences[:20]
    clips, sr = synth_piper(texts)
    audio, timeline = make_recording(clips, texts, sr, seed=1)
    path = tmp_path_factory.mktemp("joe") / "joe_reading.wav"
    sf.write(path, audio, sr)
    return Recording(path, sr, audio, timeline)


@pytest.fixture(scope="session")
def joe_variants(tmp_path_factory, sentences) -> dict[str, Recording]:
    """Other sentences by Joe as 44.1 kHz stereo FLAC, as noisy MP3 (20 dB SNR) and as a second wav."""
    from voicetune.sample_data import add_noise, make_recording, synth_piper, to_stereo_rate

    root = tmp_path_factory.mktemp("variants")
    out = {}
    specs = [("stereo44k.flac", sentences[20:26]), ("noisy.mp3", sentences[26:32]), ("second.wav", sentences[32:38])]
    for seed, (name, texts) in enumerate(specs):
        clips, sr = synth_piper(texts)
        audio, timeline = make_recording(clips, texts, sr, seed=10 + seed)
        path = root / name
        if name.endswith(".flac"):
            sf.write(path, to_stereo_rate(audio, sr, 44100), 44100)
        elif name.endswith(".mp3"):
            audio = add_noise(audio, 20.0, seed=seed)
            sf.write(path, np.clip(audio, -1, 1), sr, format="MP3")
        else:
            sf.write(path, audio, sr)
        out[name] = Recording(path, sr, audio, timeline)
    return out


@pytest.fixture(scope="session")
def espeak_recording(tmp_path_factory, sentences) -> Recording:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (`apt-get install espeak-ng`; `make test` does it)")
    from voicetune.sample_data import make_recording, synth_espeak

    texts = sentences[40:48]
    clips, sr = synth_espeak(texts)
    audio, timeline = make_recording(clips, texts, sr, seed=3)
    path = tmp_path_factory.mktemp("espeak") / "espeak_reading.wav"
    sf.write(path, audio, sr)
    return Recording(path, sr, audio, timeline)


@pytest.fixture(scope="session")
def joe_dataset(tmp_path_factory, joe_recording) -> Path:
    """The Joe recording prepared once with default options (read-only for tests: copy before editing)."""
    from voicetune.data.build import prepare

    out = tmp_path_factory.mktemp("datasets") / "joe"
    prepare([joe_recording.path], out)
    return out


@pytest.fixture(scope="session")
def tiny_voice(tmp_path_factory) -> Path:
    """A tiny random VITS exported as a Piper voice with Joe's phoneme map: an ONNX-only base that
    trains and speaks in seconds (what it says is noise; tests compare it with itself or piper-tts)."""
    import json

    import torch

    from test_vits_finetune import tiny_config
    from voicetune.models.vits.export import export_piper
    from voicetune.models.vits.model import VitsModel
    from voicetune.models.vits.voice import VoiceConfig
    from voicetune.sample_data import joe_voice_path

    torch.manual_seed(1)
    voice_json = joe_voice_path().with_suffix(".onnx.json")
    voice = VoiceConfig.from_piper_dict(json.loads(voice_json.read_text()), source=str(voice_json))
    onnx, _ = export_piper(VitsModel(tiny_config()).eval(), voice, tmp_path_factory.mktemp("tiny-voice") / "tiny.onnx")
    return onnx
