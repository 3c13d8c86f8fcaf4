"""An XTTS fine-tuning run: base + dataset -> backend, ``xtts.json`` run info, checkpoints back.

The run folder gets ``xtts.json`` beside the engine's files (base folder, dataset, language,
options, vocabulary extension, rejected clips) and, when the vocabulary was extended, its own
``vocab.json``: a resume or an export rebuilds exactly the same model from these.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from voicetune.errors import VoicetuneError
from voicetune.trainer.runfile import RunFile

RUNS = RunFile("xtts.json", "XTTS")
RUN_FILE, RUN_FORMAT = RUNS.name, RUNS.format_version


def is_run(path: Path) -> bool:
    return RUNS.holds(path)


def build_backend(dataset: Path, base: str | Path, options, run_dir: Path, *, vocab: Path | None = None,
                  log=print):
    """(XttsBackend, run info). ``vocab`` reuses an earlier run's extended vocabulary (resume)."""
    import torch

    from voicetune.data.dataset import load_dataset
    from voicetune.models.xtts.base import resolve_base
    from voicetune.models.xtts.features import FeatureBuilder, Limits
    from voicetune.models.xtts.finetune import XttsBackend
    from voicetune.models.xtts.model import (
        SAMPLE_RATE,
        build_gpt,
        gpt_state,
        load_gpt_weights,
        load_mel_stats,
        load_model_state,
        load_tokenizer,
        model_args,
    )
    from voicetune.models.xtts.vocab import coverage, extend_vocab, resize_text_rows

    xbase = resolve_base(base)
    ds = load_dataset(dataset)
    lang = options.language or ds.language
    notes: list[str] = []
    extension = None
    if vocab is None and options.extend_vocab:
        vocab = run_dir / "vocab.json"
        extension = extend_vocab(xbase.path("vocab.json"), vocab, [c.text for c in ds.clips], lang,
                                 options.bpe_vocab_size)
        notes.append(extension.line())
    tokenizer = load_tokenizer(vocab or xbase.path("vocab.json"))
    if not options.extend_vocab:
        bad, chars = coverage(tokenizer, [c.text for c in ds.clips], lang)
        if bad:
            log(f"note: {bad} clip(s) hold characters the base vocabulary lacks ({' '.join(chars)}): "
                "they are rejected; set xtts.extend_vocab: true to learn them")
    args = model_args(xbase.config())
    if not args.get("gpt_use_perceiver_resampler", False):
        raise VoicetuneError(f"{xbase.path('config.json')}: an XTTS v1 model (no perceiver resampler); "
                             "voicetune fine-tunes XTTS v2 — give the v2 release")
    weights = gpt_state(load_model_state(xbase.path("model.pth")))
    grown = resize_text_rows(weights, tokenizer.get_number_tokens())
    gpt = build_gpt(args, tokenizer)
    load_gpt_weights(gpt, weights, xbase.path("model.pth"))
    del weights
    if grown:
        notes.append(f"text embedding/head grown by {grown} rows, initialised as the mean of the base rows")
    stats = load_mel_stats(xbase.path("mel_stats.pth"))
    limits = Limits(max_samples=int(options.max_audio_seconds * SAMPLE_RATE),
                    max_text_tokens=min(options.max_text_tokens, gpt.max_text_tokens - 2),
                    max_codes=gpt.max_mel_tokens)
    builder = FeatureBuilder(Path(dataset), xbase.path("dvae.pth"), stats, args.get("gpt_num_audio_tokens", 8194))
    features = builder.build(ds, tokenizer, lang, limits)
    for clip_id, reason in features.rejected:
        log(f"rejected clip {clip_id}: {reason}")
    if not features.train:
        raise VoicetuneError(f"{dataset}: no usable training clip for XTTS (see the rejected list above)")
    if not features.eval:
        raise VoicetuneError(f"{dataset}: the eval split has no usable clip; run `voicetune dataset split {dataset}`")
    torch.manual_seed(0)
    backend = XttsBackend(gpt, features, options, stats, notes, vocab_extended=grown > 0)
    info = {
        "format_version": RUN_FORMAT,
        "base": str(xbase.folder.resolve()),
        "base_source": xbase.source,
        "dataset": str(Path(dataset).resolve()),
        "language": lang,
        "vocab": "vocab.json" if vocab is not None and Path(vocab).parent == run_dir else None,
        "extension": asdict(extension) if extension else None,
        "options": options.model_dump(mode="json"),
        "rejected": [{"clip": c, "reason": r} for c, r in features.rejected],
        "cache_hits": features.cache_hits,
    }
    return backend, info


def write_run_info(run_dir: Path, info: dict) -> None:
    RUNS.write(run_dir, info)


def read_run_info(run_dir: Path) -> dict:
    return RUNS.read(run_dir)


def checkpoint_for(target: Path, which: str = "best") -> tuple[Path, Path]:
    """(checkpoint folder, run folder) from a run folder or one of its checkpoint folders."""
    return RUNS.checkpoint(Path(target), which)


def run_vocab(run_dir: Path, info: dict) -> Path:
    """The run's own extended vocabulary (a file inside the run folder), else the base's."""
    from voicetune.folders import contained

    if not info.get("vocab"):
        return Path(info["base"]) / "vocab.json"
    return contained(run_dir, str(info["vocab"]), run_dir / RUN_FILE)


def load_run_gpt(target: Path, which: str = "best"):
    """(GPT with the checkpoint's weights, tokenizer, info, checkpoint folder, run folder)."""
    from voicetune.models.xtts.base import XttsBase
    from voicetune.models.xtts.model import build_gpt, load_tokenizer, model_args
    from voicetune.trainer.checkpoints import load_weights

    ckpt_dir, run_dir = checkpoint_for(Path(target), which)
    info = read_run_info(run_dir)
    base = XttsBase(Path(info["base"]), info["base_source"])
    tokenizer = load_tokenizer(run_vocab(run_dir, info))
    gpt = build_gpt(model_args(base.config()), tokenizer)
    load_weights({"gpt": gpt}, ckpt_dir / "model.safetensors")
    return gpt.eval(), tokenizer, info, ckpt_dir, run_dir
