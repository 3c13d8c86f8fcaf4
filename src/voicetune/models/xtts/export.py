"""`voicetune export --format xtts`: a run's checkpoint -> a folder coqui's ``Xtts.load_checkpoint``
loads: compact ``model.pth`` (weights only: no optimizer, no DVAE; ``--fp16`` halves it),
``config.json``, ``vocab.json`` (+ ``speakers_xtts.pth``), a ``reference.wav`` chosen from the
dataset (clear, 6-10 s), ``MODEL_CARD.md`` and ``samples/{short,medium,long}/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from voicetune.errors import VoicetuneError
from voicetune.fileio import write_json
from voicetune.models.xtts.base import LICENCE, XttsBase
from voicetune.models.xtts.model import load_model_state
from voicetune.models.xtts.run import load_run_gpt, run_vocab
from voicetune.models.xtts.text import BUILTIN, base_language


def compact_state(base_state: dict[str, torch.Tensor], gpt_state: dict[str, torch.Tensor],
                  fp16: bool = False) -> dict[str, torch.Tensor]:
    """The inference model: the base's HiFi-GAN decoder and mel stats + the fine-tuned GPT."""
    out = {k: v for k, v in base_state.items() if not k.startswith("gpt.")}
    out.update({f"gpt.{k}": v for k, v in gpt_state.items()})
    if fp16:  # mel_stats stays fp32: it divides features, rounding it shifts every input
        out = {k: v.half() if v.is_floating_point() and k != "mel_stats" else v for k, v in out.items()}
    return {k: v.detach().clone().contiguous() for k, v in out.items()}


def choose_reference(dataset: Path) -> tuple[Path, str] | None:
    """(wav, why): a clear 6-10 s clip (best SNR, then ASR confidence), else the nearest to 8 s."""
    from voicetune.data.dataset import load_dataset

    try:
        ds = load_dataset(dataset)
    except VoicetuneError:
        return None
    clips = [c for c in ds.clips if (dataset / c.audio_file).is_file()]
    if not clips:
        return None
    ideal = [c for c in clips if 6.0 <= c.duration <= 10.0]
    if ideal:
        best = max(ideal, key=lambda c: (c.snr_db or 0.0, c.asr_confidence or 0.0, -abs(c.duration - 8.0)))
        from voicetune.data.quality import format_snr

        return dataset / best.audio_file, f"{best.id}: {best.duration:.1f} s, SNR {format_snr(best.snr_db)} dB"
    best = min(clips, key=lambda c: abs(c.duration - 8.0))
    return dataset / best.audio_file, f"{best.id}: {best.duration:.1f} s (no 6-10 s clip in the dataset)"


def write_xtts_folder(run: Path, folder: Path, *, which: str = "best", fp16: bool = False):
    """The voice coqui loads (model.pth, config.json, vocab.json, speakers, reference.wav) into
    ``folder``; returns (checkpoint, run folder, run info, (reference, why) or None, language)."""
    gpt, tokenizer, info, ckpt, run_dir = load_run_gpt(Path(run), which)
    base = XttsBase(Path(info["base"]), info["base_source"])
    folder.mkdir(parents=True, exist_ok=True)
    state = compact_state(load_model_state(base.path("model.pth")), gpt.state_dict(), fp16)
    torch.save({"model": state}, folder / "model.pth")
    del state
    config = base.config()
    config["model_args"]["gpt_number_text_tokens"] = tokenizer.get_number_tokens()
    config["model_args"]["tokenizer_file"] = ""
    lang = base_language(info["language"])
    langs = list(config.get("languages") or [])
    if lang not in BUILTIN and lang not in langs:
        langs.append(lang)
    config["languages"] = [lang] + [x for x in langs if x != lang]  # the voice's language first
    write_json(folder / "config.json", config)
    shutil.copy2(run_vocab(run_dir, info), folder / "vocab.json")
    if base.speakers is not None:
        shutil.copy2(base.speakers, folder / "speakers_xtts.pth")
    ref = choose_reference(Path(info["dataset"]))
    if ref is not None:
        shutil.copy2(ref[0], folder / "reference.wav")
    return ckpt, run_dir, info, ref, lang


def export_xtts(run: str | Path, output: str | Path, build, *, fmt: str = "xtts", which: str = "best",
                name: str | None = None, samples: bool = True, evaluate: bool = True, log=print):
    """``build``: the checked output folder (voicetune.exporter.start_export); ``fmt`` xtts-fp16 halves
    the weights. ``name`` is not used: coqui's folder layout fixes the file names."""
    from voicetune.exporter import SAMPLE_TEXTS, ExportResult, _checkpoint_reason, finish_voice

    output, fp16 = Path(output), fmt == "xtts-fp16"
    with build as tmp:
        ckpt, run_dir, info, ref, lang = write_xtts_folder(Path(run), tmp, which=which, fp16=fp16)
        card = _card(run_dir, info, ckpt, ref, fp16, _checkpoint_reason(run_dir, ckpt))
        finish_voice(tmp, run_dir, info, ckpt, name=output.name, fmt=fmt, card=card, evaluate=evaluate, log=log)
        written = _samples(tmp, SAMPLE_TEXTS, lang) if samples and ref is not None else []
        build.commit()
    return ExportResult(output, output / "model.pth", output / "config.json", ckpt,
                        [output / p.relative_to(tmp) for p in written])


def _card(run_dir: Path, info: dict, ckpt: Path, ref, fp16: bool, reason: str) -> str:
    from voicetune.trainer.checkpoints import read_trainer

    trainer = read_trainer(ckpt)
    ext = info.get("extension")
    lines = [f"# {run_dir.name} (XTTS v2)", "", "An XTTS v2 voice fine-tuned with voicetune (GPT part).", "",
             f"- base: `{info['base_source']}` — {LICENCE}",
             f"- checkpoint: `{ckpt.relative_to(run_dir)}` at step {trainer['step']}; chosen as {reason}",
             f"- language: {info['language']}" + (f"; vocabulary extended: {ext['size_before']} -> "
                                                  f"{ext['size_after']} tokens" if ext else ""),
             f"- weights: {'fp16' if fp16 else 'fp32'}, no optimizer/DVAE (load with coqui `Xtts.load_checkpoint`)",
             f"- reference speaker clip: {ref[1] if ref else 'none (pass --speaker-wav to say)'}",
             f"- clips rejected at load: {len(info.get('rejected') or [])}"]
    lines += ["", "Licence: the weights derive from XTTS v2 and carry the Coqui Public Model License "
              "(non-commercial); voicetune itself is GPL-3.0-or-later.", ""]
    return "\n".join(lines)


def _samples(folder: Path, texts: dict[str, list[str]], lang: str) -> list[Path]:
    """Spoken by the exported folder through coqui's Xtts, with the reference clip."""
    from voicetune.exporter import write_samples
    from voicetune.models.xtts.voice import load_xtts_voice, say_xtts

    voice = load_xtts_voice(folder, cache=False)  # the temp folder is renamed away after this
    return write_samples(folder, texts, lambda text, k: (say_xtts(text, voice, language=lang, seed=k),
                                                         voice.sample_rate))
