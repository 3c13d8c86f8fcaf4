"""Move the posterior encoder toward the dataset's voice before fine-tuning, through the frozen decoder.

Why it was tried: an ONNX base's posterior encoder is distilled from the base's own speech
(bootstrap.py), so it has only heard the base's pitch. Its latent of the high bench target's clips,
decoded by the base decoder, comes back at 111 of 165 Hz, and after a 20-minute default run, whose
decoder trains on that latent, still at 113-122 Hz (bench/pitch_path.py). The frozen base decoder
*can* say more of the target's pitch from some latent: training the encoder on three of those
clips through it, with the fine-tuning's waveform losses, moved them from 129 to 158 Hz in 150
steps (bench/latent_search.py).

What it does: before the run's first step, ``posterior_adapt.steps`` steps train only ``enc_q``
on random ``frames``-frame crops of the training clips, decoded from the posterior mean by the
frozen decoder and compared with the clip by mel L1 and the multi-resolution log-STFT at the run's
own weights (vits.c_mel, vits.c_stft). The flow then learns the moved latent through the KL, and
the decoder trains on it, as in any run. The steps count toward ``--max-minutes``.

Measured (docs/BENCHMARKS.md, "Where the pitch is lost"): on the whole dataset the moved latent
carries more pitch (reconstructions 137-139 Hz) but also a frame-rate comb (+2.8 dB), and the
flow cannot follow it: the prior's latent decodes at 86-89 Hz, and the 20-minute runs end at
88 Hz with 28-42 % of voiced frames locked at 86 Hz. So it is off (0 steps) by default.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.nn import functional as F

from voicetune.models.vits.mel import mel_spectrogram
from voicetune.models.vits.spectral_losses import log_stft_loss

Progress = Callable[[str, int, int], None]  # (stage, done, total)
STAGE = "posterior adaptation"


class PosteriorAdaptOptions(BaseModel):
    """``vits.posterior_adapt`` in a training config."""

    model_config = ConfigDict(extra="forbid")
    steps: int = Field(0, ge=0, description="steps that train only the posterior encoder, through the frozen "
                       "decoder, before the run (0: none)")
    lr: float = Field(5e-4, gt=0)
    batch: int = Field(4, ge=1, description="crops per step")
    frames: int = Field(64, ge=8, description="frames per crop")


@dataclass
class AdaptReport:
    steps: int
    loss_before: float  # mean of the first steps' losses (mel + log-STFT, weighted as the run weighs them)
    loss_after: float  # mean of the last steps'
    seconds: float

    def lines(self) -> list[str]:
        return [f"posterior adaptation: {self.steps} steps through the frozen decoder, loss "
                f"{self.loss_before:.1f} -> {self.loss_after:.1f}, took {self.seconds:.0f} s"]


def _crops(items: Sequence, opts: PosteriorAdaptOptions, hop: int, rng: random.Random):
    """``batch`` random windows of ``frames`` frames (shorter clips whole, zero-padded), with their
    lengths and speaker ids."""
    specs, audios, lengths, speakers = [], [], [], []
    for _ in range(opts.batch):
        it = rng.choice(items)
        n = it.spec.shape[-1]
        s = rng.randint(0, max(0, n - opts.frames))
        e = min(n, s + opts.frames)
        specs.append(F.pad(it.spec[:, s:e], (0, opts.frames - (e - s))))
        audios.append(F.pad(it.audio[s * hop : e * hop], (0, (opts.frames - (e - s)) * hop)))
        lengths.append(e - s)
        speakers.append(it.speaker)
    return torch.stack(specs), torch.stack(audios), torch.tensor(lengths), torch.tensor(speakers)


def adapt_posterior(model, items: Sequence, opts: PosteriorAdaptOptions, *, c_mel: float, c_stft: float,
                    stft_resolutions: Sequence[Sequence[float]], seed: int = 0,
                    progress: Progress | None = None) -> AdaptReport:
    """Train ``model.enc_q`` in place (everything else frozen) on ``items`` (VitsItem: spec, audio,
    speaker; a multi-speaker model encodes and decodes each crop with its speaker's embedding)."""
    c = model.config
    note = progress or (lambda *_: None)
    rng = random.Random(seed)
    started = time.monotonic()
    params = list(model.enc_q.parameters())
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=opts.lr, betas=(0.8, 0.99), eps=1e-9, weight_decay=0.0)
    mel = lambda y: mel_spectrogram(y, c.filter_length, c.mel_channels, c.sample_rate, c.hop_length,  # noqa: E731
                                    c.win_length, c.mel_fmin, c.mel_fmax)
    was_training = model.training
    model.eval()  # no dropout in the frozen parts; enc_q has none
    losses: list[float] = []
    try:
        for step in range(opts.steps):
            spec, audio, lengths, sid = _crops(items, opts, c.hop_length, rng)
            g = model.speaker_embedding(sid)
            _, m_q, _, mask = model.enc_q(spec, lengths, g=g)
            y_hat = model.dec(m_q * mask, g=g)[:, 0]
            samples = torch.repeat_interleave(mask[:, 0], c.hop_length, dim=1)  # a short clip's padding is silence
            y, y_hat = audio * samples, y_hat * samples
            loss = c_mel * F.l1_loss(mel(y_hat), mel(y))
            if c_stft:
                loss = loss + c_stft * log_stft_loss(y_hat, y, stft_resolutions, c.sample_rate)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            note(STAGE, step + 1, opts.steps)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        model.train(was_training)
    k = max(1, min(10, len(losses) // 4))
    mean = lambda xs: sum(xs) / max(1, len(xs))  # noqa: E731
    return AdaptReport(len(losses), mean(losses[:k]), mean(losses[-k:]), time.monotonic() - started)
