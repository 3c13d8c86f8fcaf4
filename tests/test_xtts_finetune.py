"""XTTS fine-tuning end to end on a tiny random base: learns, freezes, resumes, extends the
vocabulary, exports a folder coqui's Xtts.load_checkpoint loads, speaks through `voicetune say`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from voicetune.cli import app
from xtts_helpers import copy_dataset, tiny_base, xtts_dataset  # noqa: F401 - session fixtures

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def events(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_tiny_xtts_learns_with_frozen_layers(tmp_path, tiny_base, xtts_dataset):  # noqa: F811
    from voicetune.models.xtts.finetune import XttsTrainOptions
    from voicetune.models.xtts.run import build_backend
    from voicetune.trainer.config import TrainConfig
    from voicetune.trainer.engine import fit

    torch.manual_seed(0)
    run = tmp_path / "run"
    opts = XttsTrainOptions(freeze_layers=1, augment=True)
    backend, _ = build_backend(xtts_dataset, tiny_base, opts, run, log=lambda *a: None)
    gpt = backend.gpt
    frozen = sum(p.numel() for n, p in gpt.named_parameters()
                 if n.startswith(("conditioning_encoder.", "conditioning_perceiver.", "gpt.h.0.")))
    total = sum(p.numel() for p in gpt.parameters())
    assert backend.trainable() == (total - frozen, total)
    assert f"{100 * (total - frozen) / total:.1f} %" in backend.describe()["trainable"]
    cfg = TrainConfig(max_steps=12, epochs=None, batch_size=4, eval_every=6, log_every=1, device="cpu", seed=0,
                      optimizer={"lr": 2e-3}, clip_norm=1.0)
    before = {k: v.clone() for k, v in gpt.state_dict().items()}
    result = fit(backend, cfg, run, show_progress=False)
    assert result.status == "finished" and result.step == 12
    rows = events(run)
    start = next(r for r in rows if r["event"] == "start")["parameters"]["gpt"]
    assert start == {"trainable": total - frozen, "total": total}
    mel = [r["loss"]["mel_ce"] for r in rows if r["event"] == "train"]
    assert set(next(r for r in rows if r["event"] == "train")["loss"]) == {"loss", "total", "text_ce", "mel_ce"}
    assert np.mean(mel[-3:]) < 0.8 * np.mean(mel[:3]), mel
    evals = [r["loss"] for r in rows if r["event"] == "eval"]
    assert len(evals) == 2 and evals[1]["mel_ce"] < evals[0]["mel_ce"]
    after = backend.gpt.state_dict()
    for k in before:  # frozen weights did not move, all others did
        moved = not torch.equal(before[k], after[k])
        assert moved == (not k.startswith(("conditioning_", "gpt.h.0."))), k


def test_small_data_preset_trains_5_to_10_percent_of_the_full_gpt(tiny_base):  # noqa: F811
    from voicetune.models.xtts.features import XttsFeatures
    from voicetune.models.xtts.finetune import XttsBackend
    from voicetune.models.xtts.model import build_gpt, load_tokenizer
    from voicetune.models.xtts.random_base import AUDIO_TOKENS, SIZES
    from voicetune.models.xtts.training import xtts_options

    tok = load_tokenizer(tiny_base / "vocab.json")
    with torch.device("meta"):  # the release architecture, no memory
        gpt = build_gpt({**SIZES["full"], **AUDIO_TOKENS}, tok)
    opts = xtts_options({}, "test", preset="small-data")
    b = XttsBackend(gpt, XttsFeatures(), opts, torch.ones(80))
    t, n = b.trainable()
    assert 0.05 <= t / n <= 0.10, t / n
    assert b.frozen_layers == 28


def test_cli_train_resume_export_load_in_coqui_and_say(tmp_path, tiny_base, xtts_dataset):  # noqa: F811
    run = tmp_path / "run"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("xtts:\n  freeze_layers: 1\nlog_every: 1\noptimizer:\n  lr: 0.001\n")
    # the backend is inferred from the base folder's contents
    invoke("train", "--dataset", xtts_dataset, "--base", tiny_base, "-o", run, "--config", cfg, "--max-steps", 2,
           "--batch-size", 4, "--eval-every", 2, "--quiet")
    info = json.loads((run / "xtts.json").read_text())
    assert info["language"] == "en" and not info["rejected"]
    text = (run / "config.yaml").read_text()
    assert "coqui's XTTS recipe" in text and "clip_norm: 1.0" in text
    invoke("train", "--resume", run, "--max-steps", 3, "--quiet")
    steps = [r["step"] for r in events(run) if r["event"] == "train"]
    assert steps == [1, 2, 3]

    voice = tmp_path / "voice"
    invoke("export", run, "--format", "xtts", "-o", voice, "--no-samples")
    assert {p.name for p in voice.iterdir()} >= {"model.pth", "config.json", "vocab.json", "reference.wav",
                                                 "MODEL_CARD.md"}
    raw = torch.load(voice / "model.pth", weights_only=True)
    assert set(raw) == {"model"} and not any(k.startswith("dvae.") for k in raw["model"])

    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts


    config = XttsConfig()
    config.load_json(str(voice / "config.json"))
    model = Xtts(config)
    model.load_checkpoint(config, checkpoint_dir=str(voice), eval=True, strict=True)
    from voicetune.models.xtts.run import load_run_gpt

    gpt, *_ = load_run_gpt(run, which="last")
    ours = gpt.state_dict()
    theirs = model.gpt.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)

    # --format xtts-fp16 halves model.pth (mel_stats stays fp32); coqui loads it as it is
    from voicetune.models.xtts.export import compact_state

    gpt_part = {k[4:]: v for k, v in raw["model"].items() if k.startswith("gpt.")}
    half = compact_state(raw["model"], gpt_part, fp16=True)
    assert set(half) == set(raw["model"]) and half["mel_stats"].dtype == torch.float32
    assert all(v.dtype == torch.float16 for k, v in half.items() if k != "mel_stats" and v.is_floating_point())
    missing, unexpected = model.load_state_dict(half, strict=False)
    assert not unexpected and all(k.startswith(("gpt.gpt_inference.", "gpt.gpt.wte.")) for k in missing)
    assert next(model.gpt.parameters()).dtype == torch.float32

    wav = tmp_path / "hello.wav"
    invoke("say", "Hello there.", "--voice", voice, "--speaker-wav", voice / "reference.wav", "--seed", 1, "-o", wav)
    audio, sr = sf.read(wav)
    # the reference: coqui's own Xtts, loaded by coqui from the exported folder, same seed
    from voicetune.models.xtts.voice import XttsVoice, conditioning

    fresh = Xtts(config)
    fresh.load_checkpoint(config, checkpoint_dir=str(voice), eval=True, strict=True)
    latent, speaker = conditioning(XttsVoice(fresh, voice, "en"), [voice / "reference.wav"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        ref = np.asarray(fresh.inference("Hello there.", "en", latent, speaker, temperature=0.75)["wav"])
    assert sr == 24000 and len(audio) == len(ref) > 2000
    n = len(ref) - 120  # the 5 ms fades at the edges aside
    assert np.corrcoef(audio[120:n], ref[120:n])[0, 1] > 0.99
    # Piper-only flags are refused for an XTTS voice, before it speaks
    res = CliRunner().invoke(app, ["say", "Hi.", "--voice", str(voice), "--length-scale", "1.2", "-o", str(wav)])
    assert "--length-scale: not used by an XTTS voice, which takes --speaker-wav, --language, --seed" in \
        str(res.exception)


def test_vocab_extension_new_language_loads_and_trains(tmp_path, tiny_base, xtts_dataset):  # noqa: F811
    from voicetune.data.dataset import load_dataset, save_dataset
    from voicetune.errors import VoicetuneError
    from voicetune.models.xtts.finetune import XttsTrainOptions
    from voicetune.models.xtts.model import gpt_state, load_model_state
    from voicetune.models.xtts.run import build_backend, load_run_gpt, write_run_info
    from voicetune.trainer.config import TrainConfig
    from voicetune.trainer.engine import fit

    root = copy_dataset(xtts_dataset, tmp_path / "eo")
    ds = load_dataset(root)
    ds.language = "eo"  # Esperanto: outside coqui's 17 languages, letters the base vocab lacks
    words = ["ĉiu ŝipo ĝojas", "la ĥoro kantas ĵus", "ŭa ĉambro 12 fenestroj", "ĝis revido amiko"]
    for i, c in enumerate(ds.clips):
        c.text = f"{words[i % 4]} {i}"
    save_dataset(ds, root)
    with pytest.raises(VoicetuneError, match="no usable training clip"):
        build_backend(root, tiny_base, XttsTrainOptions(), tmp_path / "r0", log=lambda *a: None)

    run = tmp_path / "run"
    run.mkdir()
    opts = XttsTrainOptions(extend_vocab=True, bpe_vocab_size=80)
    backend, info = build_backend(root, tiny_base, opts, run, log=lambda *a: None)
    ext = info["extension"]
    assert ext["language_token_added"] and ext["added_tokens"] > 0 and ext["size_after"] > ext["size_before"]
    vocab = json.loads((run / "vocab.json").read_text())
    assert "[eo]" in vocab["model"]["vocab"] and "ĉ" in vocab["model"]["vocab"]
    assert vocab["model"]["vocab"]["[STOP]"] == 0  # base ids never move
    assert not backend.features.rejected and all(1 not in it.tokens.tolist() for it in backend.features.train)
    base = gpt_state(load_model_state(tiny_base / "model.pth"))
    n0 = base["text_embedding.weight"].shape[0]
    emb = backend.gpt.text_embedding.weight.detach().clone()
    assert emb.shape[0] == ext["size_after"]
    assert torch.allclose(emb[:n0], base["text_embedding.weight"])
    assert torch.allclose(emb[n0:], base["text_embedding.weight"].mean(0).expand_as(emb[n0:]), atol=1e-6)
    assert torch.allclose(backend.gpt.text_head.bias.detach()[n0:], base["text_head.bias"].mean().expand(emb.shape[0] - n0))
    write_run_info(run, info)
    cfg = TrainConfig(max_steps=3, epochs=None, batch_size=4, eval_every=3, device="cpu", seed=0, optimizer={"lr": 1e-3})
    assert fit(backend, cfg, run, show_progress=False).status == "finished"
    gpt, tok, *_ = load_run_gpt(run, which="last")
    assert gpt.text_embedding.weight.shape[0] == ext["size_after"]
    assert not torch.allclose(gpt.text_embedding.weight[n0:], emb[n0:])  # the new rows learned
    from voicetune.models.xtts.text import encode

    assert 1 not in encode(tok, "ĉiu ŝipo", "eo")
