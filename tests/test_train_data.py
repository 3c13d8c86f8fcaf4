"""Batch sampler (epochs without replacement, buckets, sharding, resume) and the feature cache."""

from __future__ import annotations

import numpy as np
import soundfile as sf
import torch

from voicetune.trainer.data import BucketBatchSampler, FeatureCache


def _lengths(n=203, seed=0):
    return torch.randint(20, 400, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def test_epoch_is_one_pass_without_replacement_and_order_changes_per_epoch():
    s = BucketBatchSampler(203, 8, lengths=_lengths(), seed=7)
    e0 = list(s)
    assert sorted(i for b in e0 for i in b) == list(range(203))
    s.set_position(1)
    e1 = list(s)
    assert sorted(i for b in e1 for i in b) == list(range(203)) and e1 != e0
    s.set_position(0)
    assert list(s) == e0  # a pure function of (seed, epoch)


def test_buckets_cut_padding():
    lengths = _lengths()
    bucketed = BucketBatchSampler(203, 8, lengths=lengths, seed=1, bucket_size=8)
    plain = BucketBatchSampler(203, 8, lengths=None, seed=1)

    def padding(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    assert padding(list(bucketed)) < 0.4 * padding(list(plain))


def test_sharding_gives_every_process_the_same_number_of_batches():
    shards = [BucketBatchSampler(203, 8, lengths=_lengths(), seed=3, num_replicas=2, rank=r) for r in (0, 1)]
    a, b = list(shards[0]), list(shards[1])
    assert len(a) == len(b) == len(shards[0]) == 13  # 26 batches -> 13 each (25 padded by one)
    covered = {i for batch in a + b for i in batch}
    assert covered == set(range(203))
    evals = [BucketBatchSampler(21, 8, shuffle=False, num_replicas=2, rank=r, pad=False) for r in (0, 1)]
    assert sorted(i for s in evals for b in s for i in b) == list(range(21))  # eval: no duplicates


def test_resume_skips_the_consumed_batches():
    s = BucketBatchSampler(100, 4, lengths=_lengths(100), seed=5)
    s.set_position(2)
    full = list(s)
    s.set_position(2, skip_batches=9)
    assert list(s) == full[9:]


def test_feature_cache_is_keyed_by_audio_content(tmp_path):
    wav = tmp_path / "clip.wav"
    sf.write(wav, np.zeros(800, dtype=np.float32), 16000)
    cache = FeatureCache(tmp_path / "cache", version=1, settings={"hop": 256})
    calls = []

    def compute(path):
        calls.append(path)
        audio, _ = sf.read(path, dtype="float32")
        return {"energy": torch.tensor([float(np.abs(audio).sum())])}

    assert cache.get(wav, compute)["energy"].item() == 0.0
    assert cache.get(wav, compute)["energy"].item() == 0.0 and len(calls) == 1  # cached
    sf.write(wav, np.full(800, 0.5, dtype=np.float32), 16000)  # the wav is replaced, same name
    assert cache.get(wav, compute)["energy"].item() > 0 and len(calls) == 2  # never stale
    other = FeatureCache(tmp_path / "cache", version=2, settings={"hop": 256})
    assert other.path_for(wav) != cache.path_for(wav)  # a new feature version recomputes
