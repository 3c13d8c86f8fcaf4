"""`voicetune export --format piper-ckpt`: a Piper/VITS run -> a Lightning ``.ckpt`` that piper1-gpl's
own trainer loads (``VitsModel.load_from_checkpoint``) and continues (``python -m piper.train fit
--ckpt_path``), the inverse of import_checkpoint (its hyper-parameter table and weight-norm names).

The voice folder: ``<name>.ckpt``, ``config.json`` (the voice config, where voicetune's importer and
``voicetune say --voice <name>.ckpt`` look for it), ``phonemes.json`` (the run's phoneme map for
piper's ``--data.phonemes_path``), the card, report and samples of every format.

What the checkpoint holds:
- ``state_dict``: ``model_g.*`` the run's generator as trained, under weight norm as piper's modules
  hold it (g and v copied, not refolded); ``model_d.*`` piper's MultiPeriodDiscriminator (scale +
  periods 2, 3, 5, 7, 11): the sub-discriminators the run trained are copied, the others are
  piper's own fresh initialisation (the card lists which);
- ``hyper_parameters``: what makes ``VitsModel(**hyper_parameters)`` build this architecture, and
  piper's own training defaults (learning rates, betas, decay), written out because the optimizer
  states below are built from them;
- ``optimizer_states`` / ``lr_schedulers``: piper's two AdamW and ExponentialLR *at their start*
  (Lightning's ``fit(ckpt_path=...)`` refuses a checkpoint without them). voicetune's optimizer
  moments are not carried: our param groups and weight-norm layout differ from piper's, so
  ``--ckpt_path`` resumes the weights with fresh moments, like piper's ``--model.warmstart_ckpt``;
- no ``loops``: piper's epoch and step counters start at 0 (``epoch``/``global_step`` record the
  run's, which Lightning does not restore).
Built from piper's own modules (``piper.train.vits.models``, torch only) and loaded into them
strictly, so a key or shape piper would not take fails here, not in piper.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from voicetune.errors import VoicetuneError
from voicetune.fileio import write_json, write_with

from .config import VitsConfig
from .import_checkpoint import piper_hyper_parameters, piper_weight_norm_names

# piper's VitsModel training defaults (piper/train/vits/lightning.py; tests/test_piper_ckpt.py checks
# them against its signature). The optimizer states are built from these same values.
PIPER_TRAINING: dict[str, Any] = {
    "learning_rate": 2e-4, "learning_rate_d": 1e-4, "betas": (0.8, 0.99), "betas_d": (0.5, 0.9), "eps": 1e-9,
    "lr_decay": 0.999875, "lr_decay_d": 0.9999,
}
# what piper's SynthesizerTrn builds whatever its hyper-parameters say (models.py)
PIPER_FIXED: dict[str, Any] = {
    "window_size": 4, "flow_n_flows": 4, "flow_n_layers": 4, "flow_kernel_size": 5, "flow_dilation_rate": 1,
    "posterior_n_layers": 16, "posterior_kernel_size": 5, "posterior_dilation_rate": 1,
    "sdp_n_flows": 4, "dp_kernel_size": 3, "dp_p_dropout": 0.5,
}
PIPER_PERIODS = (2, 3, 5, 7, 11)  # piper's MultiPeriodDiscriminator (after the scale discriminator)
# Lightning migrates a checkpoint older than its migrations' versions (the newest is 2.0.0); the
# layout written here is that of 2.x
LIGHTNING_LAYOUT = "2.0.0"


def check_architecture(config: VitsConfig, source: Path) -> None:
    """Refuse, before any work, a model piper's SynthesizerTrn cannot build."""
    fixed = dict(PIPER_FIXED)
    if not config.use_sdp:
        fixed["dp_filter_channels"] = 256
    differ = [f"{k} {getattr(config, k)} (piper: {v})" for k, v in fixed.items() if getattr(config, k) != v]
    if differ:
        raise VoicetuneError(f"{source}: piper's trainer builds a fixed {', '.join(k for k in fixed)}; this run has "
                             f"{'; '.join(differ)}, so --format piper-ckpt cannot hold it (export --format piper)")


def _quiet():
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    # piper's modules use torch.nn.utils.weight_norm, which torch deprecates with a FutureWarning
    warnings.simplefilter("ignore", FutureWarning)
    return stack


def piper_generator(hparams: dict[str, Any]):
    """piper's SynthesizerTrn as its VitsModel.__init__ builds it from ``hyper_parameters``."""
    from piper.train.vits.models import SynthesizerTrn

    h = hparams
    with _quiet():
        return SynthesizerTrn(
            n_vocab=h["num_symbols"], spec_channels=h["filter_length"] // 2 + 1,
            segment_size=h["segment_size"] // h["hop_length"], inter_channels=h["inter_channels"],
            hidden_channels=h["hidden_channels"], filter_channels=h["filter_channels"], n_heads=h["n_heads"],
            n_layers=h["n_layers"], kernel_size=h["kernel_size"], p_dropout=h["p_dropout"], resblock=h["resblock"],
            resblock_kernel_sizes=h["resblock_kernel_sizes"], resblock_dilation_sizes=h["resblock_dilation_sizes"],
            upsample_rates=h["upsample_rates"], upsample_initial_channel=h["upsample_initial_channel"],
            upsample_kernel_sizes=h["upsample_kernel_sizes"], n_speakers=h["num_speakers"],
            gin_channels=h["gin_channels"], use_sdp=h["use_sdp"])


def piper_discriminator(use_spectral_norm: bool):
    from piper.train.vits.models import MultiPeriodDiscriminator

    with _quiet(), torch.random.fork_rng():
        torch.manual_seed(0)  # the fresh sub-discriminators are the same in every export
        return MultiPeriodDiscriminator(use_spectral_norm=use_spectral_norm)


def _load_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, source: Path) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise VoicetuneError(f"{source}: the {what} does not fit piper's modules ({detail})") from None


def _discriminator(disc_state: dict[str, torch.Tensor] | None, periods: tuple[int, ...], use_spectral_norm: bool,
                   source: Path) -> tuple[torch.nn.Module, list[str]]:
    """piper's MultiPeriodDiscriminator holding the run's sub-discriminators where piper has their
    period, its own fresh ones elsewhere, and one line per decision."""
    piper_d = piper_discriminator(use_spectral_norm)
    if not disc_state:
        return piper_d, ["discriminator: piper's fresh one (the run has none)"]
    if use_spectral_norm:  # ours is torch.nn.utils.parametrizations.spectral_norm, piper's the old hook
        return piper_d, ["discriminator: piper's fresh one (the run's spectral-norm discriminator is not carried)"]
    ours = piper_weight_norm_names(disc_state)
    state = piper_d.state_dict()
    # index 0 is the scale discriminator in both; then one per period, in the periods' order
    where = {0: 0, **{i + 1: PIPER_PERIODS.index(p) + 1 for i, p in enumerate(periods) if p in PIPER_PERIODS}}
    for k, v in ours.items():
        _, idx, rest = k.split(".", 2)
        if int(idx) in where:
            state[f"discriminators.{where[int(idx)]}.{rest}"] = v
    _load_strict(piper_d, state, "discriminator", source)
    carried = [p for p in periods if p in PIPER_PERIODS]
    fresh = [p for p in PIPER_PERIODS if p not in periods]
    dropped = [p for p in periods if p not in PIPER_PERIODS]
    line = f"discriminator: the run's scale discriminator and periods {', '.join(map(str, carried)) or 'none'} carried"
    if fresh:
        line += (f"; periods {', '.join(map(str, fresh))} are piper's fresh ones (piper's has "
                 f"{', '.join(map(str, PIPER_PERIODS))}, the run trained {', '.join(map(str, periods))})")
    if dropped:
        line += f"; the run's periods {', '.join(map(str, dropped))} are left out (piper has no such period)"
    return piper_d, [line]


def _start_states(piper_g: torch.nn.Module, piper_d: torch.nn.Module) -> tuple[list[dict], list[dict]]:
    """piper's configure_optimizers at step 0: two AdamW and their ExponentialLR."""
    t = PIPER_TRAINING
    opts = [torch.optim.AdamW(piper_g.parameters(), lr=t["learning_rate"], betas=t["betas"], eps=t["eps"]),
            torch.optim.AdamW(piper_d.parameters(), lr=t["learning_rate_d"], betas=t["betas_d"], eps=t["eps"])]
    scheds = [torch.optim.lr_scheduler.ExponentialLR(opts[0], gamma=t["lr_decay"]),
              torch.optim.lr_scheduler.ExponentialLR(opts[1], gamma=t["lr_decay_d"])]
    return [o.state_dict() for o in opts], [s.state_dict() for s in scheds]


def _lightning_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lightning")
    except PackageNotFoundError:
        return LIGHTNING_LAYOUT


def piper_checkpoint(ckpt: Path, info: dict, trainer: dict, batch_size: int) -> tuple[dict[str, Any], list[str]]:
    """(the Lightning checkpoint dict, notes) of one checkpoint folder of a VITS run."""
    from voicetune.models.vits.discriminators import MultiPeriodDiscriminator
    from voicetune.models.vits.model import VitsModel
    from voicetune.trainer.checkpoints import load_weights

    config = VitsConfig.from_dict(info["model_config"])
    check_architecture(config, ckpt)
    model = VitsModel(config).apply_weight_norm()  # the layout the run trained and saved
    periods = tuple(int(p) for p in (info.get("options") or {}).get("disc_periods") or ())
    modules: dict[str, torch.nn.Module] = {"gen": model}
    if periods:
        modules["disc"] = MultiPeriodDiscriminator(periods, use_spectral_norm=config.use_spectral_norm)
    load_weights(modules, ckpt / "model.safetensors")

    hparams = {**piper_hyper_parameters(config), **PIPER_TRAINING, "batch_size": int(batch_size)}
    piper_g = piper_generator(hparams)
    _load_strict(piper_g, piper_weight_norm_names(model.state_dict()), "generator", ckpt)
    disc = modules.get("disc")
    piper_d, notes = _discriminator(disc.state_dict() if disc is not None else None, periods,
                                    config.use_spectral_norm, ckpt)
    optimizer_states, lr_schedulers = _start_states(piper_g, piper_d)
    state = {**{f"model_g.{k}": v for k, v in piper_g.state_dict().items()},
             **{f"model_d.{k}": v for k, v in piper_d.state_dict().items()}}
    notes.append("optimizers: piper's AdamW at its start (voicetune's moments are not carried); piper's epoch and "
                 "step count from 0")
    checkpoint = {
        "epoch": int(trainer.get("epoch") or 0),
        "global_step": int(trainer["step"]),
        "pytorch-lightning_version": _lightning_version(),
        "state_dict": {k: v.detach().clone().contiguous() for k, v in state.items()},
        "hyper_parameters": hparams,
        "optimizer_states": optimizer_states,
        "lr_schedulers": lr_schedulers,
        "voicetune": {"checkpoint": str(ckpt), "step": int(trainer["step"])},
    }
    return checkpoint, notes


def continue_command(name: str, voice, hparams: dict[str, Any]) -> str:
    """The piper command that continues this checkpoint (dataset paths as placeholders)."""
    speakers = f" --model.num_speakers {hparams['num_speakers']}" if hparams["num_speakers"] > 1 else ""
    return (f"python -m piper.train fit --ckpt_path {name}.ckpt --data.voice_name {name} "
            f"--data.csv_path DATA/metadata.csv --data.audio_dir DATA/wavs --data.cache_dir CACHE "
            f"--data.config_path OUT/config.json --data.espeak_voice {voice.espeak_voice} "
            f"--data.phonemes_path phonemes.json --data.batch_size {hparams['batch_size']}{speakers}")


def export_piper_ckpt(ckpt: Path, run_dir: Path, info: dict, output: Path, build, *, name: str, fmt: str,
                      samples: bool = True, evaluate: bool = True, log=print):
    from voicetune.exporter import ExportResult, finish_voice, model_card
    from voicetune.models.vits.export import voice_json
    from voicetune.models.vits.run import RUN_FILE
    from voicetune.models.vits.voice import VoiceConfig
    from voicetune.run_report import run_config
    from voicetune.trainer.checkpoints import read_trainer

    trainer = read_trainer(ckpt)
    # the run's batch (piper's own checkpoints carry theirs; its --data.batch_size overrides it)
    checkpoint, notes = piper_checkpoint(ckpt, info, trainer, run_config(run_dir).get("batch_size") or 32)
    voice = VoiceConfig.from_piper_dict(info["voice"], source=str(run_dir / RUN_FILE))
    config = VitsConfig.from_dict(info["model_config"])
    usage = ["", "## Continue training in piper", "",
             f"`{name}.ckpt` is a piper1-gpl training checkpoint (`pip install 'piper-tts[train]'`); from this folder, "
             "with your piper dataset at DATA:", "",
             "```", continue_command(name, voice, checkpoint["hyper_parameters"]), "```", "",
             "The architecture comes from the checkpoint's hyper-parameters. `--data.phonemes_path` gives piper "
             "this voice's phoneme map; point `--data.config_path` outside this folder (piper writes it). "
             "Weights only, with a fresh optimizer: `--model.warmstart_ckpt` instead of `--ckpt_path`.", "",
             *[f"- {n}" for n in notes], ""]
    with build as tmp:
        write_with(tmp / f"{name}.ckpt", lambda p: torch.save(checkpoint, p))
        write_json(tmp / "config.json", voice_json(SimpleNamespace(config=config), voice))  # reads .config only
        write_json(tmp / "phonemes.json", voice.phoneme_id_map)
        finish_voice(tmp, run_dir, info, ckpt, name=name, fmt=fmt,
                     card="\n".join([model_card(run_dir, info, ckpt, name).rstrip("\n"), *usage]), evaluate=evaluate, log=log)
        written = ckpt_samples(tmp, name, checkpoint, voice) if samples else []
        build.commit()
    for n in notes:
        log(n)
    return ExportResult(output, output / f"{name}.ckpt", output / "config.json", ckpt,
                        [output / p.relative_to(tmp) for p in written])


def ckpt_samples(folder: Path, name: str, checkpoint: dict[str, Any], voice) -> list[Path]:
    """Spoken by piper's own generator built from the written checkpoint: what piper continues from."""
    import numpy as np

    from voicetune.exporter import SAMPLE_TEXTS, write_samples
    from voicetune.text.phonemize import Phonemizer

    g = piper_generator(checkpoint["hyper_parameters"])
    g.load_state_dict({k.removeprefix("model_g."): v for k, v in checkpoint["state_dict"].items()
                       if k.startswith("model_g.")})
    g.eval()
    phonemizer = Phonemizer(voice)
    sid = torch.tensor([0]) if checkpoint["hyper_parameters"]["num_speakers"] > 1 else None

    def speak(text: str, k: int):
        parts = []
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(k)
            for ids in phonemizer.text_to_ids(text):
                x = torch.tensor([ids], dtype=torch.long)
                audio = g.infer(x, torch.tensor([len(ids)]), sid=sid, noise_scale=voice.noise_scale,
                                length_scale=voice.length_scale, noise_scale_w=voice.noise_w)[0]
                parts.append(audio.squeeze().numpy())
        return np.concatenate(parts), voice.sample_rate

    return write_samples(folder, SAMPLE_TEXTS, speak)
