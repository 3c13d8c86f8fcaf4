"""VITS losses. Each returns a scalar tensor; the caller weights and sums them
(Piper's defaults: mel x45, KL x1, duration x1, feature matching x1, adversarial x1)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def mel_l1_loss(mel_hat: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(mel_hat.float(), mel.float())


def kl_loss(z_p: torch.Tensor, logs_q: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor, z_mask: torch.Tensor) -> torch.Tensor:
    """KL(q || p) per latent element, q evaluated at its sample z_p (after the flow)."""
    z_p, logs_q, m_p, logs_p, z_mask = (t.float() for t in (z_p, logs_q, m_p, logs_p, z_mask))
    kl = logs_p - logs_q - 0.5
    kl = kl + 0.5 * ((z_p - m_p) ** 2) * torch.exp(-2.0 * logs_p)
    return torch.sum(kl * z_mask) / torch.sum(z_mask)


def duration_loss(l_length: torch.Tensor) -> torch.Tensor:
    """The model's forward already normalizes per phoneme; sum over the batch as VITS does."""
    return torch.sum(l_length.float())


def feature_loss(fmap_r, fmap_g) -> torch.Tensor:
    loss = 0.0
    for dr, dg in zip(fmap_r, fmap_g, strict=True):
        for rl, gl in zip(dr, dg, strict=True):
            loss = loss + torch.mean(torch.abs(rl.float().detach() - gl.float()))
    return loss * 2


def discriminator_loss(disc_real_outputs, disc_generated_outputs) -> tuple[torch.Tensor, list[float], list[float]]:
    """LSGAN: real -> 1, generated -> 0. Also returns the per-discriminator parts for logging."""
    loss = 0.0
    r_losses, g_losses = [], []
    for dr, dg in zip(disc_real_outputs, disc_generated_outputs, strict=True):
        r_loss = torch.mean((1 - dr.float()) ** 2)
        g_loss = torch.mean(dg.float() ** 2)
        loss = loss + r_loss + g_loss
        r_losses.append(r_loss.item())
        g_losses.append(g_loss.item())
    return loss, r_losses, g_losses


def generator_loss(disc_outputs) -> tuple[torch.Tensor, list[torch.Tensor]]:
    loss = 0.0
    gen_losses = []
    for dg in disc_outputs:
        l_dg = torch.mean((1 - dg.float()) ** 2)
        gen_losses.append(l_dg)
        loss = loss + l_dg
    return loss, gen_losses
