"""XTTS base folders: clear errors for bad ones, weights_only loading, the torchaudio shim, doctor."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from voicetune.errors import VoicetuneError
from xtts_helpers import tiny_base  # noqa: F401 - session fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_missing_and_misnamed_files_are_named(tmp_path, tiny_base):  # noqa: F811
    from voicetune.models.xtts.base import resolve_base

    bad = tmp_path / "base"
    shutil.copytree(tiny_base, bad)
    (bad / "mel_stats.pth").rename(bad / "mel_norms.pth")
    (bad / "dvae.pth").unlink()
    with pytest.raises(VoicetuneError) as err:
        resolve_base(bad)
    msg = str(err.value)
    assert "missing dvae.pth, mel_stats.pth" in msg and "found: config.json, mel_norms.pth" in msg
    assert "rename mel_norms.pth to mel_stats.pth" in msg and "needed: config.json, model.pth" in msg
    with pytest.raises(VoicetuneError, match="not found"):
        resolve_base(tmp_path / "nope")
    with pytest.raises(VoicetuneError, match="hub download failed"):
        resolve_base("someone/not-a-local-folder")
    (bad / "mel_norms.pth").rename(bad / "mel_stats.pth")
    shutil.copy(tiny_base / "dvae.pth", bad / "dvae.pth")
    (bad / "config.json").write_text('{"model": "vits"}')
    with pytest.raises(VoicetuneError, match="not an XTTS config"):
        resolve_base(bad)


def test_wrong_dvae_and_stats_are_refused(tmp_path, tiny_base):  # noqa: F811
    """coqui loads dvae.pth with strict=False: a wrong file would silently encode with random weights."""
    from voicetune.models.xtts.model import load_dvae, load_mel_stats

    wrong = tmp_path / "dvae.pth"
    torch.save({"decoder.0.weight": torch.zeros(3)}, wrong)
    with pytest.raises(VoicetuneError, match="not an XTTS DVAE .*encoder/codebook weights missing"):
        load_dvae(wrong, 1026)
    saved = torch.load(tiny_base / "dvae.pth", weights_only=True)
    saved = saved.get("model", saved)
    loaded = load_dvae(tiny_base / "dvae.pth", 1026).state_dict()
    common = [k for k in loaded if k in saved]
    assert any("codebook" in k for k in common) and all(torch.equal(loaded[k], saved[k]) for k in common)
    torch.save(torch.ones(12), tmp_path / "stats.pth")
    with pytest.raises(VoicetuneError, match="80 finite mel"):
        load_mel_stats(tmp_path / "stats.pth")


def test_release_style_checkpoint_loads_weights_only(tmp_path, tiny_base):  # noqa: F811
    """The real model.pth pickles an XttsConfig: plain weights_only=True refuses it, coqui's own
    allowlist (still the restricted unpickler) accepts it."""
    import pickle

    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import _legacy_safe_globals

    from voicetune.models.xtts.model import load_model_state

    state = torch.load(tiny_base / "model.pth", weights_only=True)["model"]
    legacy = tmp_path / "model.pth"
    with _legacy_safe_globals():  # pickled under the class paths of the original release
        torch.save({"model": state, "config": XttsConfig()}, legacy)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(legacy, weights_only=True)
    loaded = load_model_state(legacy)
    assert set(loaded) == set(state)
    torch.save({"xtts.gpt.x": torch.zeros(1)}, tmp_path / "junk.pth")
    assert "gpt.x" in load_model_state(tmp_path / "junk.pth")


def test_shim_matches_reference_dsp():
    """The torchaudio stand-in: filterbanks equal librosa's, resampling matches soxr, mels run."""
    import librosa
    import soxr

    from voicetune.models.xtts import torchaudio_shim as ta

    for norm, htk in ((None, True), ("slaney", True)):
        ours = ta.melscale_fbanks(1025, 0.0, 8000.0, 80, 22050, norm=norm, mel_scale="htk").T.numpy()
        ref = librosa.filters.mel(sr=22050, n_fft=2048, n_mels=80, fmin=0.0, fmax=8000.0, htk=htk, norm=norm)
        assert np.allclose(ours, ref, atol=2e-5 * ref.max()), norm
    ours = ta.melscale_fbanks(513, 0.0, 8000.0, 80, 22050, norm="slaney", mel_scale="slaney").T.numpy()
    ref = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0, htk=False, norm="slaney")
    assert np.allclose(ours, ref, atol=1e-5 * ref.max())
    t = np.arange(22050) / 22050
    x = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    y = ta.resample(torch.from_numpy(x)[None], 22050, 16000)[0].numpy()
    ref = soxr.resample(x, 22050, 16000)
    assert y.shape == ref.shape
    assert np.abs(y[200:-200] - ref[200:-200]).max() < 0.02
    mel = ta.MelSpectrogram(sample_rate=22050, n_fft=1024, hop_length=256, n_mels=80, norm="slaney")(torch.from_numpy(x))
    assert mel.shape == (80, 22050 // 256 + 1) and torch.isfinite(mel).all()


def test_xtts_imports_and_doctor_reports_it(tmp_path, tiny_base):  # noqa: F811
    from voicetune.doctor import run_checks
    from voicetune.models.xtts.compat import status

    ok, detail = status()
    assert ok and "coqui-tts" in detail
    checks = {c.name: c for c in run_checks()}
    assert checks["xtts backend"].ok and "coqui-tts" in checks["xtts backend"].detail
    from voicetune.models.xtts.checks import xtts_base_checks

    assert all(c.ok for c in xtts_base_checks(tiny_base))
    broken = tmp_path / "b"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    bad = xtts_base_checks(broken)
    assert not all(c.ok for c in bad) and "missing" in " ".join(c.detail for c in bad)
