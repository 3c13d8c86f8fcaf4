"""Generic data plumbing: a length-bucketed, seeded, shardable batch sampler and a feature cache.

Epoch = one full pass over the training items without replacement. The order of epoch ``e`` is
a pure function of ``(seed, e)``, so a checkpoint only needs ``(epoch, batches done)`` to resume
with exactly the same data order — no generator state can drift or be lost.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from voicetune.fileio import sha256_file, write_with


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of similar length (less padding), shuffled per epoch, sharded across processes.

    Items are shuffled, pooled in groups of ``bucket_size`` batches, sorted by length inside each
    pool and cut into batches; then the batch order is shuffled. Every item is used once per
    epoch. With several processes the batch list is padded (by repeating its first batches) to a
    multiple of the process count and process ``rank`` takes every ``num_replicas``-th batch, so
    all processes make the same number of steps (a collective would hang otherwise).
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        *,
        lengths: Sequence[int] | None = None,
        seed: int = 0,
        bucket_size: int = 8,
        shuffle: bool = True,
        num_replicas: int = 1,
        rank: int = 0,
        pad: bool = True,
    ):
        if lengths is not None and len(lengths) != num_items:
            raise ValueError(f"lengths has {len(lengths)} entries for {num_items} items")
        self.num_items, self.batch_size = num_items, batch_size
        self.lengths = list(lengths) if lengths is not None else None
        self.seed, self.bucket_size, self.shuffle = seed, bucket_size, shuffle
        self.num_replicas, self.rank, self.pad = num_replicas, rank, pad
        self.epoch = 0
        self.skip = 0  # batches of this epoch already consumed (resume)

    def set_position(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip = epoch, skip_batches

    def global_batches(self, epoch: int) -> list[list[int]]:
        """All batches of one epoch, before sharding (the same list on every process)."""
        idx = list(range(self.num_items))
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        if self.shuffle:
            idx = [idx[i] for i in torch.randperm(self.num_items, generator=g).tolist()]
        if self.lengths is not None:
            pool = self.batch_size * self.bucket_size if self.shuffle else self.num_items
            sorted_idx: list[int] = []
            for start in range(0, len(idx), pool):
                sorted_idx += sorted(idx[start : start + pool], key=lambda i: self.lengths[i])
            idx = sorted_idx
        batches = [idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
        if self.shuffle and self.lengths is not None:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        if self.pad and self.num_replicas > 1:
            short = -len(batches) % self.num_replicas
            batches += [batches[i % len(batches)] for i in range(short)]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        mine = self.global_batches(self.epoch)[self.rank :: self.num_replicas]
        yield from mine[self.skip :]

    def __len__(self) -> int:
        """Batches per process in a full epoch (independent of the resume offset)."""
        batches = math.ceil(self.num_items / self.batch_size)
        if self.pad:
            return math.ceil(batches / self.num_replicas)
        return len(range(self.rank, batches, self.num_replicas))


class FeatureCache:
    """Per-item features on disk, keyed by the audio's *content* hash plus the feature settings.

    A replaced wav (same name, new audio) gets a new key, so stale features are never reused —
    piper1-gpl's cache keys by file name and silently trains on the old audio.
    """

    def __init__(self, root: str | Path, version: int, settings: dict):
        self.root = Path(root)
        blob = json.dumps({"version": version, **settings}, sort_keys=True)
        self.tag = hashlib.sha256(blob.encode()).hexdigest()[:16]

    def path_for(self, audio_path: str | Path) -> Path:
        digest = sha256_file(audio_path)
        return self.root / self.tag / digest[:2] / f"{digest}.safetensors"

    def get(self, audio_path: str | Path, compute: Callable[[Path], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file, save_file

        target = self.path_for(audio_path)
        if target.exists():
            return load_file(target)
        features = {k: v.contiguous() for k, v in compute(Path(audio_path)).items()}
        write_with(target, lambda tmp: save_file(features, str(tmp)))
        return features
