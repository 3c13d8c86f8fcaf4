"""Can Joe's decoder say the target's pitch at all? Gradient descent on the latent z of a frozen decoder.

bench/pitch_path.py found the fine-tuned decoder's own training reconstructions, dec(m_q(spec)),
at 113-122 Hz for the high target's 165 Hz. This asks whether *any* latent makes the frozen base
decoder produce the clip: z starts at the posterior mean m_q(spec) of the cached bootstrap and is
optimised (Adam) against the clip with the fine-tuning's waveform losses, mel L1 (x45) and the
multi-resolution log-STFT (x45, the low band at a 4096 window, which resolves harmonics), with and
without the autocorrelation (pitch period) loss. If the pitch of dec(z*) reaches the clip's, the
decoder can say it and the latent is what a recipe must change; if it falls to 86 Hz, the losses
and this decoder pull toward the frame rate whatever the latent. ``--encoder-lr`` then trains the
posterior encoder's weights instead of a free z (all clips one batch, the same losses): whether an
encoder, which must serve every clip, can be moved there too. Results accumulate in
bench-out/latent-search-TARGET.json.

    .venv/bin/python bench/latent_search.py --target high --clips 3 --steps 150 --encoder-lr 0
    .venv/bin/python bench/latent_search.py --target high --clips 3 --steps 150 --only "" --encoder-lr 5e-4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).parent))
from posterior_recon import reconstruct  # noqa: E402
from quality_targets import build_target  # noqa: E402

LOSSES = {"mel+stft": 0.0, "mel+stft+periodicity": 20.0}  # name -> periodicity weight


def waveform_loss(model, c_period: float = 0.0):
    """The fine-tuning's waveform losses at its weights: mel L1 x 45 + the log-STFT x 45 (the run's
    default resolutions), and the periodicity loss at ``c_period``."""
    from voicetune.models.vits.finetune import VitsTrainOptions
    from voicetune.models.vits.mel import mel_spectrogram
    from voicetune.models.vits.spectral_losses import log_stft_loss, periodicity_loss

    c = model.config
    mel = lambda a: mel_spectrogram(a, c.filter_length, c.mel_channels, c.sample_rate, c.hop_length, c.win_length)  # noqa: E731
    res = VitsTrainOptions().stft_resolutions

    def loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = 45 * F.l1_loss(mel(y_hat), mel(y)) + 45 * log_stft_loss(y_hat, y, res, c.sample_rate)
        return out + c_period * periodicity_loss(y_hat, y) if c_period else out

    return loss


def encode(model, y: torch.Tensor):
    """(spec, frame lengths, samples kept) of a batch of equal-length clips [b, samples]."""
    from voicetune.models.vits.mel import spectrogram

    c = model.config
    spec = spectrogram(y, c.filter_length, c.hop_length, c.win_length)
    return spec, torch.full((y.shape[0],), spec.shape[-1]), spec.shape[-1] * c.hop_length


def optimise(forward, y: torch.Tensor, loss_fn, steps: int, opt) -> list[float]:
    """``steps`` optimizer steps on loss_fn(forward(), y); the loss of each."""
    curve = []
    for _ in range(steps):
        loss = loss_fn(forward(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    return curve


def search(model, y: torch.Tensor, steps: int, lr: float, c_period: float) -> tuple[np.ndarray, list[float]]:
    """A free latent z, from the posterior mean of the clip [1, samples], optimised by Adam."""
    spec, lengths, n = encode(model, y)
    with torch.no_grad():
        _, m_q, _, mask = model.enc_q(spec, lengths)
    z = (m_q * mask).clone().requires_grad_(True)
    curve = optimise(lambda: model.dec(z)[:, 0, :n], y[:, :n], waveform_loss(model, c_period), steps,
                     torch.optim.Adam([z], lr=lr))
    with torch.no_grad():
        return model.dec(z)[0, 0, :n].numpy(), curve


def train_encoder(model, clips: list[np.ndarray], steps: int, lr: float) -> tuple[list[np.ndarray], list[float]]:
    """The same losses, but the posterior encoder's weights move (all clips one batch), not a free z:
    whether an encoder, which must serve every clip, can be moved there as the free latents are."""
    y = torch.stack([torch.from_numpy(a).float() for a in clips])
    spec, lengths, n = encode(model, y)
    params = list(model.enc_q.parameters())
    for p in params:
        p.requires_grad_(True)

    def decoded() -> torch.Tensor:
        _, m_q, _, mask = model.enc_q(spec, lengths)
        return model.dec(m_q * mask)[:, 0, :n]

    opt = torch.optim.AdamW(params, lr=lr, betas=(0.8, 0.99), eps=1e-9, weight_decay=0.0)
    curve = optimise(decoded, y[:, :n], waveform_loss(model), steps, opt)
    for p in params:
        p.requires_grad_(False)
    with torch.no_grad():
        return list(decoded().numpy()), curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", default="high")
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--frames", type=int, default=128, help="frames of each clip (from its start)")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--encoder-lr", type=float, default=5e-4, help="0: skip training the posterior encoder")
    ap.add_argument("--only", default=",".join(LOSSES), help="which free-latent searches to run")
    args = ap.parse_args()
    from voicetune.audio import load_audio
    from voicetune.data.dataset import load_dataset
    from voicetune.evaluation.pitch import analyze_pitch, frame_rate_comb
    from voicetune.models.vits.run import build_backend
    from voicetune.models.vits.training import vits_options

    root = build_target(args.target)
    ds = load_dataset(root)
    sr = ds.sample_rate
    options = vits_options({}, None, "default", fresh_discriminator=True, log=lambda *a: None)
    model = build_backend(root, "joe", options, log=lambda *a: None)[0].model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    clips = [load_audio(root / r.audio_file, sr)[: args.frames * 256] for r in ds.train[: args.clips]]
    rate = sr / model.config.hop_length

    def row(audios):
        p = analyze_pitch(audios, sr, rate)
        return {"f0": p.median_f0, "lock": p.lock_share, "comb": frame_rate_comb(audios, sr, rate)}

    start = [reconstruct(model, a) for a in clips]
    store = Path(f"bench-out/latent-search-{args.target}.json")
    results = json.loads(store.read_text()) if store.exists() else {}  # accumulates over invocations
    results.update({"clips": row(clips), "start: dec(m_q)": row(start)})
    print(f"{args.target}: {len(clips)} clips of {args.frames} frames; input {results['clips']}, dec(m_q) {results['start: dec(m_q)']}")
    for name, c_period in ((k, LOSSES[k]) for k in args.only.split(",") if k):
        t0 = time.process_time()
        outs, curves = [], []
        for a in clips:
            out, curve = search(model, torch.from_numpy(a).float().unsqueeze(0), args.steps, args.lr, c_period)
            outs.append(out)
            curves.append(curve)
        r = row(outs)
        r["loss"] = [float(np.mean([c[i] for c in curves])) for i in (0, len(curves[0]) // 2, -1)]
        r["cpu_s"] = time.process_time() - t0
        results[name] = r
        print(f"{name}: F0 {r['f0']:.0f} Hz, lock {r['lock']:.0%}, comb {r['comb']:+.1f} dB, loss {r['loss']}, "
              f"{r['cpu_s']:.0f} CPU s", flush=True)
        for k, o in enumerate(outs):
            import soundfile as sf

            sf.write(f"bench-out/latent-search-{args.target}-{name}-{k}.wav", o, sr)
    if args.encoder_lr:
        t0 = time.process_time()
        outs, curve = train_encoder(model, clips, args.steps, args.encoder_lr)
        r = {**row(outs), "loss": [curve[0], curve[len(curve) // 2], curve[-1]], "cpu_s": time.process_time() - t0}
        results[f"encoder, lr {args.encoder_lr:g}"] = r
        print(f"encoder, lr {args.encoder_lr:g}: F0 {r['f0']:.0f} Hz, lock {r['lock']:.0%}, comb {r['comb']:+.1f} dB, "
              f"loss {r['loss']}, {r['cpu_s']:.0f} CPU s", flush=True)
    store.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
