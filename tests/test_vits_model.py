"""The VITS core on a tiny random config: shapes, the training forward, gradients, weight norm."""

from __future__ import annotations

import pytest
import torch

from vits_helpers import tiny_config
from voicetune.models.vits import losses
from voicetune.models.vits.config import PRESETS, VitsConfig, preset
from voicetune.models.vits.discriminators import MultiPeriodDiscriminator, MultiScaleDiscriminator
from voicetune.models.vits.mel import mel_filterbank, mel_spectrogram, spectrogram
from voicetune.models.vits.model import VitsModel


def _batch(config: VitsConfig, b: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x_lengths = torch.tensor([12, 9, 7][:b])
    x = torch.randint(0, config.num_symbols, (b, int(x_lengths.max())), generator=g)
    y_lengths_frames = torch.tensor([40, 33, 24][:b])
    samples = int(y_lengths_frames.max()) * config.hop_length
    y = torch.randn(b, samples, generator=g) * 0.3
    y = y.clamp(-0.99, 0.99)
    spec = spectrogram(y, config.filter_length, config.hop_length, config.win_length)
    return x, x_lengths, y, spec, y_lengths_frames


@pytest.mark.parametrize("n_speakers,use_sdp", [(1, True), (3, True), (1, False)])
def test_training_forward_shapes_and_gradients(n_speakers, use_sdp):
    torch.manual_seed(0)
    config = tiny_config(n_speakers=n_speakers, use_sdp=use_sdp)
    model = VitsModel(config).apply_weight_norm().train()
    x, x_lengths, y, spec, spec_lengths = _batch(config)
    sid = torch.tensor([0, 1, 2]) if n_speakers > 1 else None
    out = model(x, x_lengths, spec, spec_lengths, sid=sid)

    b = x.size(0)
    assert out.audio_hat.shape == (b, 1, config.segment_size)
    assert out.attn.shape == (b, 1, spec.size(2), x.size(1))
    # MAS gives every frame of an item exactly one token, every token >= 1 frame
    per_frame = out.attn.sum(-1).squeeze(1)
    assert torch.equal(per_frame, out.y_mask.squeeze(1))
    durations = out.attn.sum(2).squeeze(1)
    for i in range(b):
        assert durations[i, : x_lengths[i]].min() >= 1
        assert durations[i].sum() == spec_lengths[i]
    assert out.l_length.shape == (b,)

    y_seg = torch.stack(
        [y[i, s * config.hop_length : s * config.hop_length + config.segment_size] for i, s in enumerate(out.ids_slice.tolist())]
    ).unsqueeze(1)
    mel = mel_spectrogram(y_seg.squeeze(1), config.filter_length, config.mel_channels, config.sample_rate, config.hop_length, config.win_length)
    mel_hat = mel_spectrogram(
        out.audio_hat.squeeze(1), config.filter_length, config.mel_channels, config.sample_rate, config.hop_length, config.win_length
    )
    loss = (
        45 * losses.mel_l1_loss(mel_hat, mel)
        + losses.kl_loss(out.z_p, out.logs_q, out.m_p, out.logs_p, out.y_mask)
        + losses.duration_loss(out.l_length)
    )
    assert torch.isfinite(loss)
    loss.backward()
    # (dp.convs and dp.post_pre get zero gradient at init: every ConvFlow projection starts at 0)
    dp_parts = ("dp.post_flows.", "dp.flows.1.", "dp.flows.3.") if use_sdp else ("dp.conv_1.", "dp.proj.")
    for prefix in ("enc_p.", "enc_q.", "flow.", "dec.", *dp_parts):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(prefix)]
        assert grads and all(gr is not None for gr in grads), prefix
        assert sum(float(gr.abs().sum()) for gr in grads) > 0, prefix
    if n_speakers > 1:
        assert model.emb_g.weight.grad is not None and model.emb_g.weight.grad.abs().sum() > 0


def test_discriminators_and_adversarial_losses():
    torch.manual_seed(0)
    y = torch.randn(1, 1, 256) * 0.1
    y_hat = (torch.randn(1, 1, 256) * 0.1).requires_grad_()
    # full-width discriminators are slow to build on CPU: one period and two scales suffice here
    for disc in (MultiPeriodDiscriminator(periods=(3,)), MultiScaleDiscriminator(n_scales=2)):
        y_d_rs, y_d_gs, fmap_rs, fmap_gs = disc(y, y_hat.detach())
        assert len(y_d_rs) == len(disc.discriminators)
        loss_d, r, g = losses.discriminator_loss(y_d_rs, y_d_gs)
        assert torch.isfinite(loss_d) and len(r) == len(g) == len(y_d_rs)
        loss_d.backward()
        assert all(p.grad is not None for p in disc.parameters())
        _, y_d_gs, fmap_rs, fmap_gs = disc(y, y_hat)
        loss_g = losses.generator_loss(y_d_gs)[0] + losses.feature_loss(fmap_rs, fmap_gs)
        loss_g.backward()
        assert y_hat.grad is not None and y_hat.grad.abs().sum() > 0
    # the period discriminator folds time by its period
    assert MultiPeriodDiscriminator(periods=(5,)).discriminators[1].period == 5


def test_lsgan_losses_values():
    ones, zeros = [torch.ones(4)], [torch.zeros(4)]
    assert float(losses.discriminator_loss(ones, zeros)[0]) == 0.0
    assert float(losses.discriminator_loss(zeros, ones)[0]) == 2.0
    assert float(losses.generator_loss(ones)[0]) == 0.0
    m = torch.zeros(1, 2, 3)
    # logs 0 and z = m: -0.5 per channel, summed over channels, averaged over frames (as VITS)
    assert abs(float(losses.kl_loss(m, m, m, m, torch.ones(1, 1, 3))) + 1.0) < 1e-6


def test_weight_norm_toggle_keeps_outputs():
    torch.manual_seed(0)
    model = VitsModel(tiny_config()).eval()
    x = torch.randint(0, 40, (1, 10))
    lengths = torch.tensor([10])
    ref = model.infer(x, lengths, noise_scale=0.0, noise_scale_w=0.0).audio
    model.apply_weight_norm()
    assert model.has_weight_norm
    assert any("parametrizations" in k for k in model.state_dict())
    wn = model.infer(x, lengths, noise_scale=0.0, noise_scale_w=0.0).audio
    plain = model.plain_state_dict()
    assert not any("parametrizations" in k for k in plain)
    other = VitsModel(tiny_config()).eval()
    other.load_plain_state_dict(plain)
    again = other.infer(x, lengths, noise_scale=0.0, noise_scale_w=0.0).audio
    assert torch.allclose(ref, wn, atol=1e-5) and torch.allclose(ref, again, atol=1e-5)


def test_infer_length_scale_and_noise():
    torch.manual_seed(0)
    model = VitsModel(tiny_config()).eval()
    x = torch.randint(0, 40, (1, 10))
    lengths = torch.tensor([10])
    base = model.infer(x, lengths, noise_scale=0.0, noise_scale_w=0.0)
    slow = model.infer(x, lengths, noise_scale=0.0, noise_scale_w=0.0, length_scale=2.0)
    assert slow.audio.size(-1) > 1.6 * base.audio.size(-1)
    assert base.audio.size(-1) == int(base.durations.sum()) * 16
    a = model.infer(x, lengths, noise_scale=0.0, noise_scale_w=0.0).audio
    assert torch.equal(a, base.audio)  # noise 0 is deterministic


def test_presets_build_with_expected_sizes():
    sizes = {}
    for name in PRESETS:
        cfg = preset(name)
        assert cfg.hop_length == 256
        sizes[name] = VitsModel(cfg).num_parameters("dec.resblocks.")
    # medium's decoder is Piper's resblock-2 HiFi-GAN; high/MMS the big resblock-1 one
    assert sizes["medium"] == sizes["low"] == sizes["x_low"]
    assert sizes["high"] == sizes["mms"] > 3 * sizes["medium"]
    assert preset("x_low").hidden_channels == 96 and preset("low").sample_rate == 16000
    cfg = preset("medium", n_speakers=4)
    assert cfg.gin_channels == 512
    assert VitsConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError):
        VitsConfig(upsample_rates=(8, 8, 2))


def test_mel_matches_piper_training_code_and_frame_count():
    """Our log-mel is piper1-gpl's own (piper.train.vits.mel_processing, installed with the piper-train
    extra): the spectrogram the fine-tune's mel loss compares must be the one the base was trained on."""
    from piper.train.vits.mel_processing import mel_spectrogram_torch

    torch.manual_seed(0)
    y = torch.zeros(2, 256 * 37).uniform_(-0.5, 0.5)
    ours = mel_spectrogram(y, 1024, 80, 22050, 256, 1024, 0.0, 8000.0)
    piper = mel_spectrogram_torch(y, 1024, 80, 22050, 256, 1024, 0.0, 8000.0)
    assert ours.shape == piper.shape == (2, 80, 37)
    assert torch.allclose(ours, piper, atol=1e-4)
    assert spectrogram(y, 1024, 256, 1024).shape == (2, 513, 37)
    assert mel_filterbank(22050, 1024, 80).shape == (80, 513)


def test_bucketed_infer_keeps_prior_and_flow_exact():
    torch.manual_seed(0)
    model = VitsModel(tiny_config()).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("flow.") and name.endswith("post.weight"):
                p.normal_(0, 0.05)
    x = torch.randint(4, 40, (1, 13))
    lengths = torch.tensor([13])
    exact = model.infer(x, lengths, noise_scale=0.0, noise_scale_w=0.0)
    padded_ids = torch.cat([x, torch.zeros(1, 3, dtype=torch.long)], 1)  # token padding is masked
    bucketed = model.infer(padded_ids, lengths, noise_scale=0.0, noise_scale_w=0.0, pad_frames_to=16)
    assert bucketed.audio.shape == exact.audio.shape
    assert torch.allclose(bucketed.z, exact.z, atol=1e-5)  # flow output identical where it counts
    a, b = exact.audio.flatten(), bucketed.audio.flatten()
    tail = 8 * 16  # only the decoder's receptive field at the very end may differ
    assert torch.allclose(a[:-tail], b[:-tail], atol=1e-4)
