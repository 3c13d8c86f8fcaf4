"""One GPT forward with coqui's layers and voicetune's targets: text_ce and mel_ce.

Same sequence layout as coqui's ``GPT.forward`` ([32 conditioning latents][START text STOP]
[START codes STOP]), attention masks over padding, token-weighted cross entropies; different
where coqui is wrong: the prompt-loss mask is applied per sample at code positions
(:func:`mel_targets`), and a frozen conditioning encoder runs without autograd.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _targets(tokens: torch.Tensor, lengths: torch.Tensor, start: int, stop: int):
    """[START tokens STOP] inputs and targets, padding as STOP in the inputs and -1 in the targets;
    the attention mask covers START + tokens (coqui's mask)."""
    t = tokens.shape[1]
    pos = torch.arange(t + 1, device=tokens.device)[None]
    seq = F.pad(tokens, (0, 1), value=stop).masked_fill(pos >= lengths[:, None], stop)
    inp = F.pad(seq, (1, 0), value=start)
    tar = F.pad(seq, (0, 1), value=stop)
    full = torch.arange(t + 2, device=tokens.device)[None]
    tar = tar.masked_fill(full > lengths[:, None], -1)  # predict the tokens, then one STOP
    return inp, tar, full <= lengths[:, None], full


def text_targets(text: torch.Tensor, lengths: torch.Tensor, start: int, stop: int):
    """(inputs [B, T+2], targets [B, T+2], attention mask [B, T+2])."""
    inp, tar, attn, _ = _targets(text, lengths, start, stop)
    return inp, tar, attn


def mel_targets(codes: torch.Tensor, lengths: torch.Tensor, start: int, stop: int,
                mask_span: torch.Tensor | None = None):
    """(inputs, targets, attention mask) for the codes; targets under each sample's prompt span are -1."""
    inp, tar, attn, full = _targets(codes, lengths, start, stop)
    if mask_span is not None:
        hide = (full >= mask_span[:, :1]) & (full < mask_span[:, 1:])
        tar = tar.masked_fill(hide, -1)
    return inp, tar, attn


def conditioning(gpt, prompt: torch.Tensor) -> torch.Tensor:
    """(B, 32, D) latents; no autograd graph when the conditioning encoder/perceiver are frozen."""
    trainable = any(p.requires_grad for p in gpt.conditioning_encoder.parameters()) or any(
        p.requires_grad for p in gpt.conditioning_perceiver.parameters())
    if trainable:
        return gpt.get_style_emb(prompt).transpose(1, 2)
    with torch.no_grad():
        return gpt.get_style_emb(prompt).transpose(1, 2)


def gpt_losses(gpt, batch: dict, *, mask_prompt: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(text_ce, mel_ce) of one batch."""
    t_in, t_tar, t_attn = text_targets(batch["text"], batch["text_lengths"], gpt.start_text_token, gpt.stop_text_token)
    m_in, m_tar, m_attn = mel_targets(batch["codes"], batch["code_lengths"], gpt.start_audio_token,
                                      gpt.stop_audio_token, batch["mask_span"] if mask_prompt else None)
    cond = conditioning(gpt, batch["prompt"])
    text_emb = gpt.text_embedding(t_in) + gpt.text_pos_embedding(t_in)
    mel_emb = gpt.mel_embedding(m_in) + gpt.mel_pos_embedding(m_in)
    text_logits, mel_logits = gpt.get_logits(text_emb, gpt.text_head, mel_emb, gpt.mel_head, prompt=cond,
                                             attn_mask_cond=None, attn_mask_text=t_attn, attn_mask_mel=m_attn)
    text_ce = F.cross_entropy(text_logits.float(), t_tar, ignore_index=-1)
    mel_ce = F.cross_entropy(mel_logits.float(), m_tar, ignore_index=-1)
    return text_ce, mel_ce
