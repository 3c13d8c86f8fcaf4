"""`voicetune train` for VITS: config (engine keys + a ``vits:`` section), new runs and resumes."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from voicetune.errors import VoicetuneError, first_error
from voicetune.models.vits.finetune import DECODER_PARTS, GROUPS, VitsTrainOptions
from voicetune.models.vits.run import build_backend, read_run_file, stage_logger, write_run_info
from voicetune.trainer.config import TrainConfig, config_from_dict, load_config, read_yaml
from voicetune.trainer.start import new_run_folder, scorer_for, select_overrides

_OWN_KEYS = ("vits", "dataset", "base", "backend", "mms")
BATCH_CAP = 8  # VITS at segment 8192 on CPU: batch 8 measured in docs/BENCHMARKS.md ("VITS training step")


def read_config(path: Path | None, overrides: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any]]:
    """(engine config, the non-engine keys: vits/dataset/base/backend) from YAML + CLI flags."""
    data = read_yaml(path) if path is not None else {}
    own = {k: data.pop(k) for k in _OWN_KEYS if k in data}
    return config_from_dict(data, overrides, str(path) if path is not None else "training options"), own


# bench/finetune_quality.py (docs/BENCHMARKS.md "Fine-tuning quality"): a whole HiFi-GAN decoder
# trained against a fresh discriminator buzzes at the frame rate (28-67 % of voiced frames at 86 Hz
# within minutes); a training posterior encoder drifts to the same 86-93 Hz (bench/posterior_recon.py)
# and the flow follows it; the text encoder costs WER (25-32 % when it trains). With the posterior
# encoder, conv_pre and the upsamplers frozen (the transposed convolutions are where tonal
# artefacts at their input rate come from) and a multi-resolution STFT loss, the resblocks and
# conv_post learn the speaker's timbre without the buzz: similarity +0.10 on the high target, comb
# and lock within the recordings' margins. So a base without its training checkpoint gets that.
DEFAULT_FREEZE = ["enc_p", "dp", "enc_q", "dec.conv_pre", "dec.ups"]
DEFAULT_C_STFT = 45.0  # the multi-resolution STFT loss at the mel loss's weight (VitsTrainOptions.c_stft)


def freeze_list(start: list[str], freeze: list[str] | None, train: list[str] | None, origin: str) -> list[str]:
    """The groups frozen all run: ``start`` (the config's vits.freeze, else the default), plus each
    ``--freeze`` group, minus each ``--train`` group; ``--freeze none`` starts from nothing."""
    freeze, train = list(freeze or []), list(train or [])
    for given, what in ((start, origin), (freeze + train, "--freeze/--train")):
        unknown = [g for g in given if g not in GROUPS and g not in DECODER_PARTS and g != "none"]
        if unknown:  # checked here, before minutes of bootstrap, not when the backend is built
            raise VoicetuneError(f"{what}: {' '.join(unknown)}: unknown group; choose from {', '.join(GROUPS)} "
                                 f"or a decoder part ({', '.join(DECODER_PARTS)}) (or --freeze none)")
    if "none" in train:
        raise VoicetuneError("--train none: name the groups to train, e.g. --train dec (--freeze none trains all)")
    out = [] if "none" in freeze else list(start)
    for g in train:  # --train dec also trains the decoder parts that are frozen on their own
        if not any(f == g or f.startswith(g + ".") for f in out):
            raise VoicetuneError(f"--train {g}: {g} is not frozen ({origin}: {', '.join(out) or 'nothing'}), so it "
                                 "trains already; drop the flag")
    out = [f for f in out if not any(f == g or f.startswith(g + ".") for g in train)]
    return out + [g for g in freeze if g != "none" and g not in out]


def vits_options(own: dict[str, Any], freeze: list[str] | None, source: str, fresh_discriminator: bool = False,
                 log=print, train: list[str] | None = None) -> VitsTrainOptions:
    raw = dict(own.get("vits") or {})
    if "freeze" in raw:
        start, origin = list(raw["freeze"] or []), f"vits.freeze in {source}"
    elif fresh_discriminator:
        start, origin = list(DEFAULT_FREEZE), "the default"
    else:
        start, origin = [], "the default"
    if freeze or train or "freeze" in raw or fresh_discriminator:
        raw["freeze"] = freeze_list(start, freeze, train, origin)
    if fresh_discriminator and "freeze" not in (own.get("vits") or {}):
        change = " ".join([*(f"--freeze {g}" for g in freeze or []), *(f"--train {g}" for g in train or [])])
        log(f"vits.freeze: {raw['freeze']} (default {DEFAULT_FREEZE}" + (f" with {change}" if change else "")
            + ": the upsamplers and a posterior encoder trained against a fresh discriminator buzz at the frame "
            "rate; --train dec trains the whole decoder)")
    if fresh_discriminator and "c_stft" not in raw:
        raw["c_stft"] = DEFAULT_C_STFT
        log(f"vits.c_stft: {DEFAULT_C_STFT:g} (default with a fresh discriminator: a multi-resolution STFT loss "
            "on the decoder's output beside the mel loss)")
    try:
        options = VitsTrainOptions(**raw)
    except ValidationError as exc:
        raise VoicetuneError(f"{source}: {first_error(exc, 'vits.')}") from None
    from voicetune.models.vits.finetune import INFERENCE_PATH

    if all(g in options.freeze for g in INFERENCE_PATH if g != "emb_g"):
        raise VoicetuneError(
            f"{source}: vits.freeze {options.freeze} freezes everything inference uses ({', '.join(INFERENCE_PATH[:-1])}); "
            "such a run would change nothing you can hear. Train at least one of them (e.g. drop 'flow')")
    return options


def advise(cfg: TrainConfig, dataset: Path, given: set[str], log=print) -> None:
    """The advisor's settings for a VITS/MMS run (trainer/advisor.py), its warnings printed first."""
    from voicetune.trainer.advisor import DataFacts, Hardware
    from voicetune.trainer.advisor import advise as run_advisor

    hw = Hardware.detect()
    log(f"machine: {hw.describe()}")
    # a VITS checkpoint speaks the 20 scoring sentences in seconds, so long runs are picked by listening
    for line in run_advisor(cfg, DataFacts.of(dataset), hw, given, batch_cap=BATCH_CAP, listen=True):
        log(f"advice: {line}")


def _check_schedule(cfg: TrainConfig, dataset: Path) -> None:
    from voicetune.data.dataset import load_dataset
    from voicetune.trainer.schedule import LRSchedule, run_length

    if cfg.epochs is None and cfg.max_steps is None:  # sized from the time budget once the step is timed
        return
    n = len(load_dataset(dataset).train)
    LRSchedule(cfg.scheduler, run_length(n, cfg.batch_size, cfg.grad_accum, cfg.epochs, cfg.max_steps))


def read_request_config(request) -> tuple[TrainConfig, dict[str, Any], set[str]]:
    """(engine config, own keys, the keys the user set: flags and config) of a new run."""
    from voicetune.trainer.advisor import given_keys

    overrides = select_overrides(request.overrides, request.select_by)
    cfg, own = read_config(request.config, overrides)
    data = read_yaml(request.config) if request.config is not None else {}
    return cfg, own, given_keys(overrides, {k: v for k, v in data.items() if k not in _OWN_KEYS})


def vits_request_options(request, own: dict[str, Any], fresh: bool, log) -> VitsTrainOptions:
    """The ``vits:`` options of a new run: the config's section, --freeze/--train, --bootstrap-steps."""
    options = vits_options(own, request.freeze, str(request.config or "command line"), fresh, log, train=request.train)
    if request.bootstrap_steps is not None:  # the CLI flags win over the config's vits.bootstrap
        from voicetune.models.vits.bootstrap import scale_to_steps

        scale_to_steps(options.bootstrap, request.bootstrap_steps)
    if request.bootstrap_sentences is not None:
        options.bootstrap.sentences = request.bootstrap_sentences
    return options


def resume_vits(request, build):
    """Continue a VITS/MMS run: ``build(dataset, base, options, info)`` -> the backend."""
    from voicetune.data.manage import require_valid
    from voicetune.trainer import engine

    resume = Path(request.resume)
    info = read_run_file(resume)
    require_valid(info["dataset"])
    overrides = select_overrides(request.overrides, request.select_by)
    cfg = load_config(resume / "config.yaml", overrides)
    backend = build(Path(info["dataset"]), info["base"], VitsTrainOptions(**info["options"]), info)
    return engine.resume(backend, resume, overrides, show_progress=request.show_progress,
                         on_checkpoint=scorer_for(cfg, Path(info["dataset"])), dry_run=request.dry_run)


def adapt_before_run(backend, info: dict, cfg: TrainConfig, dry_run: bool, log=print) -> TrainConfig:
    """vits.posterior_adapt (models/vits/posterior_adapt.py) before a new run's first step; its time
    comes out of --max-minutes, which is the run's whole training time. A resumed run does not
    adapt again: its checkpoints hold the adapted encoder."""
    from voicetune.models.vits.posterior_adapt import STAGE, adapt_posterior

    o = backend.options
    if not o.posterior_adapt.steps:
        return cfg
    if dry_run:
        log(f"{STAGE}: {o.posterior_adapt.steps} steps before the run (not in the estimate below)")
        return cfg
    report = adapt_posterior(backend.model, backend.features.train, o.posterior_adapt, c_mel=o.c_mel, c_stft=o.c_stft,
                             stft_resolutions=o.stft_resolutions, progress=stage_logger(log, "adapt"))
    info["posterior_adapt"] = asdict(report)
    backend.notes += report.lines()
    for line in report.lines():
        log(line)
    if cfg.max_minutes is None:
        return cfg
    left = cfg.max_minutes - report.seconds / 60
    if left <= 0:
        raise VoicetuneError(f"vits.posterior_adapt: its {report.steps} steps took {report.seconds / 60:.1f} min, "
                             f"the whole --max-minutes {cfg.max_minutes:g}; give fewer steps or more minutes")
    log(f"max_minutes: {left:.1f} left for training ({cfg.max_minutes:g} minus the adaptation)")
    return cfg.model_copy(update={"max_minutes": left})


def train_vits(request, log=print):
    """`voicetune train` on a Piper/VITS base (backends.TrainRequest): a new run or a resume."""
    from voicetune.data.manage import require_valid
    from voicetune.hub_ids import is_hf_uri
    from voicetune.trainer import engine

    if request.resume is not None:
        return resume_vits(request, lambda ds, base, options, info: build_backend(
            ds, base, options, speaker=info.get("speaker"), log=log)[0])
    cfg, own, yaml_keys = read_request_config(request)
    dataset = request.dataset or (Path(own["dataset"]) if "dataset" in own else None)
    base = request.base or own.get("base") or "joe"
    if dataset is None:
        raise VoicetuneError("give --dataset DATASET and -o RUN (or --resume RUN)")
    output = new_run_folder(request.output, log)
    # only a Lightning .ckpt brings its trained discriminator; ONNX voices and runs start a fresh one
    fresh = not (Path(str(base)).suffix.lower() == ".ckpt" or is_hf_uri(str(base)))
    options = vits_request_options(request, own, fresh, log)
    require_valid(dataset)
    advise(cfg, Path(dataset), yaml_keys, log)
    _check_schedule(cfg, Path(dataset))  # before minutes of bootstrap, not after
    scorer = scorer_for(cfg, Path(dataset))
    backend, info = build_backend(Path(dataset), base, options, speaker=request.speaker, dry_run=request.dry_run,
                                  log=log)
    cfg = adapt_before_run(backend, info, cfg, request.dry_run, log)
    write_run_info(output, info)
    return engine.fit(backend, cfg, output, show_progress=request.show_progress, on_checkpoint=scorer,
                      dry_run=request.dry_run)
