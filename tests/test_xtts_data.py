"""XTTS data: cached codes keyed by content, rejection at load, the per-sample prompt-loss mask."""

from __future__ import annotations

import math

import pytest
import torch

from xtts_helpers import copy_dataset, tiny_base, xtts_dataset  # noqa: F401 - session fixtures

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def parts(tiny_base):  # noqa: F811
    from voicetune.models.xtts.base import resolve_base
    from voicetune.models.xtts.model import base_gpt, load_mel_stats

    base = resolve_base(tiny_base)
    gpt, tok, args, _ = base_gpt(base)
    return base, gpt, tok, args, load_mel_stats(base.path("mel_stats.pth"))


def _builder(ds_root, parts):
    from voicetune.models.xtts.features import FeatureBuilder

    base, _, _, args, stats = parts
    return FeatureBuilder(ds_root, base.path("dvae.pth"), stats, args["gpt_num_audio_tokens"])


def test_codes_cached_by_content_and_bad_clips_rejected(tmp_path, parts, xtts_dataset):  # noqa: F811
    from voicetune.audio import load_audio, write_wav
    from voicetune.data.dataset import load_dataset
    from voicetune.models.xtts.features import Limits

    root = copy_dataset(xtts_dataset, tmp_path / "ds")
    ds = load_dataset(root)
    tok = parts[2]
    limits = Limits(max_samples=22050 * 11, max_text_tokens=200, max_codes=parts[1].max_mel_tokens)
    first = _builder(root, parts).build(ds, tok, "en", limits)
    assert not first.rejected and len(first.train) == 10 and len(first.eval) == 2 and first.cache_hits == 0
    item = first.train[0]
    assert len(item.codes) == math.ceil(item.samples / 1024)  # one code per 1024 samples
    assert item.cond_mel.shape[0] == 80 and abs(item.cond_mel.shape[1] - item.samples / 256) <= 2
    again = _builder(root, parts).build(ds, tok, "en", limits)
    assert again.cache_hits == 12 and torch.equal(again.train[0].codes, item.codes)
    # a replaced wav (same name, new audio) is recomputed, never served stale
    clip = next(c for c in ds.clips if c.id == item.clip_id)
    wav = root / clip.audio_file
    write_wav(wav, load_audio(wav, ds.sample_rate)[: ds.sample_rate], ds.sample_rate)
    clip.duration = 1.0
    third = _builder(root, parts).build(ds, tok, "en", limits)
    assert third.cache_hits == 11
    assert next(i for i in third.train if i.clip_id == item.clip_id).samples == 22050
    # over-long clips and over-long texts are rejected with the reason, not swapped silently
    ds.clips[1].text = " ".join([ds.clips[1].text] * 8)
    short = Limits(max_samples=int(22050 * 3.0), max_text_tokens=120, max_codes=parts[1].max_mel_tokens)
    res = _builder(root, parts).build(ds, tok, "en", short)
    reasons = dict(res.rejected)
    assert "over the limit of 120 (xtts.max_text_tokens)" in reasons[ds.clips[1].id]
    assert any("over the 3.0 s limit" in r for r in reasons.values())
    assert len(res.train) + len(res.eval) + len(res.rejected) == 12
    ds.clips[2].text = "naïve façade ½ ünïcödé"
    res = _builder(root, parts).build(ds, tok, "en", limits)
    assert "[UNK]" in dict(res.rejected)[ds.clips[2].id]


def masked(targets: torch.Tensor, valid: torch.Tensor) -> list[set[int]]:
    """Per sample: positions whose target is ignored although they hold a real code."""
    return [{j for j in range(int(n)) if int(targets[i, j]) == -1} for i, n in enumerate(valid)]


def expected(start_sample: int, end_sample: int, n_codes: int) -> set[int]:
    """Codes whose 1024-sample span overlaps the prompt audio."""
    return set(range(start_sample // 1024, min(n_codes, math.ceil(end_sample / 1024))))


def test_prompt_loss_mask_every_sample_at_code_stride(parts, monkeypatch):
    """coqui masks only the batch's last sample (coqui-ai/TTS #3388) and divides sample positions by
    256 instead of the 1024-sample code stride (#3631). Ours: every sample, the right codes."""
    from voicetune.models.xtts.batch import prompt_code_span
    from voicetune.models.xtts.step import mel_targets

    gpt = parts[1].train()
    n_codes = [90, 60]
    starts, n = [100, 20], 150  # prompt mel frames (hop 256) per sample
    codes = torch.randint(0, 1024, (2, max(n_codes)))
    span = torch.tensor([prompt_code_span(s, n, c) for s, c in zip(starts, n_codes, strict=True)])
    _, tar, _ = mel_targets(codes, torch.tensor(n_codes), gpt.start_audio_token, gpt.stop_audio_token, span)
    ours = masked(tar, torch.tensor(n_codes))
    for i, s in enumerate(starts):
        want = expected(s * 256, (s + n) * 256, n_codes[i])
        assert want <= ours[i], f"sample {i}: codes under its prompt are not all masked"
        assert len(ours[i] - want) <= 2, "the mask spills over (only the mel window's edges may add a code)"
        assert int(tar[i, n_codes[i]]) == gpt.stop_audio_token  # the stop target survives

    # coqui's GPT.forward on the same batch: capture the targets it feeds to cross_entropy
    seen = []
    real_ce = torch.nn.functional.cross_entropy

    def spy(logits, target, *a, **k):
        seen.append(target.clone())
        return real_ce(logits, target, *a, **k)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    text = torch.randint(5, 50, (2, 12))
    cond_idxs = torch.tensor([[s * 256, (s + n) * 256] for s in starts])
    gpt(text, torch.tensor([12, 10]), codes, torch.tensor([c * 1024 for c in n_codes]),
        cond_mels=torch.randn(2, 1, 80, 200), cond_idxs=cond_idxs, cond_lens=None)
    theirs = masked(seen[1], torch.tensor(n_codes))
    right = [expected(s * 256, (s + n) * 256, c) for s, c in zip(starts, n_codes, strict=True)]
    assert not right[0] <= theirs[0], "coqui masks the first sample's prompt after all?"
    assert theirs[1] != right[1], "coqui's mask position for the last sample is off (divides by 256)"


def test_collate_masks_each_prompt_and_eval_prompts_come_from_other_clips(parts):
    from voicetune.models.xtts.batch import Collate, EvalSet, PromptSpec, TrainSet
    from voicetune.models.xtts.features import XttsItem
    from voicetune.models.xtts.step import mel_targets

    gpt = parts[1]
    torch.manual_seed(3)

    def item(i, spk, frames):
        codes = torch.randint(0, 1024, (math.ceil(frames * 256 / 1024),))
        return XttsItem(f"c{i}", spk, "x", torch.tensor([5, 6, 7]), codes, torch.randn(80, frames), frames * 256)

    items = [item(i, "a" if i < 3 else "b", 400 + 37 * i) for i in range(5)]
    col = Collate(PromptSpec(258, 517, 517), gpt.stop_text_token, gpt.stop_audio_token, train=True)
    batch = col([TrainSet(items)[i] for i in range(4)])
    _, tar, _ = mel_targets(batch["codes"], batch["code_lengths"], gpt.start_audio_token, gpt.stop_audio_token,
                            batch["mask_span"])
    for i in range(4):
        a, b = batch["mask_span"][i].tolist()
        assert 0 <= a < b <= int(batch["code_lengths"][i])
        assert (tar[i, a:b] == -1).all() and (tar[i, :a] != -1).all()
    ev = EvalSet(items[:1] + items[3:4], items)
    assert ev.prompts[0].clip_id != "c0" and ev.prompts[0].speaker == "a"
    assert ev.prompts[1].speaker == "b" and ev.prompts[1].clip_id == "c4"
    eb = Collate(PromptSpec(258, 517, 517), gpt.stop_text_token, gpt.stop_audio_token, train=False)(
        [ev[0], ev[1]])
    assert (eb["mask_span"] == 0).all()  # nothing to hide: the prompt is another clip
