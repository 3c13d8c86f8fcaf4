"""The VITS/Piper backend of the trainer engine: one GAN step, eval losses, spoken samples.

The engine (voicetune.trainer) owns the loop; this file says what a VITS step is. Two optimizers:
``gen`` (the synthesizer) and ``disc`` (multi-period + scale discriminator). Loss weights are
Piper's (mel 45, KL 1, duration 1, feature matching 1, adversarial 1).

Fine-tuning knowledge built in (measured in docs/BENCHMARKS.md, "Fine-tuning quality"):
- KL starts near 25 with a freshly distilled posterior encoder: when that encoder trains, the
  prior (enc_p, dp, flow) stays frozen for the first ``prior_warmup_steps`` so the KL shock does
  not damage it.
- The decoder trained on mel L1 alone buzzes at the frame rate: the adversarial terms are on from
  the start (``adv_warmup_steps`` only delays them while a fresh discriminator catches up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from voicetune.models.vits import commons
from voicetune.models.vits.bootstrap import BootstrapOptions
from voicetune.models.vits.discriminators import MultiPeriodDiscriminator
from voicetune.models.vits.features import FeatureSet, ItemDataset, collate
from voicetune.models.vits.losses import (
    discriminator_loss,
    duration_loss,
    feature_loss,
    generator_loss,
    kl_loss,
)
from voicetune.models.vits.mel import mel_spectrogram
from voicetune.models.vits.posterior_adapt import PosteriorAdaptOptions
from voicetune.models.vits.spectral_losses import comb_excess_loss, log_stft_loss, periodicity_loss
from voicetune.trainer.backend import FreezeRule, Sample

GROUPS = ("enc_p", "dp", "flow", "enc_q", "dec", "emb_g")
INFERENCE_PATH = ("enc_p", "dp", "flow", "dec", "emb_g")  # enc_q is training-only: inference never runs it
WARMUP_SHARE = 0.2  # a warm-up (prior frozen, discriminator alone) takes at most this share of a run
# parts of the HiFi-GAN decoder that vits.freeze can name on their own (dotted, e.g. dec.ups)
DECODER_PARTS = ("dec.conv_pre", "dec.ups", "dec.resblocks", "dec.conv_post", "dec.cond")


class VitsTrainOptions(BaseModel):
    """The ``vits:`` section of a training config."""

    model_config = ConfigDict(extra="forbid")
    freeze: list[str] = Field(default_factory=list, description="groups frozen for the whole run "
                              "(enc_p, dp, flow, enc_q, dec, emb_g, or a decoder part: dec.ups, dec.resblocks, ...)")
    lr_mult: dict[str, float] = Field(default_factory=dict, description="group -> LR multiplier, e.g. {dec: 0.1}")
    prior_warmup_steps: int = Field(100, ge=0, description="enc_p/dp/flow frozen for this many steps")
    freeze_until: dict[str, float] = Field(
        default_factory=dict, description="group -> frozen until this step (>= 1) or this fraction of the run (< 1)")
    adv_warmup_steps: int = Field(0, ge=0, description="generator ignores the discriminator this many steps")
    # MPD periods 2,3,5 (+ the scale discriminator): 1.92x piper-tts's step vs 1.41x with Piper's
    # 2,3,5,7,11 (bench/train_vits.py, docs/BENCHMARKS.md); the 46.75 M-weight full MPD is half a step.
    disc_periods: list[int] = Field(default_factory=lambda: [2, 3, 5])
    c_mel: float = 45.0
    c_kl: float = 1.0
    c_dur: float = 1.0
    c_fm: float = 1.0
    c_adv: float = 1.0
    c_disc: float = 1.0  # discriminator loss weight (finetune-hf-vits weight_disc)
    c_stft: float = Field(0.0, ge=0, description="weight of the multi-resolution log-STFT loss on the decoder output")
    stft_resolutions: list[list[float]] = Field(
        default_factory=lambda: [[4096, 300, 1500.0], [2048, 240], [1024, 120], [512, 50]],
        description="(n_fft, hop[, fmax Hz]) of that loss; a long window below fmax resolves the harmonics")
    c_comb: float = Field(0.0, ge=0, description="weight of the penalty on a frame-rate comb above the target's "
                          "(a pulse per decoder frame: the 86 Hz buzz)")
    c_periodicity: float = Field(0.0, ge=0, description="weight of the autocorrelation (pitch period) loss on the "
                                 "decoder output (spectral_losses.periodicity_loss)")
    disc_warmup_steps: int = Field(0, ge=0, description="the first steps train only the discriminator")
    # Piper trains the decoder on the posterior encoder's z; inference feeds it the flow's inverse
    # of the prior instead. With a distilled posterior encoder the two differ in pitch (its
    # reconstructions of the high bench target come back at 120-125 of 166 Hz, docs/BENCHMARKS.md
    # "Posterior-encoder reconstructions"), and a decoder trained on z_q learns that pitch. Trained
    # on the prior's latent it went lower still (96-109 Hz; 87-92 Hz with prior_latent_grad, against
    # the default's 118-124 the same day; BENCHMARKS.md "The decoder trained on the prior's latent"):
    # that latent has the text encoder's intonation, not the clip's, so Piper's posterior stays.
    decoder_latent: Literal["posterior", "prior"] = Field(
        "posterior", description="what the decoder is trained on: the posterior encoder's z (Piper) or the "
        "latent inference gives it, flow^-1(m_p + noise x exp(logs_p)) with the durations of the alignment")
    prior_latent_noise: float = Field(0.667, ge=0, description="noise scale of that prior latent (what inference uses)")
    prior_latent_grad: bool = Field(False, description="the waveform losses on that latent also train the flow "
                                    "(through its inverse) and the text encoder if it trains; off: the KL only")
    segment_size: int = Field(8192, ge=1024, description="audio samples the decoder sees per item")
    samples: int = Field(3, ge=0, description="eval sentences spoken at each eval")
    bootstrap: BootstrapOptions = Field(default_factory=BootstrapOptions,
                                        description="how an ONNX base's posterior encoder is re-learned")
    # off by default: 240 and 480 steps of it ended 20-minute runs on the high bench target at 88 Hz
    # with a frame-rate buzz (docs/BENCHMARKS.md "Where the pitch is lost")
    posterior_adapt: PosteriorAdaptOptions = Field(
        default_factory=PosteriorAdaptOptions,
        description="steps that first move the posterior encoder to the dataset's clips through the frozen decoder")


@dataclass
class VitsBackend:
    model: torch.nn.Module
    voice: object  # VoiceConfig
    features: FeatureSet
    options: VitsTrainOptions
    phonemizer: object
    discriminator: torch.nn.Module | None = None
    eval_texts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    name: str = "vits"
    _until: dict[str, int] = field(default_factory=dict)  # freeze_until resolved to steps by fit_run_length

    def __post_init__(self) -> None:
        bad = [g for g in self.options.lr_mult if g not in GROUPS]
        bad += [g for g in [*self.options.freeze, *self.options.freeze_until] if g not in GROUPS and g not in DECODER_PARTS]
        if bad:
            from voicetune.errors import VoicetuneError

            raise VoicetuneError(f"vits.freeze/lr_mult: unknown group(s) {bad}; choose from {', '.join(GROUPS)} "
                                 f"(vits.freeze also takes {', '.join(DECODER_PARTS)})")
        self.model.config.segment_size = self.options.segment_size
        if not self.model.has_weight_norm:
            self.model.apply_weight_norm()
        if self.discriminator is None:
            self.discriminator = MultiPeriodDiscriminator(tuple(self.options.disc_periods))
        c = self.model.config
        self._mel = lambda y: mel_spectrogram(  # noqa: E731
            y.squeeze(1), c.filter_length, c.mel_channels, c.sample_rate, c.hop_length, c.win_length, c.mel_fmin, c.mel_fmax
        )

    # ---------------------------------------------------------------- contract
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"gen": self.model, "disc": self.discriminator}

    def param_groups(self, modules: Mapping[str, torch.nn.Module]):
        disc = list(modules["disc"].parameters())
        if not self.options.lr_mult:
            return {"gen": list(modules["gen"].parameters()), "disc": disc}
        by_mult: dict[float, list] = {}
        for name, p in modules["gen"].named_parameters():
            by_mult.setdefault(self.options.lr_mult.get(name.split(".")[0], 1.0), []).append(p)
        return {"gen": [{"params": ps, "lr_mult": m} for m, ps in sorted(by_mult.items())], "disc": disc}

    def datasets(self):
        return ItemDataset(self.features.train), ItemDataset(self.features.eval)

    def collate(self, items):
        return collate(items)

    def freeze_rules(self) -> list[FreezeRule]:
        rules = [FreezeRule(f"gen.{g}.") for g in self.options.freeze]
        for g, until in self.options.freeze_until.items():
            if g not in self.options.freeze:  # a fraction not yet resolved (run length unknown) is inactive
                rules.append(FreezeRule(f"gen.{g}.", self._until.get(g, int(until) if until >= 1 else 0)))
        # the warm-up lets the posterior encoder settle before the prior follows it: with enc_q
        # frozen there is nothing to wait for (and with the decoder frozen too, nothing would train)
        if self.options.prior_warmup_steps and "enc_q" not in self.options.freeze:
            until = self.options.disc_warmup_steps + self.options.prior_warmup_steps
            rules += [FreezeRule(f"gen.{g}.", until)
                      for g in ("enc_p", "dp", "flow") if g not in self.options.freeze]
        return rules

    def fit_run_length(self, total_steps: int) -> dict[str, str]:
        """Warm-ups longer than a fifth of the run are shortened to that (a run that is all warm-up
        trains nothing that speaks); returns what changed and why, for config.yaml and the banner."""
        o, out = self.options, {}
        for g, until in o.freeze_until.items():
            self._until[g] = min(total_steps, int(until) if until >= 1 else int(until * total_steps))
            if until < 1:
                out[f"freeze_until.{g}"] = f"{self._until[g]}: {until:g} of the run's {total_steps} steps"
        cap = max(0, int(total_steps * WARMUP_SHARE))
        for name in ("disc_warmup_steps", "prior_warmup_steps"):
            value = getattr(o, name)
            if value > cap:
                setattr(o, name, cap)
                out[name] = (f"{cap} (asked {value}): the run has {total_steps} steps and a warm-up takes at most "
                             f"{WARMUP_SHARE:.0%} of it")
        return out

    def describe(self) -> dict[str, str]:
        out = {}
        out["clips"] = f"{len(self.features.train)} train / {len(self.features.eval)} eval"
        for i, note in enumerate(self.notes):
            out[f"note {i + 1}"] = note
        return out

    def _forward(self, gen, batch, decode: bool = True):
        sid = batch["sid"] if self.model.config.n_speakers > 1 else None
        from_prior = decode and self.options.decoder_latent == "prior"
        out = gen(batch["ids"], batch["ids_lengths"], batch["spec"], batch["spec_lengths"], sid,
                  decode=decode and not from_prior)
        if from_prior:
            out.audio_hat = self._decode_prior(gen, out, sid)
        hop = self.model.config.hop_length
        y = commons.slice_segments(batch["audio"], out.ids_slice * hop, self.options.segment_size)
        return out, y

    def _decode_prior(self, gen, out, sid) -> torch.Tensor:
        """The decoder's output for the segment of ``out.ids_slice``, from the latent inference would
        give it at the alignment's durations (VitsModel.infer: z = flow^-1(m_p + eps x exp(logs_p) x noise))."""
        o, g = self.options, gen.speaker_embedding(sid)
        z_p = (out.m_p + torch.randn_like(out.m_p) * torch.exp(out.logs_p) * o.prior_latent_noise) * out.y_mask
        with torch.set_grad_enabled(torch.is_grad_enabled() and o.prior_latent_grad):
            z = gen.flow(z_p, out.y_mask, g=g, reverse=True)
        return gen.dec(commons.slice_segments(z, out.ids_slice, self.model.config.segment_frames), g=g)

    def _waveform_trains(self) -> bool:
        """Whether a loss on the decoded audio can reach a trainable weight this step. The decoder
        reads z from the posterior encoder (or, with ``decoder_latent: prior``, from the flow), so
        with both frozen the mel, STFT and adversarial losses train nothing: only the KL (flow,
        text encoder) and the duration loss do."""
        if self.options.decoder_latent == "prior":  # the decoder reads the flow's latent, not enc_q's
            readers = (self.model.dec, self.model.flow) if self.options.prior_latent_grad else (self.model.dec,)
        else:
            readers = (self.model.dec, self.model.enc_q)
        return any(p.requires_grad for m in readers for p in m.parameters())

    def _prior_step(self, gen, batch, ctx):
        """A step with the decoder and posterior encoder frozen: the prior losses backpropagate, the
        decoder runs without gradients for the logged mel (so train and eval losses stay comparable)
        and the discriminator, which could guide nothing, is not trained."""
        o = self.options
        with ctx.only("gen"), ctx.autocast():
            out, y = self._forward(gen, batch, decode=False)
            prior = self._prior_losses(out)
            loss = prior["kl"] + prior["dur"]
        ctx.backward("gen", loss)
        ctx.step("gen")
        with torch.no_grad(), ctx.autocast():
            g = gen.speaker_embedding(batch["sid"]) if self.model.config.n_speakers > 1 else None
            z = commons.slice_segments(out.z, out.ids_slice, self.model.config.segment_frames)
            y_hat = gen.dec(z, g=g)
            mel = torch.nn.functional.l1_loss(self._mel(y_hat.float()), self._mel(y.float())) * o.c_mel
        return {k: v.detach() for k, v in {"loss": loss + mel, "mel": mel, **prior}.items()}

    def _prior_losses(self, out) -> dict[str, torch.Tensor]:
        o = self.options
        return {
            "kl": kl_loss(out.z_p, out.logs_q, out.m_p, out.logs_p, out.y_mask) * o.c_kl,
            "dur": duration_loss(out.l_length) * o.c_dur,
        }

    def train_step(self, batch, ctx):
        gen, disc = ctx.modules["gen"], ctx.modules["disc"]
        o = self.options
        disc_only = ctx.global_step < o.disc_warmup_steps  # the generator waits for the discriminator
        if not disc_only and not self._waveform_trains():
            return self._prior_step(gen, batch, ctx)
        with ctx.autocast(), torch.set_grad_enabled(not disc_only):
            out, y = self._forward(gen, batch)
        y_hat = out.audio_hat
        with ctx.only("disc"), ctx.autocast():
            real, fake, _, _ = disc(y, y_hat.detach())
            loss_d, _, _ = discriminator_loss(real, fake)
            loss_d = loss_d * o.c_disc
        ctx.backward("disc", loss_d)
        ctx.step("disc")
        if disc_only:
            with torch.no_grad():
                mel = torch.nn.functional.l1_loss(self._mel(y_hat.float()), self._mel(y.float())) * o.c_mel
                prior = self._prior_losses(out)
            return {"loss": (mel + prior["kl"] + prior["dur"]).detach(), "mel": mel, **prior, "disc": loss_d.detach()}
        with ctx.only("gen"), ctx.autocast():
            mel = torch.nn.functional.l1_loss(self._mel(y_hat.float()), self._mel(y.float())) * o.c_mel
            prior = self._prior_losses(out)
            loss = mel + prior["kl"] + prior["dur"]
            total = loss
            logged = {"loss": loss, "mel": mel, **prior}
            if o.c_stft:
                stft = log_stft_loss(y_hat, y, o.stft_resolutions, self.model.config.sample_rate) * o.c_stft
                total = total + stft
                logged["stft"] = stft
            if o.c_periodicity:
                period = periodicity_loss(y_hat, y) * o.c_periodicity
                total = total + period
                logged["periodicity"] = period
            if o.c_comb:
                comb = comb_excess_loss(y_hat, y, self.model.config.hop_length) * o.c_comb
                total = total + comb
                logged["comb"] = comb
            adv = torch.zeros(()), torch.zeros(())
            if ctx.global_step >= o.adv_warmup_steps:
                _, fake, fmap_r, fmap_g = disc(y, y_hat)
                adv = feature_loss(fmap_r, fmap_g) * o.c_fm, generator_loss(fake)[0] * o.c_adv
                total = total + adv[0] + adv[1]
        ctx.backward("gen", total)
        ctx.step("gen")
        logged.update({"fm": adv[0], "gen_adv": adv[1], "disc": loss_d})
        return {k: v.detach() for k, v in logged.items()}

    def eval_step(self, batch, modules):
        gen = modules["gen"]
        out, _ = self._forward(gen, batch, decode=False)
        # the whole utterance through the decoder: a deterministic reconstruction score
        audio_hat = gen.dec(out.z * out.y_mask, g=gen.speaker_embedding(batch["sid"]) if gen.config.n_speakers > 1 else None)
        n = min(audio_hat.shape[-1], batch["audio"].shape[-1])
        mask = torch.repeat_interleave(out.y_mask, gen.config.hop_length, dim=2)[..., :n]
        mel = torch.nn.functional.l1_loss(self._mel(audio_hat[..., :n] * mask), self._mel(batch["audio"][..., :n] * mask))
        prior = self._prior_losses(out)
        mel = mel * self.options.c_mel
        return {"loss": mel + prior["kl"] + prior["dur"], "mel": mel, **prior}

    def samples(self, modules, step: int) -> list[Sample]:
        gen = modules["gen"]
        out = []
        # a multi-speaker run speaks its samples in turn by the speakers it trains (speaker 0 may be
        # one kept from the base that no clip of this run trains)
        sids = sorted({it.speaker for it in self.features.train}) or [0]
        for k, text in enumerate(self.eval_texts[: self.options.samples]):
            ids = [i for s in self.phonemizer.text_to_ids(text) for i in s]
            sid = torch.tensor([sids[k % len(sids)]]) if gen.config.n_speakers > 1 else None
            with torch.no_grad():
                res = gen.infer(torch.tensor([ids]), torch.tensor([len(ids)]), sid=sid, noise_scale=0.667,
                                length_scale=1.0, noise_scale_w=0.8)
            audio = res.audio[0, 0].float().cpu().numpy()
            attn = res.attn[0, 0].float().cpu().numpy().T
            mel = self._mel(res.audio.float())[0].cpu().numpy()
            out.append(Sample(f"eval-{k:02d}", audio, gen.config.sample_rate, {"alignment": attn, "mel": mel}, text))
        return out
