"""The XTTS v2 backend of the trainer engine: the GPT part, fine-tuned on cached codes.

One optimizer (``gpt``); losses logged as ``text_ce``, ``mel_ce`` and ``total`` (= ``loss``,
``text_ce_weight * text_ce + mel_ce_weight * mel_ce``; coqui's weights 0.01 / 1.0 by default).
Freezing (seed 002): the conditioning encoder + perceiver, the first N transformer layers,
optionally the embeddings and the heads — the banner prints trainable/total and the fraction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from voicetune.errors import VoicetuneError
from voicetune.models.xtts.augment import PromptAugment
from voicetune.models.xtts.batch import Collate, EvalSet, PromptSpec, TrainSet
from voicetune.models.xtts.features import HOP, XttsFeatures
from voicetune.models.xtts.model import SAMPLE_RATE
from voicetune.models.xtts.step import gpt_losses
from voicetune.trainer.backend import FreezeRule

EMBEDDINGS = ("text_embedding.", "mel_embedding.", "text_pos_embedding.", "mel_pos_embedding.")
HEADS = ("text_head.", "mel_head.", "final_norm.")
CONDITIONING = ("conditioning_encoder.", "conditioning_perceiver.")


class XttsTrainOptions(BaseModel):
    """The ``xtts:`` section of a training config."""

    model_config = ConfigDict(extra="forbid")
    language: str | None = Field(None, description="dataset language when it differs from dataset.json")
    preset: Literal["small-data"] | None = Field(None, description="seed 002's recipe for minutes of audio")
    freeze_conditioning: bool = True
    freeze_layers: int | None = Field(None, ge=0, description="first N transformer layers frozen")
    train_last_layers: int | None = Field(None, ge=0, description="alternative: all but the last N frozen")
    freeze_embeddings: bool = False
    freeze_heads: bool = False
    text_ce_weight: float = Field(0.01, ge=0)
    mel_ce_weight: float = Field(1.0, ge=0)
    prompt_seconds: tuple[float, float] = (3.0, 6.0)
    eval_prompt_seconds: float = Field(6.0, gt=0)
    max_audio_seconds: float = Field(11.6, gt=0.5, description="clips longer than this are rejected")
    max_text_tokens: int = Field(200, ge=1)
    extend_vocab: bool = Field(False, description="add BPE tokens from the dataset text (+ [lang] token)")
    bpe_vocab_size: int = Field(500, ge=50)
    augment: bool = False
    augment_gain_db: float = Field(3.0, ge=0)
    augment_snr_db: tuple[float, float] = (30.0, 50.0)
    # on: the full-size GPT at batch 2 peaks at 7.3 GiB with it, 11.4 GiB without (11.6 s clips, CPU)
    gradient_checkpointing: bool = True


@dataclass
class XttsBackend:
    gpt: torch.nn.Module
    features: XttsFeatures
    options: XttsTrainOptions
    mel_stats: torch.Tensor
    notes: list[str] = field(default_factory=list)
    vocab_extended: bool = False
    name: str = "xtts"

    def __post_init__(self) -> None:
        o = self.options
        n_layers = len(self.gpt.gpt.h)
        if o.train_last_layers is not None and o.freeze_layers is not None:
            raise VoicetuneError("xtts: give freeze_layers or train_last_layers, not both")
        self.frozen_layers = (max(0, n_layers - o.train_last_layers) if o.train_last_layers is not None
                              else (o.freeze_layers or 0))
        if self.frozen_layers > n_layers:
            raise VoicetuneError(f"xtts.freeze_layers {self.frozen_layers}: the model has {n_layers} layers")
        if self.vocab_extended and o.freeze_embeddings:
            raise VoicetuneError("xtts.freeze_embeddings with extend_vocab would keep the new tokens at their "
                                 "initial mean: set one of them to false")
        frames = [round(s * SAMPLE_RATE / HOP) for s in o.prompt_seconds]
        self.spec = PromptSpec(min(frames), max(frames), round(o.eval_prompt_seconds * SAMPLE_RATE / HOP))
        aug = PromptAugment(self.mel_stats, o.augment_gain_db, o.augment_snr_db) if o.augment else None
        self.train_collate = Collate(self.spec, self.gpt.stop_text_token, self.gpt.stop_audio_token, True, aug)
        self.eval_collate = Collate(self.spec, self.gpt.stop_text_token, self.gpt.stop_audio_token, False)
        self.eval_set = EvalSet(self.features.eval, self.features.train + self.features.eval)

    # ---------------------------------------------------------------- contract
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"gpt": self.gpt}

    def param_groups(self, modules: Mapping[str, torch.nn.Module]):
        # no weight decay on biases, norms and embeddings (coqui's optimizer_wd_only_on_weights)
        decay, no_decay = [], []
        for name, p in modules["gpt"].named_parameters():
            plain = name.endswith(".bias") or "norm" in name or "ln_" in name or "embedding" in name
            (no_decay if plain else decay).append(p)
        return {"gpt": [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]}

    def datasets(self):
        return TrainSet(self.features.train), self.eval_set

    def collate(self, items):
        # the engine uses one collate for both splits; eval items say so (they carry another clip's prompt)
        return self.train_collate(items) if items and items[0]["train"] else self.eval_collate(items)

    def freeze_prefixes(self) -> list[str]:
        o = self.options
        prefixes = [f"gpt.gpt.h.{i}." for i in range(self.frozen_layers)]
        if o.freeze_conditioning:
            prefixes += [f"gpt.{p}" for p in CONDITIONING]
        if o.freeze_embeddings:
            prefixes += [f"gpt.{p}" for p in EMBEDDINGS]
        if o.freeze_heads:
            prefixes += [f"gpt.{p}" for p in HEADS]
        return prefixes

    def freeze_rules(self) -> list[FreezeRule]:
        return [FreezeRule(p) for p in self.freeze_prefixes()]

    def trainable(self) -> tuple[int, int]:
        prefixes = tuple(self.freeze_prefixes())
        total = trainable = 0
        for name, p in self.gpt.named_parameters():
            total += p.numel()
            trainable += 0 if f"gpt.{name}".startswith(prefixes) else p.numel()
        return trainable, total

    def describe(self) -> dict[str, str]:
        t, n = self.trainable()
        out = {"trainable": f"{t / 1e6:.2f} M of {n / 1e6:.2f} M GPT weights ({100 * t / n:.1f} %)",
               "clips": f"{len(self.features.train)} train / {len(self.features.eval)} eval, "
                        f"{len(self.features.rejected)} rejected"}
        for i, note in enumerate(self.notes):
            out[f"note {i + 1}"] = note
        return out

    def enable_gradient_checkpointing(self, modules) -> None:
        # transformers' gradient_checkpointing_enable() needs the token embedding coqui deletes, so
        # set the layer flags directly; non-reentrant: right grads even below frozen layers
        import functools

        from torch.utils.checkpoint import checkpoint

        modules["gpt"].gpt._set_gradient_checkpointing(True, functools.partial(checkpoint, use_reentrant=False))
        modules["gpt"].gpt.config.use_cache = False

    def _losses(self, gpt, batch, mask: bool) -> dict[str, torch.Tensor]:
        text_ce, mel_ce = gpt_losses(gpt, batch, mask_prompt=mask)
        total = self.options.text_ce_weight * text_ce + self.options.mel_ce_weight * mel_ce
        return {"loss": total, "total": total, "text_ce": text_ce, "mel_ce": mel_ce}

    def train_step(self, batch, ctx):
        losses = self._losses(ctx.modules["gpt"], batch, mask=True)
        ctx.backward(losses["loss"])
        return {k: v.detach() for k, v in losses.items()}

    def eval_step(self, batch, modules):
        return self._losses(modules["gpt"], batch, mask=True)
