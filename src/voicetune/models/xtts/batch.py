"""Batches for the XTTS GPT: padded tokens and codes, a conditioning prompt, the prompt-loss span.

Training prompt (coqui's "masking GT prompt" approach): a 3-6 s slice of the clip itself. The GPT
could copy codes it was shown, so the loss on the codes under that slice is masked — for **every**
sample, at code positions (1 code = 1024 samples). coqui masks only the last sample of the batch
(coqui-ai/TTS #3388) and converts sample positions with 256 instead of 1024 (#3631), so it masks
the wrong codes, usually past the end of the clip.

Eval prompt: a different clip of the same speaker (fixed choice, from its start), so nothing is
copied and the eval loss measures speaking the text in that voice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from voicetune.models.xtts.features import HOP, MEL_WIN, XttsItem

CODE_STRIDE = 1024


def prompt_code_span(start_frame: int, n_frames: int, n_codes: int, hop: int = HOP, win: int = MEL_WIN,
                     stride: int = CODE_STRIDE) -> tuple[int, int]:
    """Code positions [a, b) whose audio the prompt frames [start, start+n) saw (window included)."""
    first = max(0, start_frame * hop - win // 2)
    last = (start_frame + n_frames - 1) * hop + win // 2
    return min(first // stride, n_codes), min(math.ceil(last / stride), n_codes)


@dataclass
class PromptSpec:
    min_frames: int
    max_frames: int
    eval_frames: int


class TrainSet(torch.utils.data.Dataset):
    def __init__(self, items: list[XttsItem]):
        self.items = items
        self.lengths = [len(it.codes) for it in items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        it = self.items[i]
        return {"tokens": it.tokens, "codes": it.codes, "prompt": it.cond_mel, "same_clip": True, "train": True}


class EvalSet(TrainSet):
    """Eval items, each prompted by another clip of its speaker (the same clip only when it is alone)."""

    def __init__(self, items: list[XttsItem], pool: list[XttsItem]):
        super().__init__(items)
        self.prompts = [choose_prompt(it, pool) for it in items]

    def __getitem__(self, i: int) -> dict:
        it, other = self.items[i], self.prompts[i]
        return {"tokens": it.tokens, "codes": it.codes, "prompt": other.cond_mel,
                "same_clip": other.clip_id == it.clip_id, "train": False}


def choose_prompt(item: XttsItem, pool: list[XttsItem]) -> XttsItem:
    same = [p for p in pool if p.speaker == item.speaker and p.clip_id != item.clip_id]
    if not same:
        return item
    # the longest other clip up to 10 s: a full 6 s prompt without an outlier's noise
    return max(same, key=lambda p: (min(p.samples, 220500), p.clip_id))


class Collate:
    def __init__(self, spec: PromptSpec, stop_text: int, stop_audio: int, train: bool, augment=None):
        self.spec, self.stop_text, self.stop_audio, self.train = spec, stop_text, stop_audio, train
        self.augment = augment if train else None

    def __call__(self, items: list[dict]) -> dict:
        b = len(items)
        tl = torch.tensor([len(x["tokens"]) for x in items])
        cl = torch.tensor([len(x["codes"]) for x in items])
        text = torch.full((b, int(tl.max())), self.stop_text, dtype=torch.long)
        codes = torch.full((b, int(cl.max())), self.stop_audio, dtype=torch.long)
        for i, x in enumerate(items):
            text[i, : tl[i]] = x["tokens"]
            codes[i, : cl[i]] = x["codes"]
        frames = [x["prompt"].shape[-1] for x in items]
        if self.train:
            n = int(torch.randint(self.spec.min_frames, self.spec.max_frames + 1, ()).item())
            # a prompt never takes more than half of any clip (coqui's rule), one length per batch
            n = max(1, min(n, min(f // 2 for f in frames)))
            starts = [int(torch.randint(0, f - n + 1, ()).item()) for f in frames]
        else:
            n = max(1, min(self.spec.eval_frames, min(frames)))
            starts = [0] * b
        prompt = torch.stack([x["prompt"][:, s : s + n] for x, s in zip(items, starts, strict=True)])
        span = torch.zeros(b, 2, dtype=torch.long)
        for i, (x, s) in enumerate(zip(items, starts, strict=True)):
            if x["same_clip"]:
                span[i] = torch.tensor(prompt_code_span(s, n, int(cl[i])))
        batch = {"text": text, "text_lengths": tl, "codes": codes, "code_lengths": cl, "prompt": prompt,
                 "mask_span": span}
        return apply_augment(batch, self.augment)


def apply_augment(batch: dict, augment) -> dict:
    """Augment each training prompt (see augment.py); eval batches are never augmented."""
    if augment is not None:
        batch["prompt"] = torch.stack([augment(p) for p in batch["prompt"]])
    return batch
