"""Benchmark: a Piper-medium VITS training step (batch 8, 8192-sample segments), ours vs piper-tts.

Baseline, same run, same batch: piper-tts's own training code (`piper.train.vits` models, losses
and the step of its Lightning module, run without Lightning; piper 1.8's wheel lacks its Cython
alignment core, so our numba MAS stands in for it — MAS is < 1 ms of a step). Then our engine +
VITS backend in several configurations, to choose the fine-tuning default by measurement.

    .venv/bin/python bench/train_vits.py [--steps 5] [--threads 2]
    .venv/bin/python bench/train_vits.py --recipe --threads 1   # the fine-tuning default's speed-ups

Prints seconds per step (median of the timed steps after one warm-up step) and samples/s, and
the speed-up over the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

BATCH = 8
FULL = [2, 3, 5, 7, 11]  # Piper's discriminator periods


def make_items(n: int):
    """n (ids, audio, spec) triples from Joe speech of 4.5-6 s, like Piper's medium training clips."""
    from voicetune.models.vits.features import VitsItem
    from voicetune.models.vits.import_piper import import_piper
    from voicetune.models.vits.mel import spectrogram
    from voicetune.sample_data import generated_sentences, joe_voice_path, synth_piper
    from voicetune.text.phonemize import Phonemizer

    voice = import_piper(joe_voice_path()).voice
    ph = Phonemizer(voice)
    texts = [f"{a[:-1]}, and {b[0].lower()}{b[1:]}" for a, b in zip(generated_sentences(2 * n, 3)[::2],
                                                                      generated_sentences(2 * n, 3)[1::2], strict=True)]
    clips, sr = synth_piper(texts)
    items = []
    for i, (text, audio) in enumerate(zip(texts, clips, strict=True)):
        a = torch.from_numpy(audio)
        spec = spectrogram(a.unsqueeze(0), 1024, 256, 1024)[0]
        frames = spec.shape[-1]
        ids = [j for s in ph.text_to_ids(text) for j in s]
        items.append(VitsItem(f"c{i}", torch.tensor(ids), a[: frames * 256].contiguous(), spec, 0, text))
    return voice, ph, items


def piper_baseline(batch, steps: int) -> list[float]:
    """piper-tts's training step (lightning.py _compute_loss + training_step), without Lightning."""
    from voicetune.models.vits.mas import maximum_path

    name = "piper.train.vits.monotonic_align.monotonic_align"
    core = types.ModuleType(f"{name}.core")

    def maximum_path_c(path, neg_cent, t_t_max, t_s_max):
        mask = torch.zeros(neg_cent.shape)
        for b in range(len(t_t_max)):
            mask[b, : t_t_max[b], : t_s_max[b]] = 1
        path[:] = maximum_path(torch.from_numpy(neg_cent), mask).numpy().astype(path.dtype)

    core.maximum_path_c = maximum_path_c
    sys.modules[name] = types.ModuleType(name)
    sys.modules[f"{name}.core"] = core
    from piper.train.vits.commons import slice_segments
    from piper.train.vits.losses import discriminator_loss, feature_loss, generator_loss, kl_loss
    from piper.train.vits.mel_processing import mel_spectrogram_torch, spec_to_mel_torch
    from piper.train.vits.models import MultiPeriodDiscriminator, SynthesizerTrn

    g = SynthesizerTrn(256, 513, 8192 // 256, 192, 192, 768, 2, 6, 3, 0.1, "2", (3, 5, 7), ((1, 2), (2, 6), (3, 12)),
                       (8, 8, 4), 256, (16, 16, 8))
    d = MultiPeriodDiscriminator()
    opt_g = torch.optim.AdamW(g.parameters(), 2e-4, betas=(0.8, 0.99), eps=1e-9)
    opt_d = torch.optim.AdamW(d.parameters(), 2e-4, betas=(0.8, 0.99), eps=1e-9)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        y_hat, l_length, _, ids_slice, _, z_mask, (_, z_p, m_p, logs_p, _, logs_q) = g(
            batch["ids"], batch["ids_lengths"], batch["spec"], batch["spec_lengths"], None)
        mel = spec_to_mel_torch(batch["spec"], 1024, 80, 22050, 0.0, None)
        y_mel = slice_segments(mel, ids_slice, 8192 // 256)
        y_hat_mel = mel_spectrogram_torch(y_hat.squeeze(1), 1024, 80, 22050, 256, 1024, 0.0, None)
        y = slice_segments(batch["audio"], ids_slice * 256, 8192)
        _, y_d_hat_g, fmap_r, fmap_g = d(y, y_hat)
        loss_g = (generator_loss(y_d_hat_g)[0] + feature_loss(fmap_r, fmap_g) + torch.nn.functional.l1_loss(y_mel, y_hat_mel) * 45
                  + kl_loss(z_p, logs_q, m_p, logs_p, z_mask) + torch.sum(l_length.float()))
        y_d_hat_r, y_d_hat_g, _, _ = d(y, y_hat.detach())
        loss_d = discriminator_loss(y_d_hat_r, y_d_hat_g)[0]
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        times.append(time.perf_counter() - t0)
    return times[1:]


def ours(voice, ph, items, eval_items, steps: int, precision: str = "no", **options) -> list[float]:
    from voicetune.models.vits.features import FeatureSet
    from voicetune.models.vits.finetune import VitsBackend, VitsTrainOptions
    from voicetune.models.vits.import_piper import import_piper
    from voicetune.sample_data import joe_voice_path
    from voicetune.trainer.config import TrainConfig
    from voicetune.trainer.engine import fit

    model = import_piper(joe_voice_path()).model
    backend = VitsBackend(model, voice, FeatureSet(items, eval_items), VitsTrainOptions(samples=0, **options), ph)
    run = Path(tempfile.mkdtemp()) / "run"
    try:
        cfg = TrainConfig(max_steps=steps + 1, epochs=None, batch_size=BATCH, eval_every=10_000, log_every=1,
                          device="cpu", precision=precision, keep_top_k=0, early_stop={"enabled": False})
        fit(backend, cfg, run, show_progress=False)
        stamps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        t = [r["time"] for r in stamps if r["event"] in ("start", "train")]
        return [b - a for a, b in zip(t[1:], t[2:], strict=False)]  # drop the warm-up step
    finally:
        shutil.rmtree(run.parent, ignore_errors=True)


def _recipe() -> dict:
    from voicetune.models.vits.training import DEFAULT_C_STFT, DEFAULT_FREEZE

    return {"freeze": list(DEFAULT_FREEZE), "c_stft": DEFAULT_C_STFT}


# what `voicetune train --base joe` trains (models/vits/training.py: the flow, the decoder's
# resblocks and conv_post, MR-STFT loss) and the two opt-in speed-ups (bf16 on a CPU without native
# bf16 was 15x slower, so the two together are not timed)
RECIPE = [
    ("recipe: the fine-tuning default", {}),
    ("recipe + bf16 autocast", {"precision": "bf16"}),
    ("recipe + segment 4096", {"segment_size": 4096}),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recipe", action="store_true",
                    help="time the fine-tuning recipe `voicetune train` uses on a Piper base (and its speed-ups) "
                         "instead of the engine configurations")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from voicetune.models.vits.features import collate

    voice, ph, items = make_items(BATCH + 1)
    train, evals = items[:BATCH], items[BATCH:]
    print(f"clips: {BATCH} x {statistics.mean(it.frames * 256 / 22050 for it in train):.2f} s mean; "
          f"{args.threads} threads; {args.steps} timed steps after 1 warm-up")
    base = statistics.median(piper_baseline(collate(train), args.steps))
    print(f"{'piper-tts training code (baseline)':58s} {base:6.2f} s/step  {BATCH / base:5.2f} samples/s  1.00x")
    configs = RECIPE if args.recipe else [
        ("ours, same work (MPD 2,3,5,7,11 + S, nothing frozen)", {"prior_warmup_steps": 0, "disc_periods": FULL}),
        ("ours, prior frozen, MPD 2,3,5,7,11 + S", {"disc_periods": FULL}),
        ("ours, default: prior frozen, MPD 2,3,5 + S", {}),
        ("ours, prior frozen, S only", {"disc_periods": []}),
        ("ours, default + segment 4096", {"segment_size": 4096}),
        ("ours, prior frozen, MPD 2,3,5,7,11 + S, bf16 autocast", {"precision": "bf16", "disc_periods": FULL}),
    ]
    for label, opts in configs:
        opts = dict(opts)
        precision = opts.pop("precision", "no")
        if args.recipe:
            opts = {**_recipe(), **opts}
        s = statistics.median(ours(voice, ph, train, evals, args.steps, precision, **opts))
        print(f"{label:58s} {s:6.2f} s/step  {BATCH / s:5.2f} samples/s  {base / s:.2f}x")


if __name__ == "__main__":
    main()
