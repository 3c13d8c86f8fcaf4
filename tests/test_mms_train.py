"""MMS end to end: a tiny transformers VITS base fine-tuned through our engine (from a finetune-hf-vits
JSON config and an HF dataset saved to disk), resumed, exported with --format hf, loaded by
transformers' pipeline and compared with our model; speakers, unknown characters, --format piper."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mms_helpers import corr, make_dataset, make_hf_disk_dataset, make_hf_folder
from voicetune.cli import app

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_hf_folder(tmp_path_factory.mktemp("mms") / "mms-tts-tiny")


@pytest.fixture(scope="module")
def json_run(tmp_path_factory, base):
    """`voicetune train --config finetune.json -o RUN` (1 step), then `--resume RUN` (1 more)."""
    root = tmp_path_factory.mktemp("mmsrun")
    hf_ds = make_hf_disk_dataset(root / "hf-voice")
    cfg = root / "finetune_tiny.json"
    cfg.write_text(json.dumps({
        "model_name_or_path": str(base), "dataset_name": str(hf_ds), "audio_column_name": "audio",
        "text_column_name": "sentence", "speaker_id_column_name": "speaker_id", "filter_on_speaker_id": 7,
        "train_split_name": "train", "eval_split_name": "train", "per_device_train_batch_size": 2, "max_steps": 1,
        "learning_rate": 1e-3, "eval_steps": 1, "weight_mel": 35, "push_to_hub": False, "seed": 1,
        "voicetune": {"vits": {"disc_periods": [2], "segment_size": 1024, "samples": 1}, "log_every": 1},
    }))
    run = root / "run"
    out = invoke("train", "--config", cfg, "-o", run, "--quiet")
    invoke("train", "--resume", run, "--max-steps", 2, "--quiet")
    return run, out


def test_json_config_hf_dataset_train_and_resume(json_run, base):
    from safetensors.torch import load_file

    from voicetune.models.mms.import_hf import import_hf

    run, out = json_run
    flat = " ".join(out.split())
    assert "config: learning_rate = 0.001 -> optimizer.lr" in flat and "config: ignored push_to_hub" in flat
    assert "--filter-speaker 7: 3 of 5 clips kept" in flat
    info = json.loads((run / "vits.json").read_text())
    assert info["backend"] == "mms" and info["options"]["c_mel"] == 35 and info["options"]["prior_warmup_steps"] == 0
    assert info["mms"]["licence"].startswith("CC BY-NC 4.0") and (run / "dataset" / "dataset.json").exists()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["event"] == "train"]
    assert [r["step"] for r in train] == [1, 2]
    assert all(np.isfinite(v) for r in train for v in r["loss"].values())
    # the generator moved away from the base
    base_state = import_hf(base).model.plain_state_dict()
    last = load_file(str(run / "checkpoints" / "step-000002" / "model.safetensors"))
    moved = [k for k, v in base_state.items() if f"gen.{k}" in last and not torch.allclose(last[f"gen.{k}"], v)]
    assert "gen.enc_p.emb.weight" in {f"gen.{k}" for k in moved} and len(moved) > len(base_state) // 2


def test_export_hf_loads_in_pipeline_and_matches(json_run, tmp_path):
    from transformers import pipeline

    from voicetune.models.mms.tokenizer import MmsTokenizer
    from voicetune.models.vits.run import load_run_model

    run, _ = json_run
    voice = tmp_path / "tiny-tuned"
    out = invoke("export", run, "--format", "hf", "-o", voice, "--checkpoint", "last")
    assert "pipeline" in out
    card = (voice / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-nc-4.0") and "CC BY-NC 4.0" in card
    assert sorted(p.parent.name for p in (voice / "samples").rglob("*.wav")) == ["long", "medium", "short"]

    text = "Hello there, señor. ¿Qué tal?"
    res = pipeline("text-to-speech", str(voice), device="cpu")(text)
    theirs = np.asarray(res["audio"]).reshape(-1)
    model, _ = load_run_model(run, which="last")
    tok = MmsTokenizer.from_dict(json.loads((run / "vits.json").read_text())["mms"]["tokenizer"])
    ids = tok.encode(text)
    with torch.no_grad():
        ours = model.infer(torch.tensor([ids]), torch.tensor([len(ids)]), noise_scale=0.0, noise_scale_w=0.0).audio
    ours = ours[0, 0].numpy()
    assert res["sampling_rate"] == 8000 and len(theirs) == len(ours)
    assert corr(theirs, ours) >= 0.999
    # `voicetune say` speaks a run through its own tokenizer (not espeak phonemes)
    import soundfile as sf

    invoke("say", text, "--voice", run, "-o", tmp_path / "say.wav")
    said, sr = sf.read(tmp_path / "say.wav")
    assert sr == 8000 and abs(len(said) - len(ours)) < 0.05 * len(ours) + 400 and np.isfinite(said).all()
    # evaluation (`voicetune evaluate`, --select-by) hears a checkpoint through the same loader
    from voicetune.evaluation.targets import synthesizer_for

    heard, rate = synthesizer_for(run / "checkpoints" / "step-000002")(text)
    assert rate == 8000 and abs(len(heard) - len(ours)) < 0.05 * len(ours) + 400
    # a Spanish vocab (á = a + U+0301 under NFD) cannot be written for piper-tts: refused clearly
    res = CliRunner().invoke(app, ["export", str(run), "--format", "piper", "-o", str(tmp_path / "p")])
    assert res.exit_code != 0 and "NFD" in str(res.exception) and "--format hf" in str(res.exception)


def test_unknown_characters_stop_training_before_it_starts(tmp_path, base):
    ds = make_dataset(tmp_path / "ds", texts=["The year 1999 was fine.", "Hello there, how are you doing today?",
                                              "She sells sea shells by the sea shore.", "A rainbow appeared."])
    res = CliRunner().invoke(app, ["train", "--dataset", str(ds), "--base", str(base), "-o", str(tmp_path / "r"),
                                   "--max-steps", "1"])
    msg = str(res.exception)
    assert res.exit_code != 0 and "1 clip(s) use characters the model's vocabulary lacks" in msg
    assert "'9' U+0039 in 1 clip(s)" in msg and "--skip-unknown-chars" in msg
    assert not (tmp_path / "r" / "checkpoints").exists()
    # --skip-unknown-chars: the clip is left out by id, with its reason, in the log and the run file
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("vits:\n  disc_periods: [2]\n  segment_size: 1024\n  samples: 1\n")
    out = invoke("train", "--dataset", ds, "--base", base, "-o", tmp_path / "r2", "--max-steps", 1, "--config", cfg,
                 "--skip-unknown-chars", "--quiet")
    reason = "characters outside the model's vocabulary (--skip-unknown-chars): 1 9"
    assert f"left out clip clip-000: {reason}" in " ".join(out.split())
    info = json.loads((tmp_path / "r2" / "vits.json").read_text())
    assert {"clip_id": "clip-000", "reason": reason} in info["skipped_clips"]


def test_new_speaker_table_keeps_the_base_voice_at_step_zero(base):
    from voicetune.models.mms.import_hf import import_hf
    from voicetune.models.mms.run import with_new_speakers

    imp = import_hf(base)
    multi = with_new_speakers(imp.model, 3).eval()
    assert multi.config.n_speakers == 3 and multi.config.gin_channels == 256
    ids = torch.tensor([imp.tokenizer.encode("hola, buenos días")])
    with torch.no_grad():
        a = imp.model.infer(ids, torch.tensor([ids.shape[1]]), noise_scale=0.0, noise_scale_w=0.0).audio
        b = multi.infer(ids, torch.tensor([ids.shape[1]]), sid=torch.tensor([2]), noise_scale=0.0, noise_scale_w=0.0).audio
    assert torch.allclose(a, b, atol=1e-5)


def test_piper_export_of_an_ascii_mms_voice_matches(tmp_path):
    """Where the character map allows (no accents, no uroman), piper-tts speaks the MMS ids exactly."""
    from piper import PiperVoice, SynthesisConfig

    from voicetune.fileio import write_json
    from voicetune.models.mms.export_hf import piper_text_voice
    from voicetune.models.mms.import_hf import import_hf
    from voicetune.models.vits.export import export_onnx

    folder = make_hf_folder(tmp_path / "ascii", vocab=list("_ abcdefghijklmnopqrstuvwxyz'"), seed=4)
    imp = import_hf(folder)
    voice_json = piper_text_voice(imp.voice, imp.tokenizer)
    voice_json.update(num_symbols=imp.config.num_symbols)
    export_onnx(imp.model, tmp_path / "v.onnx")
    write_json(tmp_path / "v.onnx.json", voice_json)
    piper = PiperVoice.load(str(tmp_path / "v.onnx"))
    text = "Hello There, friend"
    assert piper.phonemes_to_ids(piper.phonemize(text)[0]) == imp.tokenizer.encode(text)
    syn = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0, normalize_audio=False)
    theirs = np.concatenate([c.audio_float_array for c in piper.synthesize(text, syn_config=syn)])
    ids = imp.tokenizer.encode(text)
    with torch.no_grad():
        ours = imp.model.infer(torch.tensor([ids]), torch.tensor([len(ids)]), noise_scale=0.0, noise_scale_w=0.0).audio
    assert corr(theirs, ours[0, 0].numpy()) >= 0.999


def test_speaker_plans():
    from types import SimpleNamespace

    from voicetune.errors import VoicetuneError
    from voicetune.models.mms.run import MmsOptions, plan_speakers

    clips = [SimpleNamespace(id=f"c{i}", speaker=s) for i, s in enumerate(["7", "7", "9", "anna"])]
    single, multi = (SimpleNamespace(config=SimpleNamespace(n_speakers=n)) for n in (1, 12))
    log = []
    with pytest.raises(VoicetuneError, match="3 speakers .* single-speaker.*--filter-speaker"):
        plan_speakers(clips, single, MmsOptions(), log.append)
    kept, ids, new = plan_speakers(clips, single, MmsOptions(filter_speaker="7"), log.append)
    assert [c.id for c in kept] == ["c0", "c1"] and ids == {"7": 0} and new is None
    _, ids, new = plan_speakers(clips[:3], multi, MmsOptions(), log.append)
    assert ids == {"7": 7, "9": 9} and new is None  # speakers named by id train that row
    with pytest.raises(VoicetuneError, match="not speaker ids of the base"):
        plan_speakers(clips, multi, MmsOptions(), log.append)
    _, ids, new = plan_speakers(clips, multi, MmsOptions(override_speaker_embeddings=True), log.append)
    assert ids == {"7": 0, "9": 1, "anna": 2} and new == 3
    with pytest.raises(VoicetuneError, match="no clip of that speaker"):
        plan_speakers(clips, single, MmsOptions(filter_speaker="5"), log.append)
