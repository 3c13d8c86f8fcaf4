"""Re-learn what a Piper ONNX lacks, by distillation from its own frozen generator.

A Piper ``.onnx`` holds only the inference path. Fine-tuning also needs the posterior encoder
``enc_q`` (spectrogram -> latent z) and the stochastic duration predictor's training half. Both
are learned from the base voice itself: synthesize sentences, keep the decoder input ``z`` and the
audio, fit ``enc_q`` to map the audio's linear spectrogram back to ``z`` (masked MSE on the mean +
0.1 x Gaussian NLL with the mean detached, which calibrates ``logs_q``), and fit the SDP's
posterior flows on durations sampled from the base model. Everything else stays frozen.

Measured before (../shared/notes/piper-onnx-import.md): held-out mel-L1 of dec(m_q) vs the audio
1.98 (random enc_q) -> 0.37 after 200 steps -> 0.24 after 1,800 steps on 2 CPU cores.
The result is cached per base voice (sha256 of its weights file) so it runs once.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from voicetune.models.vits.mel import mel_spectrogram, spectrogram

CROP = 128  # frames per distillation crop


@dataclass
class BootstrapReport:
    sentences: int
    audio_minutes: float
    enc_q_steps: int
    mel_l1_before: float
    mel_l1_after: float
    sdp_steps: int
    dur_nll_before: float | None
    dur_nll_after: float | None
    seconds: float
    cached: bool = False

    def lines(self) -> list[str]:
        out = [
            f"posterior encoder: held-out mel-L1 {self.mel_l1_before:.3f} -> {self.mel_l1_after:.3f} "
            f"({self.enc_q_steps} steps on {self.sentences} sentences, {self.audio_minutes:.1f} min of base audio)"
        ]
        if self.dur_nll_before is not None:
            out.append(f"duration predictor (training half): held-out NLL {self.dur_nll_before:.3f} -> {self.dur_nll_after:.3f}")
        out.append(f"took {self.seconds:.0f} s" + (" (from cache)" if self.cached else ""))
        return out


def cache_dir() -> Path:
    root = os.environ.get("VOICETUNE_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "voicetune")
    return Path(root) / "bootstrap"


@torch.no_grad()
def _synthesize(model, phonemizer, texts: list[str], rng: random.Random, noise_w: float):
    """(spec, z, audio, ids, w_ceil) per text, from the frozen base generator."""
    c = model.config
    items = []
    for text in texts:
        ids = [i for sent in phonemizer.text_to_ids(text) for i in sent][:300]
        if len(ids) < 3:
            continue
        x = torch.tensor([ids])
        out = model.infer(x, torch.tensor([len(ids)]), noise_scale=0.667, length_scale=rng.uniform(0.9, 1.15),
                          noise_scale_w=noise_w, pad_frames_to=64)  # bucketed lengths: 3-5x faster eager convs
        frames = int(out.y_mask.sum())
        audio = out.audio[0, 0, : frames * c.hop_length]
        spec = spectrogram(audio.unsqueeze(0), c.filter_length, c.hop_length, c.win_length)[0]
        n = min(spec.shape[-1], frames)
        items.append({"spec": spec[:, :n], "z": out.z[0, :, :n], "audio": audio[: n * c.hop_length],
                      "ids": x[0], "w": out.durations[0]})
    return items


def _crops(items, batch: int, rng: random.Random, hop: int):
    """A batch of random CROP-frame windows: (spec, z, audio, lengths), zero-padded."""
    specs, zs, audios, lengths = [], [], [], []
    for _ in range(batch):
        it = rng.choice(items)
        n = it["spec"].shape[-1]
        s = rng.randint(0, max(0, n - CROP))
        e = min(n, s + CROP)
        pad = CROP - (e - s)
        specs.append(F.pad(it["spec"][:, s:e], (0, pad)))
        zs.append(F.pad(it["z"][:, s:e], (0, pad)))
        audios.append(F.pad(it["audio"][s * hop : e * hop], (0, pad * hop)))
        lengths.append(e - s)
    return torch.stack(specs), torch.stack(zs), torch.stack(audios), torch.tensor(lengths)


def _mel_l1(model, items) -> float:
    c = model.config
    total = 0.0
    def mel(y):
        return mel_spectrogram(y, c.filter_length, c.mel_channels, c.sample_rate, c.hop_length, c.win_length)

    with torch.no_grad():
        for it in items:
            spec, audio = it["spec"][:, :CROP].unsqueeze(0), it["audio"][: CROP * c.hop_length].unsqueeze(0)
            _, m_q, _, mask = model.enc_q(spec, torch.tensor([spec.shape[-1]]))
            y_hat = model.dec(m_q * mask)[:, 0, : audio.shape[-1]]
            total += F.l1_loss(mel(y_hat), mel(audio)).item()
    return total / max(1, len(items))


def _fit(model, params, loss_fn, steps: int, lr: float, deadline: float) -> int:
    """Train only ``params`` (everything else frozen) for ``steps`` or until ``deadline``."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.8, 0.99), eps=1e-9, weight_decay=0.0)
    done = 0
    while done < steps:
        done += 1
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if time.monotonic() > deadline:
            break
    return done


def _posterior_loss(model, items, batch: int, rng) -> torch.Tensor:
    """Masked MSE of m_q to z, plus 0.1 x Gaussian NLL with the mean detached (calibrates logs_q)."""
    spec, z, _, lengths = _crops(items, batch, rng, model.config.hop_length)
    _, m_q, logs_q, mask = model.enc_q(spec, lengths)
    n = mask.sum() * z.shape[1]
    mse = torch.sum((m_q - z) ** 2 * mask) / n
    nll = torch.sum((logs_q + 0.5 * ((z - m_q.detach()) ** 2) * torch.exp(-2 * logs_q)) * mask) / n
    return mse + 0.1 * nll


def distill_posterior(model, items, held_out, steps: int, batch: int, lr: float, rng, deadline: float) -> tuple[int, float, float]:
    before = _mel_l1(model, held_out)
    model.enc_q.train()
    done = _fit(model, list(model.enc_q.parameters()), lambda: _posterior_loss(model, items, batch, rng), steps, lr, deadline)
    model.enc_q.eval()
    return done, before, _mel_l1(model, held_out)


def _dur_nll(model, items) -> float:
    with torch.no_grad():
        vals = [_sdp_loss(model, it).item() for it in items]
    return sum(vals) / max(1, len(vals))


def _sdp_loss(model, it) -> torch.Tensor:
    x = it["ids"].unsqueeze(0)
    h, _, _, x_mask = model.enc_p(x, torch.tensor([x.shape[-1]]))
    return model.dp(h, x_mask, it["w"].unsqueeze(0)).sum() / x_mask.sum()


def fit_sdp_posterior(model, items, held_out, steps: int, lr: float, rng, deadline: float) -> tuple[int, float, float]:
    prefixes = model.dp.training_only_prefixes()
    params = [p for n, p in model.dp.named_parameters() if n.startswith(prefixes)]
    before = _dur_nll(model, held_out)
    model.dp.train()
    loss_fn = lambda: torch.stack([_sdp_loss(model, rng.choice(items)) for _ in range(4)]).mean()  # noqa: E731
    done = _fit(model, params, loss_fn, steps, lr, deadline)
    model.dp.eval()
    return done, before, _dur_nll(model, held_out)


def bootstrap(model, phonemizer, texts: list[str], *, enc_q_steps: int = 300, sdp_steps: int = 150,
              batch: int = 8, max_minutes: float | None = None, seed: int = 0, progress=None) -> BootstrapReport:
    """Distill enc_q (and the SDP's training half, if the model has an SDP) in place."""
    started = time.monotonic()
    deadline = started + 60 * max_minutes if max_minutes else float("inf")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model.eval()
    items = _synthesize(model, phonemizer, texts, rng, noise_w=0.8)
    if len(items) < 4:
        raise ValueError("bootstrap needs at least 4 sentences")
    rng.shuffle(items)
    n_held = max(2, len(items) // 10)
    held, train = items[:n_held], items[n_held:]
    minutes = sum(it["audio"].shape[-1] for it in items) / model.config.sample_rate / 60
    remaining = deadline - time.monotonic()
    enc_deadline = time.monotonic() + (remaining * 0.75 if remaining != float("inf") else remaining)
    steps, before, after = distill_posterior(model, train, held, enc_q_steps, batch, 5e-4, rng, enc_deadline)
    report = BootstrapReport(len(items), minutes, steps, before, after, 0, None, None, 0.0)
    if model.config.use_sdp and sdp_steps:
        s, b, a = fit_sdp_posterior(model, train, held, sdp_steps, 5e-4, rng, deadline)
        report.sdp_steps, report.dur_nll_before, report.dur_nll_after = s, b, a
    for p in model.parameters():
        p.requires_grad_(True)
    report.seconds = time.monotonic() - started
    return report


def cached_bootstrap(model, phonemizer, texts: list[str], base_sha: str, **kwargs) -> BootstrapReport:
    """``bootstrap`` once per base voice and settings; later calls load the learned weights."""
    import json

    from safetensors.torch import load_file, save_file

    from voicetune.fileio import write_json, write_with

    key = f"{base_sha[:16]}-q{kwargs.get('enc_q_steps', 300)}-d{kwargs.get('sdp_steps', 150)}-n{len(texts)}"
    path = cache_dir() / f"{key}.safetensors"
    prefixes = model.training_only_prefixes()
    if path.exists() and path.with_suffix(".json").exists():
        full = model.plain_state_dict()
        cached = load_file(str(path))
        unknown = sorted(set(cached) - set(full))
        if unknown:  # a cache from another architecture: never load it half-way
            raise ValueError(f"{path}: bootstrap cache does not fit this model ({unknown[:3]}); delete it")
        full.update(cached)
        model.load_plain_state_dict(full, strict=True)
        report = BootstrapReport(**json.loads(path.with_suffix(".json").read_text()))
        report.cached = True
        return report
    report = bootstrap(model, phonemizer, texts, **kwargs)
    state = {k: v.contiguous() for k, v in model.plain_state_dict().items() if k.startswith(prefixes)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_with(path, lambda tmp: save_file(state, str(tmp)))
    write_json(path.with_suffix(".json"), asdict(report))
    return report
