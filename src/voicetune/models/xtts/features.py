"""XTTS training items from a dataset folder: text tokens, DVAE codes and conditioning mels.

coqui's XTTS dataset loads every file twice per step and its trainer re-runs the 51.6 M-weight
DVAE on every batch; here codes and the conditioning mel of each clip are computed once and
cached in ``DATASET/.cache/xtts-v1/`` keyed by the wav's *content* hash plus the DVAE and
mel-stats hashes (a replaced wav or another base never reuses stale features). Clips too long
for the model or with text over the token limit are rejected here, each with its reason —
coqui swaps them silently for other samples, which skews the data and can leave eval empty.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from voicetune.audio import load_audio
from voicetune.data.dataset import Clip, Dataset
from voicetune.fileio import sha256_file
from voicetune.models.xtts.model import SAMPLE_RATE, Mels, load_dvae
from voicetune.models.xtts.text import encode
from voicetune.trainer.data import FeatureCache

CACHE_VERSION = 1
HOP = 256  # conditioning-mel hop (samples @22050)
MEL_WIN = 1024  # its window: a frame sees HOP*f ± MEL_WIN/2


@dataclass(frozen=True)
class Limits:
    max_samples: int  # audio @22050
    max_text_tokens: int
    max_codes: int  # what the GPT's position table holds
    min_samples: int = SAMPLE_RATE // 2  # under 0.5 s: useless and unstable (coqui's rule too)


@dataclass
class XttsItem:
    clip_id: str
    speaker: str
    text: str
    tokens: torch.Tensor  # [T] long
    codes: torch.Tensor  # [M] long, one per 1024 samples
    cond_mel: torch.Tensor  # [80, F] conditioning mel of the whole clip
    samples: int


@dataclass
class XttsFeatures:
    train: list[XttsItem] = field(default_factory=list)
    eval: list[XttsItem] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (clip id, reason)
    cache_hits: int = 0


def _sha(path: Path) -> str:
    return sha256_file(path)


class FeatureBuilder:
    def __init__(self, dataset_root: Path, dvae_path: Path, mel_stats: torch.Tensor, num_audio_tokens: int):
        self.root = Path(dataset_root)
        self.dvae_path, self.num_audio_tokens = dvae_path, num_audio_tokens
        self.mels = Mels(mel_stats)
        stats_sha = hashlib.sha256(mel_stats.numpy().tobytes()).hexdigest()[:16]
        self.cache = FeatureCache(self.root / ".cache" / "xtts-v1", CACHE_VERSION,
                                  {"dvae": _sha(dvae_path)[:16], "mel_stats": stats_sha, "rate": SAMPLE_RATE})
        self._dvae = None

    @property
    def dvae(self):
        if self._dvae is None:  # only loaded when some clip is not cached yet
            self._dvae = load_dvae(self.dvae_path, self.num_audio_tokens)
        return self._dvae

    def compute(self, path: Path) -> dict[str, torch.Tensor]:
        wav = torch.from_numpy(load_audio(path, SAMPLE_RATE)).clamp(-1, 1)[None]
        with torch.no_grad():
            codes = self.dvae.get_codebook_indices(self.mels.dvae(wav))[0]
            cond = self.mels.cond(wav)[0]
        return {"codes": codes.long(), "cond_mel": cond.float(), "samples": torch.tensor(wav.shape[-1])}

    def build(self, ds: Dataset, tokenizer, language: str, limits: Limits) -> XttsFeatures:
        out = XttsFeatures()
        for clip in ds.clips:
            item, reason, hit = self._item(clip, tokenizer, language, limits)
            if item is None:
                out.rejected.append((clip.id, reason))
                continue
            out.cache_hits += hit
            (out.eval if clip.split == "eval" else out.train).append(item)
        self._dvae = None  # free the DVAE before training
        return out

    def _item(self, clip: Clip, tokenizer, language: str, limits: Limits):
        wav = self.root / clip.audio_file
        if not wav.is_file():
            return None, f"{wav} is missing", 0
        tokens = encode(tokenizer, clip.text, language)
        if 1 in tokens:
            return None, ("text has characters the vocabulary lacks ([UNK]); extend it with "
                          "xtts.extend_vocab: true"), 0
        if len(tokens) > limits.max_text_tokens:
            return None, (f"text is {len(tokens)} tokens, over the limit of {limits.max_text_tokens} "
                          "(xtts.max_text_tokens); split the clip"), 0
        seconds = clip.duration
        if seconds * SAMPLE_RATE > limits.max_samples + SAMPLE_RATE * 0.05:
            return None, (f"{seconds:.1f} s is over the {limits.max_samples / SAMPLE_RATE:.1f} s limit "
                          "(xtts.max_audio_seconds); split it"), 0
        hit = int(self.cache.path_for(wav).exists())
        feats = self.cache.get(wav, self.compute)
        n = int(feats["samples"])
        if n > limits.max_samples:
            return None, f"{n / SAMPLE_RATE:.2f} s is over the {limits.max_samples / SAMPLE_RATE:.1f} s limit; split it", 0
        if n < limits.min_samples:
            return None, f"{n / SAMPLE_RATE:.2f} s is too short (under 0.5 s)", 0
        codes = feats["codes"][: math.ceil(n / 1024)]
        if len(codes) + 3 > limits.max_codes:
            return None, f"{len(codes)} audio codes do not fit the model's {limits.max_codes - 3}; split it", 0
        item = XttsItem(clip.id, clip.speaker, clip.text, torch.tensor(tokens, dtype=torch.long), codes,
                        feats["cond_mel"], n)
        return item, "", hit
