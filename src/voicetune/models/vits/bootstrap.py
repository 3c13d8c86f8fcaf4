"""Re-learn what a Piper ONNX lacks, by distillation from its own frozen generator.

A Piper ``.onnx`` holds only the inference path. Fine-tuning also needs the posterior encoder
``enc_q`` (spectrogram -> latent z) and the stochastic duration predictor's training half. Both
are learned from the base voice itself: synthesize sentences, keep the decoder input ``z`` and the
audio, fit ``enc_q`` to map the audio's linear spectrogram back to ``z`` (masked MSE on the mean +
0.1 x Gaussian NLL with the mean detached, which calibrates ``logs_q``), and fit the SDP's
posterior flows on durations sampled from the base model. Everything else stays frozen.

Two options make the reconstruction ``dec(m_q(spec))`` keep the pitch, which the z-MSE alone does
not (docs/BENCHMARKS.md, "Posterior-encoder bootstrap"): ``recon_weight`` adds a loss on the
decoded audio of a window of each crop (mel L1 + a low-band long-window log-STFT that resolves
harmonics), and ``gain_db`` scales each crop's spectrogram by a random gain so the encoder does not
depend on the level the base happened to speak at (datasets are loudness-normalised to -23 LUFS,
the base's raw output sits at -25 to -28).

The result is cached per base voice, options and distillation text (a hash of all three): texts
are the built-in sentences, never a dataset's, so one bootstrap serves every dataset of a base.
Progress is reported every few steps, and the encoder's state is saved as it goes, so an
interrupted bootstrap continues where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.nn import functional as F

from voicetune.models.vits.mel import mel_spectrogram, spectrogram
from voicetune.models.vits.spectral_losses import comb_excess_loss, log_stft_loss, periodicity_loss

CROP = 128  # frames per distillation crop
SNAPSHOT_EVERY = 50  # steps between saved partial states
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class BootstrapOptions(BaseModel):
    """How the missing training parts are re-learned (``vits.bootstrap`` in a training config)."""

    model_config = ConfigDict(extra="forbid")
    # 900 steps at 1e-3 with a cosine decay: on the high target its reconstructions keep 120 of
    # 166 Hz vs 98 Hz after the former 300 steps at 5e-4 (bench/posterior_recon.py, BENCHMARKS.md)
    enc_q_steps: int = Field(900, ge=0, description="posterior-encoder distillation steps")
    sdp_steps: int = Field(150, ge=0, description="steps for the duration predictor's training half")
    sentences: int | None = Field(None, ge=4, description="distillation sentences (None: all built-in ones)")
    batch: int = Field(8, ge=1)
    lr: float = Field(1e-3, gt=0)
    lr_schedule: Literal["constant", "cosine"] = Field("cosine", description="cosine: down to a tenth by the last step")
    gain_db: float = Field(0.0, ge=0, description="each crop's spectrogram scaled by a random gain within ±this")
    recon_weight: float = Field(0.0, ge=0, description="weight of the loss on dec(m_q) of a window of each crop")
    recon_frames: int = Field(32, ge=8, description="frames of each crop decoded for that loss")
    recon_resolutions: list[list[float]] = Field(
        default_factory=lambda: [[4096, 300, 1500.0], [1024, 120], [2048, 240]],
        description="(n_fft, hop[, fmax Hz]) of the log-STFT part of that loss")
    recon_stft_weight: float = Field(1.0, ge=0, description="the log-STFT part of that loss (mel L1 has weight 1)")
    recon_comb_weight: float = Field(0.0, ge=0, description="that loss also penalises a frame-rate comb above the audio's")
    recon_periodicity_weight: float = Field(0.0, ge=0, description="that loss also compares the autocorrelation "
                                            "over the pitch lags (spectral_losses.periodicity_loss)")


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
    resumed_from: int = 0

    def lines(self) -> list[str]:
        out = [
            f"posterior encoder: held-out mel-L1 {self.mel_l1_before:.3f} -> {self.mel_l1_after:.3f} "
            f"({self.enc_q_steps} steps on {self.sentences} sentences, {self.audio_minutes:.1f} min of base audio)"
        ]
        if self.dur_nll_before is not None:
            out.append(f"duration predictor (training half): held-out NLL {self.dur_nll_before:.3f} -> {self.dur_nll_after:.3f}")
        out.append(f"took {self.seconds:.0f} s" + (" (from cache)" if self.cached else "")
                   + (f", continued from step {self.resumed_from}" if self.resumed_from else ""))
        return out


def cache_dir() -> Path:
    root = os.environ.get("VOICETUNE_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "voicetune")
    return Path(root) / "bootstrap"


def distillation_texts(n_generated: int = 120) -> list[str]:
    """The base voice reads these: the built-in phonetically varied set plus generated sentences."""
    from voicetune.sample_data import generated_sentences, sentences

    return sentences() + generated_sentences(n_generated, seed=7)


@torch.no_grad()
def _synthesize(model, phonemizer, texts: list[str], rng: random.Random, noise_w: float, progress: Progress):
    """(spec, z, audio, ids, w_ceil) per text, from the frozen base generator."""
    c = model.config
    items = []
    for k, text in enumerate(texts):
        progress("synthesizing base speech", k, len(texts))
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
    progress("synthesizing base speech", len(texts), len(texts))
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


def _mel(model, y: torch.Tensor) -> torch.Tensor:
    c = model.config
    return mel_spectrogram(y, c.filter_length, c.mel_channels, c.sample_rate, c.hop_length, c.win_length)


def _mel_l1(model, items) -> float:
    total = 0.0
    with torch.no_grad():
        for it in items:
            spec, audio = it["spec"][:, :CROP].unsqueeze(0), it["audio"][: CROP * model.config.hop_length].unsqueeze(0)
            _, m_q, _, mask = model.enc_q(spec, torch.tensor([spec.shape[-1]]))
            y_hat = model.dec(m_q * mask)[:, 0, : audio.shape[-1]]
            total += F.l1_loss(_mel(model, y_hat), _mel(model, audio)).item()
    return total / max(1, len(items))


def _posterior_loss(model, items, opts: BootstrapOptions, rng) -> torch.Tensor:
    """Masked MSE of m_q to z, 0.1 x Gaussian NLL with the mean detached (calibrates logs_q), and
    with ``recon_weight`` the spectral distance of dec(m_q) to the audio over a window of each crop."""
    hop = model.config.hop_length
    spec, z, audio, lengths = _crops(items, opts.batch, rng, hop)
    if opts.gain_db:
        gains = 10 ** (torch.empty(spec.shape[0], 1, 1).uniform_(-opts.gain_db, opts.gain_db) / 20)
        spec = spec * gains
    _, m_q, logs_q, mask = model.enc_q(spec, lengths)
    n = mask.sum() * z.shape[1]
    mse = torch.sum((m_q - z) ** 2 * mask) / n
    nll = torch.sum((logs_q + 0.5 * ((z - m_q.detach()) ** 2) * torch.exp(-2 * logs_q)) * mask) / n
    loss = mse + 0.1 * nll
    if opts.recon_weight:
        frames = min(opts.recon_frames, int(lengths.min()))
        s = rng.randint(0, int(lengths.min()) - frames)
        y_hat = model.dec(m_q[:, :, s : s + frames])[:, 0]
        y = audio[:, s * hop : (s + frames) * hop]
        recon = F.l1_loss(_mel(model, y_hat), _mel(model, y))
        if opts.recon_stft_weight:
            recon = recon + opts.recon_stft_weight * log_stft_loss(y_hat, y, opts.recon_resolutions, model.config.sample_rate)
        if opts.recon_periodicity_weight:
            recon = recon + opts.recon_periodicity_weight * periodicity_loss(y_hat, y)
        if opts.recon_comb_weight:
            recon = recon + opts.recon_comb_weight * comb_excess_loss(y_hat, y, hop)
        loss = loss + opts.recon_weight * recon
    return loss


def _dur_nll(model, items) -> float:
    with torch.no_grad():
        vals = [_sdp_loss(model, it).item() for it in items]
    return sum(vals) / max(1, len(vals))


def _sdp_loss(model, it) -> torch.Tensor:
    x = it["ids"].unsqueeze(0)
    h, _, _, x_mask = model.enc_p(x, torch.tensor([x.shape[-1]]))
    return model.dp(h, x_mask, it["w"].unsqueeze(0)).sum() / x_mask.sum()


def _train(model, params, loss_fn, steps: int, lr: float, deadline: float, stage: str, progress: Progress,
           start: int = 0, snapshot: Callable[[int], None] | None = None, schedule: str = "constant") -> int:
    """Train only ``params`` (everything else frozen) from step ``start`` to ``steps`` or the deadline."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.8, 0.99), eps=1e-9, weight_decay=0.0)
    done = start
    while done < steps:
        if schedule == "cosine":
            opt.param_groups[0]["lr"] = lr * (0.1 + 0.45 * (1 + math.cos(math.pi * done / max(1, steps))))
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done += 1
        progress(stage, done, steps)
        if snapshot is not None and (done % SNAPSHOT_EVERY == 0 or done == steps):
            snapshot(done)
        if time.monotonic() > deadline:
            break
    return done


def base_speech(model, phonemizer, texts: list[str], seed: int = 0, progress: Progress | None = None) -> list[dict]:
    """What the base says for ``texts`` (spectrogram, decoder input z, audio, ids, durations), shuffled."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model.eval()
    items = _synthesize(model, phonemizer, texts, rng, 0.8, progress or (lambda *_: None))
    if len(items) < 4:
        raise ValueError("bootstrap needs at least 4 sentences")
    rng.shuffle(items)
    return items


def bootstrap(model, phonemizer, texts: list[str], options: BootstrapOptions | None = None, *,
              max_minutes: float | None = None, seed: int = 0, progress: Progress | None = None,
              partial: Path | None = None, items: list[dict] | None = None,
              log: Callable[[str], None] | None = None) -> BootstrapReport:
    """Distill enc_q (and the SDP's training half, if the model has an SDP) in place.

    ``partial``: a file the encoder's state is saved to every SNAPSHOT_EVERY steps; when it exists
    at the start, distillation continues from it (the synthesis is repeated, it is deterministic).
    ``items``: :func:`base_speech` of ``texts`` already made (a benchmark comparing options)."""
    opts = options or BootstrapOptions()
    note = progress or (lambda *_: None)
    started = time.monotonic()
    deadline = started + 60 * max_minutes if max_minutes else float("inf")
    if items is None:
        items = base_speech(model, phonemizer, texts[: opts.sentences], seed, note)
    rng = random.Random(seed + 1)
    torch.manual_seed(seed)
    model.eval()
    n_held = max(2, len(items) // 10)
    held, train = items[:n_held], items[n_held:]
    minutes = sum(it["audio"].shape[-1] for it in items) / model.config.sample_rate / 60
    before = _mel_l1(model, held)
    start = _load_partial(model, partial) if partial is not None else 0
    if start and log is not None:
        log(f"bootstrap: posterior encoder: continuing from step {start} of {opts.enc_q_steps} "
            f"(snapshot {partial}; the optimizer restarts)")
    remaining = deadline - time.monotonic()
    enc_deadline = time.monotonic() + (remaining * 0.75 if remaining != float("inf") else remaining)
    snap = (lambda step: _save_partial(model, partial, step)) if partial is not None else None
    model.enc_q.train()
    steps = _train(model, list(model.enc_q.parameters()), lambda: _posterior_loss(model, train, opts, rng),
                   opts.enc_q_steps, opts.lr, enc_deadline, "posterior encoder", note, start, snap, opts.lr_schedule)
    model.enc_q.eval()
    report = BootstrapReport(len(items), minutes, steps, before, _mel_l1(model, held), 0, None, None, 0.0,
                             resumed_from=start)
    if model.config.use_sdp and opts.sdp_steps:
        prefixes = model.dp.training_only_prefixes()
        params = [p for n, p in model.dp.named_parameters() if n.startswith(prefixes)]
        report.dur_nll_before = _dur_nll(model, held)
        model.dp.train()
        loss_fn = lambda: torch.stack([_sdp_loss(model, rng.choice(train)) for _ in range(4)]).mean()  # noqa: E731
        report.sdp_steps = _train(model, params, loss_fn, opts.sdp_steps, opts.lr, deadline, "duration predictor", note)
        model.dp.eval()
        report.dur_nll_after = _dur_nll(model, held)
    for p in model.parameters():
        p.requires_grad_(True)
    report.seconds = time.monotonic() - started
    return report


def _save_partial(model, path: Path, step: int) -> None:
    from safetensors.torch import save_file

    from voicetune.fileio import write_with

    state = {k: v.contiguous() for k, v in model.plain_state_dict().items() if k.startswith("enc_q.")}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_with(path, lambda tmp: save_file(state, str(tmp), metadata={"step": str(step)}))


def _load_partial(model, path: Path) -> int:
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path.exists():
        return 0
    with safe_open(str(path), "pt") as fh:
        step = int((fh.metadata() or {}).get("step", 0))
    full = model.plain_state_dict()
    full.update(load_file(str(path)))
    model.load_plain_state_dict(full, strict=True)
    return step


def scale_to_steps(opts: BootstrapOptions, steps: int) -> None:
    """``--bootstrap-steps N`` sizes the whole bootstrap, not only its posterior-encoder stage: the
    duration predictor gets N/2 steps (at most ``sdp_steps``), and fewer sentences are synthesized
    when N steps could not read them all: each step reads ``batch`` crops of ``CROP``
    frames, and a built-in sentence gives about two (Joe: 9.5 min over 180)."""
    opts.enc_q_steps = steps
    opts.sdp_steps = min(opts.sdp_steps, max(1, steps // 2))
    needed = max(4, -(-steps * opts.batch // 2))
    if needed < min(opts.sentences or 10**9, len(distillation_texts())):
        opts.sentences = needed


# Options added after the first caches were written, at the values that reproduce the behaviour
# from before they existed: left out of the key at those values, so those caches stay valid.
KEY_NEUTRAL = {"lr_schedule": "constant", "recon_stft_weight": 1.0, "recon_comb_weight": 0.0,
               "recon_periodicity_weight": 0.0}


def cache_key(base_sha: str, texts: list[str], opts: BootstrapOptions) -> str:
    """What the bootstrap learned from: the base's weights, the text it read and every option."""
    defaults = BootstrapOptions().model_dump()
    # an option equal to its default is keyed as the default is written: read back from a run's
    # vits.json, pydantic made the default resolutions' 4096 a 4096.0, and a different key made
    # every `--resume` distil the base again
    options = {k: defaults[k] if k in defaults and v == defaults[k] else v for k, v in opts.model_dump().items()
               if not (k in KEY_NEUTRAL and KEY_NEUTRAL[k] == v)}
    blob = json.dumps({"texts": texts[: opts.sentences], "options": options}, sort_keys=True)
    return f"{base_sha[:16]}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def is_cached(base_sha: str, options: BootstrapOptions | None = None, texts: list[str] | None = None) -> bool:
    """Whether cached_bootstrap would load the learned weights instead of distilling again."""
    opts = options or BootstrapOptions()
    texts = texts if texts is not None else distillation_texts()
    path = cache_dir() / f"{cache_key(base_sha, texts, opts)}.safetensors"
    return path.exists() and path.with_suffix(".json").exists()


def cached_bootstrap(model, phonemizer, base_sha: str, options: BootstrapOptions | None = None,
                     texts: list[str] | None = None, *, progress: Progress | None = None, **kwargs) -> BootstrapReport:
    """``bootstrap`` once per base voice, options and text; later calls load the learned weights."""
    from safetensors.torch import load_file, save_file

    from voicetune.fileio import write_json, write_with

    opts = options or BootstrapOptions()
    texts = texts if texts is not None else distillation_texts()
    path = cache_dir() / f"{cache_key(base_sha, texts, opts)}.safetensors"
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
    partial = path.with_suffix(".partial.safetensors")
    report = bootstrap(model, phonemizer, texts, opts, progress=progress, partial=partial, **kwargs)
    state = {k: v.contiguous() for k, v in model.plain_state_dict().items() if k.startswith(prefixes)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_with(path, lambda tmp: save_file(state, str(tmp)))
    write_json(path.with_suffix(".json"), asdict(report))
    partial.unlink(missing_ok=True)
    return report
