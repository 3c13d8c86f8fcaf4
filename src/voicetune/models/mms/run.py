"""An MMS fine-tuning run: base (transformers folder/hub id or an earlier MMS run), speakers, the
out-of-vocabulary check, features from the model's tokenizer, and our VitsBackend.

The run folder is a VITS run (``vits.json``: voice, model config, options) with ``backend: mms``
and an ``mms`` block (tokenizer, the base's transformers config, licence, speaker ids), so
``voicetune export RUN --format hf`` can rebuild the transformers folder from any checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from voicetune.errors import VoicetuneError
from voicetune.models.vits.run import RUN_FILE, RUN_FORMAT, is_run, read_run_file

NEW_SPEAKER_CHANNELS = 256  # speaker embedding size when a single-speaker base gains speakers


class MmsOptions(BaseModel):
    """The ``mms:`` section of a training config (and the matching CLI flags)."""

    model_config = ConfigDict(extra="forbid")
    filter_speaker: str | None = Field(None, description="train on this speaker's clips only")
    override_speaker_embeddings: bool = Field(False, description="a new speaker table for the dataset's speakers")
    skip_unknown_chars: bool = Field(False, description="leave out clips with characters outside the vocab")
    max_tokens: int | None = Field(None, ge=8, description="leave out clips with more token ids (finetune-hf-vits max_tokens_length)")


def is_mms_run(path: Path) -> bool:
    if not is_run(path):
        return False
    try:
        return json.loads((path / RUN_FILE).read_text()).get("backend") == "mms"
    except (OSError, ValueError) as exc:
        raise VoicetuneError(f"{path / RUN_FILE}: unreadable run file ({exc}); the run folder is damaged") from None


def run_tokenizer(ckpt_dir: Path):
    """The MmsTokenizer of the run a checkpoint folder belongs to; None for Piper/VITS runs."""
    from voicetune.models.mms.tokenizer import MmsTokenizer

    for folder in (ckpt_dir, ckpt_dir.parent.parent):
        if (folder / RUN_FILE).exists():
            info = json.loads((folder / RUN_FILE).read_text())
            return MmsTokenizer.from_dict(info["mms"]["tokenizer"]) if info.get("backend") == "mms" else None
    return None


def load_base(base: str | Path):
    """(model, tokenizer, voice, hf_config, licence, info, discriminator state, its periods)."""
    from voicetune.fileio import sha256_file
    from voicetune.models.mms.import_hf import WEIGHT_FILES, import_hf
    from voicetune.models.mms.tokenizer import MmsTokenizer
    from voicetune.models.vits.run import load_run_model

    path = Path(base)
    if is_run(path):
        info = read_run_file(path)
        if info.get("backend") != "mms":
            raise VoicetuneError(f"--base {base}: a Piper/VITS run; continue it with the vits backend")
        model, voice = load_run_model(path)
        mms = info["mms"]
        return (model, MmsTokenizer.from_dict(mms["tokenizer"]), voice, mms["hf_config"], mms["licence"],
                {"base": str(path), "base_sha256": info.get("base_sha256"), "from_run": True}, None, ())
    imp = import_hf(base)
    weights = next((imp.folder / w for w in WEIGHT_FILES if (imp.folder / w).exists()), None)  # None: sharded
    info = {"base": str(base), "base_folder": str(imp.folder), "base_sha256": sha256_file(weights) if weights else None,
            "import": imp.report.to_dict()}
    return (imp.model, imp.tokenizer, imp.voice, imp.hf_config, imp.licence, info, imp.discriminator_state,
            imp.discriminator_periods)


def with_new_speakers(model, n: int):
    """A copy of ``model`` with an ``n``-row speaker table. New rows start at the mean of the old
    table (or N(0, 1) for a single-speaker base, whose new conditioning layers start at zero so
    the model still speaks exactly as the base at step 0)."""
    from voicetune.models.vits.model import VitsModel

    old = model.config
    gin = old.gin_channels if old.n_speakers > 1 else NEW_SPEAKER_CHANNELS
    new = VitsModel(old.with_(n_speakers=n, gin_channels=gin))
    state = model.plain_state_dict()
    target = new.state_dict()
    for k, v in target.items():
        if k == "emb_g.weight":
            rows = state["emb_g.weight"].mean(0, keepdim=True).expand_as(v) if "emb_g.weight" in state else torch.randn_like(v)
            state[k] = rows.clone()
        elif k not in state:
            state[k] = torch.zeros_like(v)  # cond layers of a base that had none
    new.load_state_dict(state, strict=True)
    return new


def plan_speakers(clips, model, opts: MmsOptions, log) -> tuple[list, dict[str, int], int | None]:
    """(clips kept, speaker name -> id, new table size or None)."""
    if opts.filter_speaker is not None:
        kept = [c for c in clips if c.speaker == str(opts.filter_speaker)]
        if not kept:
            names = ", ".join(sorted({c.speaker for c in clips})[:10])
            raise VoicetuneError(f"--filter-speaker {opts.filter_speaker}: no clip of that speaker (the dataset has: {names})")
        log(f"--filter-speaker {opts.filter_speaker}: {len(kept)} of {len(clips)} clips kept")
        clips = kept
    speakers = sorted({c.speaker for c in clips})
    n_base = model.config.n_speakers
    if opts.override_speaker_embeddings:
        n = max(2, len(speakers))  # our core holds a speaker table only for 2+ speakers
        log(f"speaker embeddings replaced: {n} rows for {', '.join(speakers)}")
        return clips, {s: i for i, s in enumerate(speakers)}, n
    if n_base <= 1:
        if len(speakers) > 1:
            raise VoicetuneError(
                f"the dataset has {len(speakers)} speakers ({', '.join(speakers[:5])}) but the base is single-speaker; "
                "keep one with --filter-speaker NAME or give each its own embedding with --override-speaker-embeddings")
        return clips, {s: 0 for s in speakers}, None
    if all(s.isdigit() and int(s) < n_base for s in speakers):
        return clips, {s: int(s) for s in speakers}, None
    if len(speakers) == 1:
        log(f"base has {n_base} speakers; the dataset's speaker '{speakers[0]}' trains speaker id 0")
        return clips, {speakers[0]: 0}, None
    raise VoicetuneError(
        f"the dataset's speakers ({', '.join(speakers[:5])}) are not speaker ids of the base (0..{n_base - 1}); "
        "name them by id or pass --override-speaker-embeddings")


def build_mms_backend(dataset: Path, base: str | Path, options, mms: MmsOptions, *, log=print):
    """Everything an MMS run needs before the engine starts -> (VitsBackend, run info)."""
    from voicetune.data.dataset import load_dataset
    from voicetune.models.mms.features import TokenFeatureCache
    from voicetune.models.mms.import_hf import load_discriminator
    from voicetune.models.mms.tokenizer import unknown_report
    from voicetune.models.vits.features import Skipped
    from voicetune.models.vits.finetune import VitsBackend

    ds = load_dataset(dataset)
    model, tokenizer, voice, hf_config, licence, info, disc_state, disc_periods = load_base(base)
    clips, speaker_ids, new_n = plan_speakers(ds.clips, model, mms, log)
    if new_n is not None:
        model = with_new_speakers(model, new_n)
        voice.num_speakers = new_n
    voice.speaker_id_map = {s: i for s, i in speaker_ids.items()} if model.config.n_speakers > 1 else {}
    report = unknown_report(tokenizer, clips)
    left_out: list[Skipped] = []  # every clip left out before features, with its reason (run file + log)
    if report:
        if not mms.skip_unknown_chars:
            raise VoicetuneError(report.message(str(dataset)))
        unknown = set(report.clips)
        left_out += [Skipped(c.id, "characters outside the model's vocabulary (--skip-unknown-chars): "
                             + " ".join(sorted(set(tokenizer.unknown_chars(c.text))))) for c in clips if c.id in unknown]
    if mms.max_tokens:
        for c in clips:
            n = len(tokenizer.encode(c.text))
            if n > mms.max_tokens and c.id not in {s.clip_id for s in left_out}:
                left_out.append(Skipped(c.id, f"{n} token ids > max_tokens {mms.max_tokens}"))
    gone = {s.clip_id for s in left_out}
    for s in left_out:
        log(f"left out clip {s.clip_id}: {s.reason}")
    ds.clips = [c for c in clips if c.id not in gone]
    model.apply_weight_norm()
    model.config.segment_size = options.segment_size  # the features' length check uses it
    features = TokenFeatureCache(dataset, voice, model.config, tokenizer).build(ds, speaker_ids)
    for s in features.skipped:
        log(f"skipped clip {s.clip_id}: {s.reason}")
    if not features.train:
        raise VoicetuneError(f"{dataset}: no usable training clips for this model (see the skipped list above)")
    if not features.eval:
        raise VoicetuneError(f"{dataset}: the eval split has no usable clip; run `voicetune dataset split {dataset}`")
    notes = list(info.get("import", {}).get("notes", []))[:1]
    disc = None
    if disc_state:
        disc, why = load_discriminator(disc_state, disc_periods, list(options.disc_periods))
        notes.append(why)
    else:
        notes.append("discriminator starts fresh (the base has none)")
    eval_texts = [c.text for c in ds.eval][: max(1, options.samples)]
    backend = VitsBackend(model, voice, features, options, tokenizer, disc, eval_texts, notes, name="mms")
    info.update({
        "format_version": RUN_FORMAT, "backend": "mms", "dataset": str(Path(dataset).resolve()),
        "voice": voice.to_piper_dict(), "model_config": model.config.to_dict(), "options": options.model_dump(),
        "mms_options": mms.model_dump(), "skipped_clips": [asdict(s) for s in left_out + features.skipped],
        "mms": {"tokenizer": tokenizer.to_dict(), "hf_config": hf_config, "licence": licence,
                "speaker_ids": speaker_ids, "unknown_chars": report.chars},
    })
    return backend, info


def mms_defaults(options, given: dict[str, Any]):
    """MMS bases come with a trained posterior encoder: no prior warm-up unless asked for."""
    if "prior_warmup_steps" not in given:
        options.prior_warmup_steps = 0
    return options
