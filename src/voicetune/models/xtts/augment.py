"""Light augmentation of the conditioning prompt (seed 002): gain and a little white noise.

Applied in the cached mel domain so the cache stays valid: the normalised log-mel is turned back
into band power, scaled by the gain, and white noise adds (nearly) the same power to every
Slaney-normalised band. The targets (DVAE codes) are never augmented: they are the voice to learn.
"""

from __future__ import annotations

import torch


class PromptAugment:
    def __init__(self, mel_stats: torch.Tensor, gain_db: float = 3.0, snr_db: tuple[float, float] = (30.0, 50.0),
                 p: float = 0.5):
        self.stats, self.gain_db, self.snr_db, self.p = mel_stats.float(), gain_db, snr_db, p

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """(..., 80, F) normalised log-mel -> augmented, same shape."""
        if float(torch.rand(())) >= self.p:
            return mel
        stats = self.stats.to(mel.device)[:, None]
        power = torch.exp(mel * stats)
        gain = float(torch.empty(()).uniform_(-self.gain_db, self.gain_db))
        power = power * 10 ** (gain / 10)
        snr = float(torch.empty(()).uniform_(*self.snr_db))
        noise = power.mean(dim=(-2, -1), keepdim=True) * 10 ** (-snr / 10)
        return torch.log(torch.clamp(power + noise, min=1e-5)) / stats
