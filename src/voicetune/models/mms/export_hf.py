"""An MMS run's checkpoint -> a transformers folder (``VitsModel`` + ``VitsTokenizer`` + config) that
``transformers.pipeline("text-to-speech", FOLDER)`` loads, with a model card stating the base's
licence (MMS: CC BY-NC 4.0). Also ``--format piper`` where the character map allows (piper-tts's
``text`` phoneme type): see ``piper_text_voice``.
"""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from voicetune.errors import VoicetuneError
from voicetune.fileio import write_json
from voicetune.models.mms.convert import config_to_hf, state_to_hf
from voicetune.models.mms.tokenizer import MmsTokenizer


def hf_config_for(model, voice, base_config: dict[str, Any]) -> dict[str, Any]:
    base = {k: v for k, v in base_config.items() if not k.startswith("discriminator")}
    cfg = config_to_hf(model.config, base)
    cfg.update(noise_scale=voice.noise_scale, noise_scale_duration=voice.noise_w,
               speaking_rate=1.0 / voice.length_scale if voice.length_scale else 1.0, architectures=["VitsModel"])
    return cfg


def save_transformers(model, voice, tokenizer: MmsTokenizer, base_config: dict[str, Any], folder: Path) -> None:
    """Write VitsModel (safetensors) + VitsTokenizer + config.json into ``folder``."""
    try:
        import transformers
    except ImportError:
        raise VoicetuneError("--format hf needs transformers: `pip install 'voicetune[mms]'`") from None
    from voicetune.versions import require_tested

    require_tested("mms")  # the weight-name map below is transformers' VitsModel layout

    plain = model.plain_copy().cpu().float().eval()
    cfg = transformers.VitsConfig(**hf_config_for(plain, voice, base_config))
    hf = transformers.VitsModel(cfg).eval()
    result = hf.load_state_dict(state_to_hf(plain.plain_state_dict(), hf, plain.config.use_sdp), strict=True)
    if result.missing_keys or result.unexpected_keys:  # strict=True raises; kept for clarity
        raise VoicetuneError(f"internal: transformers model keys differ ({result})")
    hf.save_pretrained(str(folder), safe_serialization=True)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "vocab.json", tokenizer.vocab)
    tok = transformers.VitsTokenizer(str(folder / "vocab.json"), **tokenizer.tokenizer_config())
    tok.save_pretrained(str(folder))


def model_card(info: dict[str, Any], ckpt: Path, run: Path, name: str, fmt: str) -> str:
    from voicetune.exporter import model_card as vits_card

    mms = info.get("mms") or {}
    body = vits_card(run, info, ckpt, name).splitlines()
    licence = mms.get("licence", "unknown: check the base model's own licence")
    header = ["---", f"license: {'cc-by-nc-4.0' if 'CC BY-NC 4.0' in licence else 'other'}",
              "pipeline_tag: text-to-speech", "library_name: transformers", "tags: [vits, mms, voicetune]", "---", ""]
    body = [f"A VITS voice fine-tuned with voicetune from a transformers/MMS base ({fmt} format)."
            if line.startswith("A Piper/VITS voice") else
            line.replace("check the base voice's own licence", licence) for line in body]
    usage = ["", "## Use", "", "```python", "from transformers import pipeline",
             f'tts = pipeline("text-to-speech", "{name}")', 'out = tts("...")  # out["audio"], out["sampling_rate"]', "```"]
    speakers = mms.get("speaker_ids") or {}
    if len(set(speakers.values())) > 1 or info.get("model_config", {}).get("n_speakers", 1) > 1:
        usage.append(f"Multi-speaker: pass `forward_params={{'speaker_id': N}}`; trained speakers: {speakers}")
    tail = ["", f"Licence of the weights: **{licence}** (inherited from the base `{info.get('base')}`); "
            "voicetune itself is GPL-3.0-or-later.", ""]
    return "\n".join(header + body + usage + tail)


def _sample_texts(info: dict[str, Any]) -> dict[str, list[str]]:
    """Shortest, middle and longest eval transcripts: samples in the model's own language."""
    from voicetune.data.dataset import load_dataset

    try:
        texts = sorted({c.text for c in load_dataset(info["dataset"]).eval}, key=len)
    except (VoicetuneError, KeyError):
        return {}
    if not texts:
        return {}
    return {"short": [texts[0]], "medium": [texts[len(texts) // 2]], "long": [texts[-1]]}


def _hf_samples(folder: Path, texts: dict[str, list[str]], speaker: int | None) -> list[Path]:
    """Spoken by the exported folder through transformers' own pipeline."""
    from transformers import pipeline

    from voicetune.exporter import write_samples

    tts = pipeline("text-to-speech", str(folder), device="cpu")

    def speak(text: str, k: int):
        torch.manual_seed(k)
        res = tts(text, forward_params={"speaker_id": speaker} if speaker is not None else {})
        return np.asarray(res["audio"]).reshape(-1), int(res["sampling_rate"])

    return write_samples(folder, texts, speak)


def piper_text_voice(voice, tokenizer: MmsTokenizer) -> dict[str, Any]:
    """A piper-tts voice config that reproduces the MMS ids with piper's ``text`` phoneme type.

    piper emits BOS, PAD, then (char, PAD) per character and EOS. Mapping BOS -> [0], PAD -> [],
    each character -> [id, 0] and EOS -> [] gives exactly the tokenizer's blank-interspersed
    [0, c1, 0, c2, ..., cn, 0]. Upper-case letters map like their lower-case forms (piper does
    not lower-case). Impossible, hence refused: uroman languages (piper does not romanize),
    characters piper splits by NFD (á -> a + U+0301).
    """
    if tokenizer.is_uroman:
        raise VoicetuneError("--format piper: this model romanizes its text with uroman, which piper-tts cannot do; "
                             "use --format hf")
    if not tokenizer.add_blank:
        raise VoicetuneError("--format piper: the tokenizer has add_blank=false; use --format hf")
    split = sorted(c for c in tokenizer.vocab if unicodedata.normalize("NFD", c) != c)
    if split:
        raise VoicetuneError(f"--format piper: piper-tts splits {' '.join(split)} into base letter + accent (NFD), "
                             "which this model's vocabulary lacks; use --format hf")
    id_map: dict[str, list[int]] = {}
    for ch, i in tokenizer.vocab.items():
        id_map[ch] = [i, 0]
        up = ch.upper()
        if tokenizer.normalize and up != ch and len(up) == 1 and up not in tokenizer.vocab:
            id_map[up] = [i, 0]
    # piper's markers win over literal ^ $ _ in the vocab (they hardly occur in text)
    id_map.update({"^": [0], "_": [], "$": []})
    d = voice.to_piper_dict()
    d.update(phoneme_type="text", phoneme_id_map=id_map)
    return d


def export_mms_run(run: Path, output: Path, build, *, fmt: str = "hf", which: str = "best",
                   name: str | None = None, samples: bool = True, evaluate: bool = True, log=print):
    """An MMS run as a transformers folder (``hf``) or a Piper voice (``piper``, text-type phoneme
    map: its characters); ``build``: the checked output folder (voicetune.exporter.start_export)."""
    from voicetune.exporter import ExportResult, finish_voice
    from voicetune.models.vits.run import RUNS, checkpoint_for, load_run_model

    ckpt = checkpoint_for(run, which)
    run_dir = RUNS.run_of(run) or ckpt.parent.parent
    info = RUNS.read(run_dir)
    if "mms" not in info:
        raise VoicetuneError(f"{run}: --format hf needs an MMS run (trained from a transformers VITS base); "
                             "export Piper runs with --format piper")
    model, voice = load_run_model(ckpt)
    tokenizer = MmsTokenizer.from_dict(info["mms"]["tokenizer"])
    name = name or output.name
    written: list[Path] = []
    with build as tmp:
        card = model_card(info, ckpt, run_dir, name, fmt)
        speaker = 0 if model.config.n_speakers > 1 else None
        if fmt == "hf":
            save_transformers(model, voice, tokenizer, info["mms"]["hf_config"], tmp)
            main, config = tmp / "model.safetensors", tmp / "config.json"
        else:
            from voicetune.models.vits.export import export_onnx

            piper_json = piper_text_voice(voice, tokenizer)
            main, config = tmp / f"{name}.onnx", tmp / f"{name}.onnx.json"
            export_onnx(model, main)
            piper_json.update(num_symbols=model.config.num_symbols, hop_length=model.config.hop_length,
                              voicetune={"vits_config": model.config.to_dict()})
            write_json(config, piper_json)
        finish_voice(tmp, run_dir, info, ckpt, name=name, fmt=fmt, card=card, evaluate=evaluate, log=log)
        if fmt == "hf":  # the hub shows README.md: the same card
            shutil.copyfile(tmp / "MODEL_CARD.md", tmp / "README.md")
        if samples and fmt == "hf":
            written = _hf_samples(tmp, _sample_texts(info), speaker)
        build.commit()
    return ExportResult(output, output / main.name, output / config.name, ckpt,
                        [output / p.relative_to(tmp) for p in written])


def read_info(run: Path) -> dict[str, Any]:
    from voicetune.models.vits.run import RUN_FILE

    return json.loads((run / RUN_FILE).read_text())
