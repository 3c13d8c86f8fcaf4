"""Benchmark: a full-size MMS training step (transformers VitsConfig defaults, 36.3 M generator
weights; batch 4 x 2 s at 16 kHz), the straightforward way vs our engine + VITS backend.

Baseline, same run, same batch: the step written directly on transformers' ``VitsModel`` modules
(text encoder, posterior encoder, flow, stochastic duration predictor, HiFi-GAN decoder), as
finetune-hf-vits does: MAS (our numba one, as their Cython one is also < 1 ms), a scale + period
2,3,5,7,11 discriminator, VITS losses, two AdamW optimizers, plain eager PyTorch, no engine.
Then ours: the model imported from a saved transformers folder (models/mms/import_hf.py) and
trained by the engine with VitsBackend, with the same discriminator and with our default (2,3,5).

    .venv/bin/python bench/train_mms.py [--steps 5] [--threads 2]
    .venv/bin/python bench/train_mms.py --tiny --steps 1      # smoke test: a tiny config, seconds

Prints seconds per step (median of the timed steps after one warm-up step), samples/s and the
speed-up over the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

BATCH, SECONDS, RATE, SEGMENT = 4, 2.0, 16000, 8192
FULL = [2, 3, 5, 7, 11]
VOCAB = list("_ abcdefghijklmnopqrstuvwxyzáéíóúñü¿¡'")


def hf_config(tiny: bool):
    import transformers

    if not tiny:
        return transformers.VitsConfig(vocab_size=len(VOCAB))  # the MMS architecture
    return transformers.VitsConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, ffn_dim=64, flow_size=16,
        upsample_initial_channel=32, prior_encoder_num_wavenet_layers=2, posterior_encoder_num_wavenet_layers=2)


def make_items(tokenizer, hop: int, n_fft: int):
    """BATCH + 1 items of exactly SECONDS of Joe speech at 16 kHz, ids from the MMS tokenizer."""
    from voicetune.audio import resample
    from voicetune.models.vits.features import VitsItem
    from voicetune.models.vits.mel import spectrogram
    from voicetune.sample_data import generated_sentences, synth_piper

    texts = generated_sentences(BATCH + 1, seed=5)
    clips, sr = synth_piper(texts)
    n = int(SECONDS * RATE) // hop * hop
    items = []
    for i, (text, audio) in enumerate(zip(texts, clips, strict=True)):
        a = torch.from_numpy(resample(audio, sr, RATE))
        a = torch.nn.functional.pad(a, (0, max(0, n - len(a))))[:n]
        spec = spectrogram(a.unsqueeze(0), n_fft, hop, n_fft)[0]
        ids = tokenizer.encode(text)
        items.append(VitsItem(f"c{i}", torch.tensor(ids), a[: spec.shape[-1] * hop].contiguous(), spec, 0, text))
    return items


def baseline(folder: Path, batch, steps: int, segment: int = SEGMENT) -> list[float]:
    """The straightforward step on transformers' modules (see the module docstring)."""
    import transformers

    from voicetune.models.vits import commons
    from voicetune.models.vits.discriminators import MultiPeriodDiscriminator
    from voicetune.models.vits.losses import discriminator_loss, feature_loss, generator_loss, kl_loss
    from voicetune.models.vits.mel import mel_spectrogram
    from voicetune.models.vits.model import VitsModel as Ours

    hf = transformers.VitsModel.from_pretrained(str(folder)).train()
    hf.decoder.apply_weight_norm()
    disc = MultiPeriodDiscriminator(tuple(FULL)).train()
    opt_g = torch.optim.AdamW(hf.parameters(), 2e-4, betas=(0.8, 0.99), eps=1e-9)
    opt_d = torch.optim.AdamW(disc.parameters(), 2e-4, betas=(0.8, 0.99), eps=1e-9)
    c = hf.config
    hop, n_fft = int(torch.tensor(c.upsample_rates).prod()), (c.spectrogram_bins - 1) * 2

    def mel(y):
        return mel_spectrogram(y.squeeze(1), n_fft, 80, RATE, hop, n_fft)

    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        ids, x_len, spec, y_len, audio = batch["ids"], batch["ids_lengths"], batch["spec"], batch["spec_lengths"], batch["audio"]
        x_mask = commons.sequence_mask(x_len, ids.shape[1])
        te = hf.text_encoder(input_ids=ids, padding_mask=x_mask.unsqueeze(-1).float(), attention_mask=x_mask.long())
        hidden, m_p, logs_p = (t.transpose(1, 2) for t in (te.last_hidden_state, te.prior_means, te.prior_log_variances))
        xm = x_mask.unsqueeze(1).float()
        y_mask = commons.sequence_mask(y_len, spec.shape[-1]).unsqueeze(1).float()
        z, m_q, logs_q = hf.posterior_encoder(spec, y_mask)
        z_p = hf.flow(z, y_mask)
        with torch.no_grad():
            attn = Ours.align(z_p, m_p, logs_p, xm, y_mask)
        l_length = hf.duration_predictor(hidden, xm, durations=attn.sum(2)) / xm.sum()
        m_p = torch.matmul(attn.squeeze(1), m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = torch.matmul(attn.squeeze(1), logs_p.transpose(1, 2)).transpose(1, 2)
        z_slice, ids_slice = commons.rand_slice_segments(z, y_len, segment // hop)
        y_hat = hf.decoder(z_slice)
        y = commons.slice_segments(audio, ids_slice * hop, segment)
        real, fake, _, _ = disc(y, y_hat.detach())
        loss_d = discriminator_loss(real, fake)[0]
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        _, fake, fmap_r, fmap_g = disc(y, y_hat)
        loss_g = (torch.nn.functional.l1_loss(mel(y_hat), mel(y)) * 45 + kl_loss(z_p, logs_q, m_p, logs_p, y_mask)
                  + l_length.sum() + feature_loss(fmap_r, fmap_g) + generator_loss(fake)[0])
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        times.append(time.perf_counter() - t0)
    return times[1:]


def ours(folder: Path, items, eval_items, steps: int, segment: int = SEGMENT, **options) -> list[float]:
    from voicetune.models.mms.import_hf import import_hf
    from voicetune.models.vits.features import FeatureSet
    from voicetune.models.vits.finetune import VitsBackend, VitsTrainOptions
    from voicetune.trainer.config import TrainConfig
    from voicetune.trainer.engine import fit

    imp = import_hf(folder)
    opts = VitsTrainOptions(samples=0, prior_warmup_steps=0, segment_size=segment, **options)
    backend = VitsBackend(imp.model, imp.voice, FeatureSet(items, eval_items), opts, imp.tokenizer, name="mms")
    run = Path(tempfile.mkdtemp()) / "run"
    try:
        cfg = TrainConfig(max_steps=steps + 1, epochs=None, batch_size=BATCH, eval_every=10_000, log_every=1,
                          device="cpu", keep_top_k=0, early_stop={"enabled": False})
        fit(backend, cfg, run, show_progress=False)
        stamps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        t = [r["time"] for r in stamps if r["event"] in ("start", "train")]
        return [b - a for a, b in zip(t[1:], t[2:], strict=False)]  # drop the warm-up step
    finally:
        shutil.rmtree(run.parent, ignore_errors=True)


def main() -> None:
    import transformers

    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tiny", action="store_true", help="a tiny config: checks the script runs, in seconds")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

    from voicetune.models.mms.tokenizer import MmsTokenizer
    from voicetune.models.vits.features import collate

    folder = Path(tempfile.mkdtemp()) / "mms-tts-bench"
    try:
        cfg = hf_config(args.tiny)
        model = transformers.VitsModel(cfg)
        model.save_pretrained(str(folder))
        (folder / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(VOCAB)}, ensure_ascii=False))
        tok = MmsTokenizer.from_folder(folder)
        hop, n_fft = int(torch.tensor(cfg.upsample_rates).prod()), (cfg.spectrogram_bins - 1) * 2
        items = make_items(tok, hop, n_fft)
        train, evals = items[:BATCH], items[BATCH:]
        n_params = sum(p.numel() for p in model.parameters()) / 1e6
        segment = 2048 if args.tiny else SEGMENT  # the discriminator dominates a tiny model's step
        print(f"MMS {'tiny' if args.tiny else 'full-size'} ({n_params:.2f} M weights), batch {BATCH} x {SECONDS:g} s "
              f"@ {RATE} Hz, segment {segment}; {args.threads} threads; {args.steps} timed steps after 1 warm-up")
        base = statistics.median(baseline(folder, collate(train), args.steps, segment))
        print(f"{'straightforward step on transformers VitsModel (baseline)':62s} {base:6.2f} s/step  "
              f"{BATCH / base:5.2f} samples/s  1.00x")
        for label, opts in [("ours: engine + VitsBackend, same work (MPD 2,3,5,7,11 + S)", {"disc_periods": FULL}),
                            ("ours: engine + VitsBackend, default (MPD 2,3,5 + S)", {})]:
            s = statistics.median(ours(folder, train, evals, args.steps, segment, **opts))
            print(f"{label:62s} {s:6.2f} s/step  {BATCH / s:5.2f} samples/s  {base / s:.2f}x")
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
