"""VITS fine-tuning through the engine: features cache, a tiny model that learns, run checkpoints
that load back and export to a Piper voice piper-tts speaks with."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from voicetune.data.dataset import load_dataset

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def tiny_config():
    from voicetune.models.vits.config import VitsConfig

    # Joe's rate, hop and phoneme inventory (features come from the real Joe voice config),
    # everything else tiny so a few dozen steps run in seconds.
    return VitsConfig(
        num_symbols=256, hidden_channels=32, inter_channels=16, filter_channels=64, n_heads=2, n_layers=2,
        resblock="2", resblock_kernel_sizes=(3,), resblock_dilation_sizes=((1, 2),), upsample_rates=(8, 8, 4),
        upsample_initial_channel=32, upsample_kernel_sizes=(16, 16, 8), flow_n_layers=2, posterior_n_layers=2,
        segment_size=4096,
    )


@pytest.fixture(scope="module")
def joe_voice():
    from voicetune.models.vits.voice import VoiceConfig
    from voicetune.sample_data import joe_voice_path

    path = joe_voice_path().with_suffix(".onnx.json")
    return VoiceConfig.from_piper_dict(json.loads(path.read_text()), source=str(path))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, joe_dataset):
    d = tmp_path_factory.mktemp("vitsft") / "ds"
    shutil.copytree(joe_dataset, d)
    return d


def test_feature_cache_is_keyed_by_content(dataset, joe_voice):
    from voicetune.audio import load_audio, write_wav
    from voicetune.models.vits.features import FeatureCache

    cfg = tiny_config()
    ds = load_dataset(dataset)
    first = FeatureCache(dataset, joe_voice, cfg).build(ds)
    n = len(first.train) + len(first.eval)
    assert n == len(ds.clips) and not first.skipped
    item = first.train[0]
    assert item.spec.shape == (cfg.spec_channels, item.frames)
    assert item.audio.shape[0] == item.frames * cfg.hop_length
    assert FeatureCache(dataset, joe_voice, cfg).build(ds).cache_hits == n
    # replace one wav (same name): its features must be recomputed, never served stale
    clip = next(c for c in ds.clips if c.id == item.clip_id)
    wav = dataset / clip.audio_file
    write_wav(wav, load_audio(wav, ds.sample_rate) * 0.5, ds.sample_rate)
    again = FeatureCache(dataset, joe_voice, cfg).build(ds)
    assert again.cache_hits == n - 1
    fresh = next(it for it in again.train if it.clip_id == item.clip_id)
    assert torch.allclose(fresh.audio, item.audio * 0.5, atol=2e-4)
    # the segment length is checked on cached items too: a longer segment skips the short clips
    frames = sorted(it.frames for it in again.train + again.eval)
    longer = cfg.with_(segment_size=frames[len(frames) // 2] * cfg.hop_length)
    strict = FeatureCache(dataset, joe_voice, longer).build(ds)
    assert strict.cache_hits == n
    short = {it.clip_id for it in again.train + again.eval if it.frames < longer.segment_frames}
    assert short and {s.clip_id for s in strict.skipped} == short
    assert all("shorter than one training segment" in s.reason for s in strict.skipped)


def test_phonemes_outside_the_voice_are_reported_not_dropped(dataset, joe_voice):
    from voicetune.models.vits.features import FeatureCache

    ds = load_dataset(dataset)
    voice = type(joe_voice).from_piper_dict(joe_voice.to_piper_dict())
    missing = "ð"
    voice.phoneme_id_map.pop(missing)
    fs = FeatureCache(dataset, voice, tiny_config()).build(ds)
    assert fs.skipped and all(missing in s.reason for s in fs.skipped)
    assert len(fs.skipped) + len(fs.train) + len(fs.eval) == len(ds.clips)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, dataset, joe_voice):
    from voicetune.models.vits.features import FeatureCache
    from voicetune.models.vits.finetune import VitsBackend, VitsTrainOptions
    from voicetune.models.vits.model import VitsModel
    from voicetune.models.vits.run import write_run_info
    from voicetune.trainer.config import TrainConfig
    from voicetune.trainer.engine import fit

    torch.manual_seed(0)
    cfg = tiny_config()
    model = VitsModel(cfg)
    cache = FeatureCache(dataset, joe_voice, cfg)
    features = cache.build(load_dataset(dataset))
    options = VitsTrainOptions(disc_periods=[2], prior_warmup_steps=10, segment_size=4096, samples=1)
    backend = VitsBackend(model, joe_voice, features, options, cache.phonemizer, eval_texts=["A short test sentence."])
    run = tmp_path_factory.mktemp("runs") / "tiny"
    write_run_info(run, {"format_version": 1, "voice": joe_voice.to_piper_dict(), "model_config": cfg.to_dict(),
                         "options": options.model_dump(), "dataset": str(dataset), "base": "random"})
    train_cfg = TrainConfig(max_steps=40, epochs=None, batch_size=4, eval_every=20, log_every=5, device="cpu",
                            seed=0, optimizer={"lr": 2e-3})
    result = fit(backend, train_cfg, run, show_progress=False)
    return run, backend, result


def test_tiny_vits_learns(tiny_run):
    run, _, result = tiny_run
    assert result.status == "finished" and result.step == 40
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    mel = [r["loss"]["mel"] for r in rows if r["event"] == "train"]
    assert len(mel) >= 8
    assert np.mean(mel[-3:]) < 0.8 * np.mean(mel[:3]), f"mel loss did not fall: {mel}"
    evals = [r for r in rows if r["event"] == "eval"]
    assert len(evals) == 2 and all(np.isfinite(r["loss"]["loss"]) for r in evals)
    frozen = [r for r in rows if r["event"] == "start"][0]["parameters"]["gen"]
    assert frozen["trainable"] < frozen["total"], "prior groups start frozen"
    assert list((run / "samples").glob("step-*/eval-00.wav"))


def test_run_checkpoint_loads_back_and_exports_to_piper(tiny_run, tmp_path):
    from piper import PiperVoice, SynthesisConfig

    from voicetune.models.vits.export import export_piper
    from voicetune.models.vits.run import load_run_model

    run, backend, _ = tiny_run
    model, voice = load_run_model(run, which="last")
    trained = backend.model.plain_state_dict()
    loaded = model.state_dict()
    assert set(trained) == set(loaded)
    assert all(torch.allclose(trained[k].cpu(), loaded[k], atol=1e-6) for k in trained)

    onnx, _ = export_piper(model, voice, tmp_path / "tiny.onnx")
    piper = PiperVoice.load(str(onnx))
    syn = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0)
    theirs = np.concatenate([c.audio_float_array for c in piper.synthesize("A short test sentence.", syn_config=syn)])
    ids = piper.phonemes_to_ids(piper.phonemize("A short test sentence.")[0])
    with torch.no_grad():
        ours = model.infer(torch.tensor([ids]), torch.tensor([len(ids)]), noise_scale=0.0, noise_scale_w=0.0).audio
    ours = ours[0, 0].numpy()
    # piper-tts normalises loudness per chunk: compare shapes by correlation
    n = min(len(ours), len(theirs))
    assert abs(len(ours) - len(theirs)) <= 256
    assert np.corrcoef(ours[:n], theirs[:n])[0, 1] > 0.999


def test_lr_mult_scales_one_group_and_rejects_unknown_groups(tiny_run):
    from voicetune.errors import VoicetuneError
    from voicetune.models.vits.finetune import VitsBackend, VitsTrainOptions
    from voicetune.trainer.config import OptimizerConfig
    from voicetune.trainer.schedule import build_optimizer

    _, backend, _ = tiny_run
    slow = VitsBackend(backend.model, backend.voice, backend.features, VitsTrainOptions(lr_mult={"dec": 0.1}),
                       backend.phonemizer)
    groups = slow.param_groups(slow.modules())["gen"]
    dec = {id(p) for p in backend.model.dec.parameters()}
    by_mult = {g["lr_mult"]: {id(p) for p in g["params"]} for g in groups}
    assert by_mult[0.1] == dec and not by_mult[1.0] & dec
    opt = build_optimizer(OptimizerConfig(lr=2e-4), slow.param_groups(slow.modules())["gen"])
    assert sorted(g["base_lr"] for g in opt.param_groups) == pytest.approx([2e-5, 2e-4])
    with pytest.raises(VoicetuneError, match="unknown group"):
        VitsBackend(backend.model, backend.voice, backend.features, VitsTrainOptions(lr_mult={"decoder": 0.1}),
                    backend.phonemizer)


def test_with_decoder_and_posterior_frozen_only_the_prior_trains(tmp_path, dataset, joe_voice):
    """The waveform losses cannot reach a trainable weight: the step trains the flow by the KL,
    leaves the discriminator untouched, and still logs a mel loss comparable with the eval's."""
    from voicetune.models.vits.features import FeatureCache
    from voicetune.models.vits.finetune import VitsBackend, VitsTrainOptions
    from voicetune.models.vits.model import VitsModel
    from voicetune.models.vits.run import write_run_info
    from voicetune.trainer.config import TrainConfig
    from voicetune.trainer.engine import fit

    torch.manual_seed(0)
    cfg = tiny_config()
    model = VitsModel(cfg)
    cache = FeatureCache(dataset, joe_voice, cfg)
    features = cache.build(load_dataset(dataset))
    options = VitsTrainOptions(disc_periods=[2], prior_warmup_steps=0, segment_size=4096, samples=0,
                               freeze=["enc_p", "dp", "dec", "enc_q"])
    backend = VitsBackend(model, joe_voice, features, options, cache.phonemizer, eval_texts=["A short test."])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    disc = dict(backend.modules())["disc"]
    disc_before = {k: v.clone() for k, v in disc.state_dict().items()}
    run = tmp_path / "run"
    write_run_info(run, {"format_version": 1, "voice": joe_voice.to_piper_dict(), "model_config": cfg.to_dict(),
                         "options": options.model_dump(), "dataset": str(dataset), "base": "random"})
    train_cfg = TrainConfig(max_steps=12, epochs=None, batch_size=4, eval_every=6, log_every=1, device="cpu",
                            seed=0, optimizer={"lr": 2e-3})
    assert fit(backend, train_cfg, run, show_progress=False).status == "finished"
    after = model.state_dict()
    moved = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert moved == {"flow"}, moved
    assert all(torch.equal(v, disc.state_dict()[k]) for k, v in disc_before.items())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r["loss"] for r in rows if r["event"] == "train"]
    assert len(train) == 12 and all("disc" not in r and r["mel"] > 0 for r in train)
    assert all(r["loss"] == pytest.approx(r["mel"] + r["kl"] + r["dur"], rel=1e-4) for r in train)
    kl = [r["kl"] for r in train]
    assert np.mean(kl[-3:]) < np.mean(kl[:3]), kl  # the flow learns to map z_q onto the prior


def test_freeze_until_and_warm_ups_are_sized_from_the_run(dataset, joe_voice):
    from voicetune.models.vits.features import FeatureCache
    from voicetune.models.vits.finetune import VitsBackend, VitsTrainOptions
    from voicetune.models.vits.model import VitsModel
    from voicetune.trainer.backend import FreezeRule

    cfg = tiny_config()
    cache = FeatureCache(dataset, joe_voice, cfg)
    features = cache.build(load_dataset(dataset))
    options = VitsTrainOptions(disc_periods=[2], segment_size=4096, freeze=["enc_p"], prior_warmup_steps=100,
                               freeze_until={"dec": 0.5, "enc_q": 3})
    backend = VitsBackend(VitsModel(cfg), joe_voice, features, options, cache.phonemizer)
    why = backend.fit_run_length(40)
    assert "20: 0.5 of the run's 40 steps" in why["freeze_until.dec"]
    assert options.prior_warmup_steps == 8 and "(asked 100)" in why["prior_warmup_steps"]  # 20 % of 40
    rules = backend.freeze_rules()
    assert FreezeRule("gen.enc_p.") in rules and FreezeRule("gen.dec.", 20) in rules and FreezeRule("gen.enc_q.", 3) in rules
    assert FreezeRule("gen.flow.", 8) in rules and FreezeRule("gen.dp.", 8) in rules
    # with the posterior encoder frozen all run there is nothing for the prior to wait for
    options.freeze = ["enc_p", "enc_q"]
    assert not [r for r in backend.freeze_rules() if r.prefix in ("gen.flow.", "gen.dp.")]


@pytest.mark.parametrize("latent,grad", [("posterior", False), ("prior", False), ("prior", True)])
def test_the_decoder_is_trained_on_the_latent_it_is_told_to_read(dataset, joe_voice, latent, grad):
    """``decoder_latent: prior`` decodes flow^-1(m_p + noise) at the alignment's durations: the
    waveform loss reaches the decoder and, with ``prior_latent_grad``, the flow and text encoder
    through the inverse flow, never the posterior encoder; at noise 0 it is the inverse flow of the
    aligned prior mean, built here by hand."""
    from voicetune.models.vits import commons
    from voicetune.models.vits.features import FeatureCache, collate
    from voicetune.models.vits.finetune import VitsBackend, VitsTrainOptions
    from voicetune.models.vits.model import VitsModel

    torch.manual_seed(0)
    cfg = tiny_config()
    cache = FeatureCache(dataset, joe_voice, cfg)
    features = cache.build(load_dataset(dataset))
    options = VitsTrainOptions(disc_periods=[2], segment_size=4096, decoder_latent=latent, prior_latent_grad=grad)
    model = VitsModel(cfg)
    backend = VitsBackend(model, joe_voice, features, options, cache.phonemizer)
    batch = collate(features.train[:2])
    out, y = backend._forward(model, batch)
    assert out.audio_hat.shape == y.shape
    backend._mel(out.audio_hat).sub(backend._mel(y)).abs().mean().backward()

    def reached(group):
        return any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model, group).parameters())

    assert reached("dec")
    assert reached("enc_q") == (latent == "posterior")
    assert reached("flow") == reached("enc_p") == grad

    options.prior_latent_noise = 0.0
    model.eval()  # the text encoder's dropout off, so both read the same m_p
    with torch.no_grad():
        out = model(batch["ids"], batch["ids_lengths"], batch["spec"], batch["spec_lengths"], decode=False)
        got = backend._decode_prior(model, out, None)
        x, m_p, _, _ = model.enc_p(batch["ids"], batch["ids_lengths"])
        m_p = torch.matmul(out.attn.squeeze(1), m_p.transpose(1, 2)).transpose(1, 2) * out.y_mask
        z = model.flow(m_p, out.y_mask, reverse=True)
        want = model.dec(commons.slice_segments(z, out.ids_slice, cfg.segment_frames))
    assert torch.allclose(got, want, atol=1e-5)


def _recon_l1(model, items) -> float:
    with torch.no_grad():
        total = 0.0
        for it in items:
            g = model.speaker_embedding(torch.tensor([it.speaker]))
            _, m_q, _, mask = model.enc_q(it.spec.unsqueeze(0), torch.tensor([it.frames]), g=g)
            y_hat = model.dec(m_q * mask, g=g)[0, 0]
            n = min(y_hat.shape[-1], it.audio.shape[-1])
            total += torch.nn.functional.l1_loss(_mel(model, y_hat[:n]), _mel(model, it.audio[:n])).item()
        return total / len(items)


def _mel(model, y):
    from voicetune.models.vits.mel import mel_spectrogram

    c = model.config
    return mel_spectrogram(y.unsqueeze(0), c.filter_length, c.mel_channels, c.sample_rate, c.hop_length, c.win_length)


@pytest.mark.parametrize("speakers", [1, 2])
def test_posterior_adaptation_moves_only_the_encoder_toward_the_clips(dataset, joe_voice, speakers):
    """vits.posterior_adapt trains enc_q through the frozen decoder: its reconstructions of the
    clips, dec(m_q(spec)), get closer to them, and no other weight moves, the speaker table of a
    two-speaker model included."""
    import dataclasses

    from voicetune.models.vits.features import FeatureCache
    from voicetune.models.vits.finetune import VitsTrainOptions
    from voicetune.models.vits.model import VitsModel
    from voicetune.models.vits.posterior_adapt import PosteriorAdaptOptions, adapt_posterior

    torch.manual_seed(0)
    cfg = dataclasses.replace(tiny_config(), n_speakers=speakers, gin_channels=8 if speakers > 1 else 0)
    model = VitsModel(cfg).apply_weight_norm()
    features = FeatureCache(dataset, joe_voice, cfg).build(load_dataset(dataset))
    items = [dataclasses.replace(it, speaker=k % speakers) for k, it in enumerate(features.train[:4])]
    before, state = _recon_l1(model, items), {k: v.clone() for k, v in model.state_dict().items()}
    o = VitsTrainOptions(c_stft=45.0)
    report = adapt_posterior(model, items, PosteriorAdaptOptions(steps=40, lr=2e-3, frames=32), c_mel=o.c_mel,
                             c_stft=o.c_stft, stft_resolutions=o.stft_resolutions)
    after = _recon_l1(model, items)
    assert report.steps == 40 and report.loss_after < report.loss_before
    assert after < 0.8 * before, (before, after)
    moved = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, state[k])}
    assert moved == {"enc_q"}, moved
    assert all(p.requires_grad for p in model.parameters())  # the engine's freeze rules decide from here


def test_posterior_adaptation_comes_out_of_the_time_budget(dataset, joe_voice):
    from types import SimpleNamespace

    from voicetune.errors import VoicetuneError
    from voicetune.models.vits.features import FeatureCache
    from voicetune.models.vits.finetune import VitsTrainOptions
    from voicetune.models.vits.model import VitsModel
    from voicetune.models.vits.training import adapt_before_run
    from voicetune.trainer.config import TrainConfig

    cfg = tiny_config()
    features = FeatureCache(dataset, joe_voice, cfg).build(load_dataset(dataset))
    model = VitsModel(cfg).apply_weight_norm()
    backend = SimpleNamespace(model=model, features=features, notes=[],
                              options=VitsTrainOptions(posterior_adapt={"steps": 3, "frames": 16}))
    train_cfg = TrainConfig(max_minutes=30.0, batch_size=2)
    lines, info = [], {}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert adapt_before_run(backend, info, train_cfg, True, lines.append) is train_cfg  # a dry run only says so
    assert "3 steps before the run" in lines[-1] and not info
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    got = adapt_before_run(backend, info, train_cfg, False, lines.append)
    spent = info["posterior_adapt"]["seconds"]
    assert info["posterior_adapt"]["steps"] == 3 and got.max_minutes == pytest.approx(30.0 - spent / 60)
    assert "posterior adaptation: 3 steps" in backend.notes[-1]
    with pytest.raises(VoicetuneError, match="posterior_adapt: its 3 steps took"):
        adapt_before_run(backend, {}, TrainConfig(max_minutes=1e-6, batch_size=2), False, lines.append)
    backend.options.posterior_adapt.steps = 0
    assert adapt_before_run(backend, {}, train_cfg, False, lines.append) is train_cfg
