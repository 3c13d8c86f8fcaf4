"""The posterior-encoder bootstrap on a tiny random VITS: options, the content-keyed cache, progress,
continuing from a snapshot after an interruption; and the spectral loss it (and fine-tuning) uses."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from test_vits_finetune import tiny_config
from voicetune.models.vits import bootstrap as bs


@pytest.fixture(scope="module")
def phonemizer():
    from voicetune.models.vits.voice import VoiceConfig
    from voicetune.sample_data import joe_voice_path
    from voicetune.text.phonemize import Phonemizer

    path = joe_voice_path().with_suffix(".onnx.json")
    return Phonemizer(VoiceConfig.from_piper_dict(json.loads(path.read_text()), source=str(path)))


def _model(seed: int = 0):
    from voicetune.models.vits.model import VitsModel

    torch.manual_seed(seed)
    return VitsModel(tiny_config()).apply_weight_norm()


TEXTS = bs.distillation_texts()[:12]


def test_cache_key_is_what_was_learned_from_not_the_dataset():
    a = bs.cache_key("ab" * 32, TEXTS, bs.BootstrapOptions())
    assert a == bs.cache_key("ab" * 32, list(TEXTS), bs.BootstrapOptions())
    assert a != bs.cache_key("cd" * 32, TEXTS, bs.BootstrapOptions())  # another base voice
    assert a != bs.cache_key("ab" * 32, TEXTS, bs.BootstrapOptions(recon_weight=1.0))  # another recipe
    assert a != bs.cache_key("ab" * 32, TEXTS[:-1] + ["Something else."], bs.BootstrapOptions())
    # the same options read back from a run's vits.json (pydantic made 4096 a float): the same key, so
    # a resume loads the cache instead of distilling again
    import json

    read_back = bs.BootstrapOptions.model_validate(json.loads(json.dumps(bs.BootstrapOptions().model_dump())))
    assert read_back.recon_resolutions[0][0] == 4096.0 and isinstance(read_back.recon_resolutions[0][0], float)
    assert bs.cache_key("ab" * 32, TEXTS, read_back) == a
    # and a fresh run's key is what it was before this rule (caches on disk stay valid)
    import hashlib

    old = json.dumps({"texts": TEXTS[: None], "options": {k: v for k, v in bs.BootstrapOptions().model_dump().items()
                                                            if not (k in bs.KEY_NEUTRAL and bs.KEY_NEUTRAL[k] == v)}},
                     sort_keys=True)
    assert a == f"{('ab' * 32)[:16]}-{hashlib.sha256(old.encode()).hexdigest()[:16]}"
    # the built-in distillation text has no dataset in it: one bootstrap serves every dataset of a base
    assert bs.distillation_texts() == bs.distillation_texts()


def test_progress_and_continuing_from_a_snapshot(tmp_path, phonemizer, monkeypatch):
    monkeypatch.setattr(bs, "SNAPSHOT_EVERY", 3)
    opts = bs.BootstrapOptions(enc_q_steps=4, sdp_steps=2, batch=2, recon_weight=1.0, recon_frames=8, gain_db=6.0)
    seen: list[tuple[str, int, int]] = []
    partial = tmp_path / "partial.safetensors"
    model = _model()
    first = bs.bootstrap(model, phonemizer, TEXTS, opts, partial=partial, progress=lambda *a: seen.append(a))
    assert first.enc_q_steps == 4 and first.resumed_from == 0 and first.sdp_steps == 2
    stages = {s for s, _, _ in seen}
    assert stages == {"synthesizing base speech", "posterior encoder", "duration predictor"}
    assert ("posterior encoder", 4, 4) in seen and ("duration predictor", 2, 2) in seen
    # a second process after an interruption: the snapshot (saved at the last step) is loaded, not redone
    fresh = _model(seed=5)
    assert bs._load_partial(fresh, partial) == 4
    state, learned = fresh.plain_state_dict(), model.plain_state_dict()
    assert all(torch.equal(state[k], learned[k]) for k in learned if k.startswith("enc_q."))
    again = _model(seed=5)
    report = bs.bootstrap(again, phonemizer, TEXTS, opts.model_copy(update={"enc_q_steps": 6}), partial=partial)
    assert report.resumed_from == 4 and report.enc_q_steps == 6
    assert bs._load_partial(_model(seed=7), partial) == 6


def test_cached_bootstrap_runs_once_and_loads_the_same_weights(tmp_path, phonemizer, monkeypatch):
    monkeypatch.setenv("VOICETUNE_CACHE", str(tmp_path))
    opts = bs.BootstrapOptions(enc_q_steps=3, sdp_steps=1, batch=2, sentences=8)
    model = _model()
    first = bs.cached_bootstrap(model, phonemizer, "ef" * 32, opts)
    assert not first.cached and not list((tmp_path / "bootstrap").glob("*.partial.safetensors"))
    other = _model(seed=3)
    second = bs.cached_bootstrap(other, phonemizer, "ef" * 32, opts)
    assert second.cached
    a, b = model.plain_state_dict(), other.plain_state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(model.training_only_prefixes()))


def test_log_stft_loss_sees_harmonics_in_the_wrong_place():
    from voicetune.models.vits.spectral_losses import log_stft_loss

    sr, n = 22050, 8192
    t = torch.arange(n) / sr

    def voiced(f0: float) -> torch.Tensor:
        return sum(torch.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12)).unsqueeze(0) * 0.3

    pulses = torch.zeros(1, n)
    pulses[:, ::256] = 1.0  # one pulse per decoder frame: harmonics of 86 Hz
    res = [[4096, 300, 1500.0], [1024, 120]]
    target = voiced(166.0)
    same = log_stft_loss(target, target, res, sr)
    close = log_stft_loss(voiced(168.0), target, res, sr)
    buzz = log_stft_loss(pulses * 0.3, target, res, sr)
    assert float(same) < 1e-6 < float(close) < float(buzz)
    y_hat = (pulses * 0.3).requires_grad_(True)
    log_stft_loss(y_hat, target, res, sr).backward()
    assert torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0


def test_frame_comb_penalises_a_pulse_per_decoder_frame_not_speech_pitch():
    from voicetune.models.vits.spectral_losses import comb_excess_loss, frame_comb

    sr, n, hop = 22050, 8192, 256
    t = torch.arange(n) / sr

    def voiced(f0: float, vibrato: float = 0.0) -> torch.Tensor:
        phase = 2 * np.pi * torch.cumsum(f0 * (1 + vibrato * torch.sin(2 * np.pi * 5 * t)), 0) / sr
        return sum(torch.sin(k * phase) / k for k in range(1, 12)).unsqueeze(0) * 0.3

    pulses = torch.zeros(1, n)
    pulses[:, ::hop] = 0.5
    buzz, speech = frame_comb(pulses, hop), frame_comb(voiced(166.0, 0.05), hop)
    assert float(buzz) > 10 and abs(float(speech)) < 2, (buzz, speech)
    # relative to the target: no penalty when the output is as clean as the target, a large one for a buzz
    target = voiced(120.0, 0.05)
    assert float(comb_excess_loss(voiced(150.0, 0.05), target, hop)) < 1.0
    y_hat = (pulses + 0.1 * voiced(166.0)).requires_grad_(True)
    loss = comb_excess_loss(y_hat, target, hop)
    loss.backward()
    assert float(loss) > 5 and torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0


def test_periodicity_loss_points_at_the_target_period():
    from voicetune.models.vits.spectral_losses import normalized_autocorrelation, periodicity_loss

    sr, n = 22050, 8192
    t = torch.arange(n) / sr

    def voiced(f0: float) -> torch.Tensor:
        return sum(torch.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, 12)).unsqueeze(0) * 0.3

    target = voiced(166.0)
    r, _ = normalized_autocorrelation(target)
    assert abs(44 + int(r[0, 0].argmax()) - sr / 166.0) <= 1  # the peak is at the pitch period
    pulses = torch.zeros(1, n)
    pulses[:, ::256] = 0.5
    near, far, buzz = (
        float(periodicity_loss(voiced(168.0), target)), float(periodicity_loss(voiced(120.0), target)),
        float(periodicity_loss(pulses, target)))
    assert float(periodicity_loss(target, target)) == 0.0
    assert near < 0.1 < min(far, buzz), (near, far, buzz)
    y_hat = pulses.clone().requires_grad_(True)
    periodicity_loss(y_hat, target).backward()
    assert torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0


def test_the_steps_flag_sizes_every_stage():
    opts = bs.BootstrapOptions()
    bs.scale_to_steps(opts, 20)  # --bootstrap-steps 20: 20 x 8 crops read ~80 sentences, not all 180
    assert (opts.enc_q_steps, opts.sdp_steps, opts.sentences) == (20, 10, 80)
    opts = bs.BootstrapOptions()
    bs.scale_to_steps(opts, 900)  # more than the default: the duration predictor keeps its 150, every sentence
    assert (opts.enc_q_steps, opts.sdp_steps, opts.sentences) == (900, 150, None)
    opts = bs.BootstrapOptions(sentences=16, sdp_steps=5)
    bs.scale_to_steps(opts, 20)  # what the config asked stays when it is smaller
    assert (opts.sdp_steps, opts.sentences) == (5, 16)
