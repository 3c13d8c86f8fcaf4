"""`voicetune train` for VITS: config (engine keys + a ``vits:`` section), new runs and resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from voicetune.errors import VoicetuneError
from voicetune.models.vits.finetune import DECODER_PARTS, GROUPS, VitsTrainOptions
from voicetune.models.vits.run import RUN_FILE, build_backend, read_run_file, write_run_info
from voicetune.train.config import TrainConfig, config_from_dict, load_config, read_yaml
from voicetune.train.flags import check_flags

_OWN_KEYS = ("vits", "dataset", "base", "backend", "mms")
# --select-by: which number picks the kept/best checkpoints. Anything but the loss is measured by
# listening (voicetune.evaluate) after each checkpoint is saved: loss curves alone pick wrong.
SELECT = {"loss": ("eval/loss", "min"), "similarity": ("similarity", "max"), "wer": ("wer", "min"),
          "combined": ("combined", "max")}


def _scorer(cfg: TrainConfig, dataset: Path):
    if cfg.select_metric == "eval/loss":
        return None
    from voicetune.evaluate.runlog import checkpoint_scorer

    return checkpoint_scorer(dataset)


def read_config(path: Path | None, overrides: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any]]:
    """(engine config, the non-engine keys: vits/dataset/base/backend) from YAML + CLI flags."""
    data = read_yaml(path) if path is not None else {}
    own = {k: data.pop(k) for k in _OWN_KEYS if k in data}
    return config_from_dict(data, overrides, str(path) if path is not None else "training options"), own


# bench/finetune_quality.py (docs/BENCHMARKS.md "Fine-tuning quality"): a HiFi-GAN decoder trained
# against a fresh discriminator buzzes at the frame rate (28-67 % of voiced frames at 86 Hz within
# minutes); with the decoder frozen but the distilled posterior encoder training, the encoder drifts
# to the same 86-93 Hz (bench/posterior_recon.py) and the flow follows it. With both frozen only
# the flow learns (the text encoder costs WER: 25-32 % when it trains): no buzz, pitch toward the
# target. So a base without its training checkpoint freezes all four unless told otherwise.
DEFAULT_FREEZE = ["enc_p", "dp", "dec", "enc_q"]


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
    for g in train:
        if g not in out:
            raise VoicetuneError(f"--train {g}: {g} is not frozen ({origin}: {', '.join(out) or 'nothing'}), so it "
                                 "trains already; drop the flag")
    out = [g for g in out if g not in train]
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
            + ": a decoder trained against a fresh discriminator buzzes at the frame rate; --train dec trains it)")
    try:
        options = VitsTrainOptions(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise VoicetuneError(f"{source}: vits.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    from voicetune.models.vits.finetune import INFERENCE_PATH

    if all(g in options.freeze for g in INFERENCE_PATH if g != "emb_g"):
        raise VoicetuneError(
            f"{source}: vits.freeze {options.freeze} freezes everything inference uses ({', '.join(INFERENCE_PATH[:-1])}); "
            "such a run would change nothing you can hear. Train at least one of them (e.g. drop 'flow')")
    return options


def advise(cfg: TrainConfig, n_train: int, overrides: dict[str, Any], yaml_keys: set[str]) -> None:
    """Fill what the user did not set, from the dataset size, and say why (config.yaml `derived`)."""
    given = set(overrides) | yaml_keys
    if "batch_size" not in given:
        batch = max(1, min(8, n_train // 4 or 1))
        cfg.derive("batch_size", batch, f"{n_train} training clips: batch {batch} keeps >= 4 steps per epoch (max 8)")
    if cfg.max_minutes and not {"epochs", "max_steps"} & given:
        # --max-minutes alone means "train this long": the engine times a step and sizes the run
        cfg.derive("epochs", None, f"not set: the run is as long as --max-minutes {cfg.max_minutes:g} allows")


def _check_schedule(cfg: TrainConfig, dataset: Path) -> None:
    from voicetune.data.dataset import load_dataset
    from voicetune.train.schedule import LRSchedule, run_length

    if cfg.epochs is None and cfg.max_steps is None:  # sized from the time budget once the step is timed
        return
    n = len(load_dataset(dataset).train)
    LRSchedule(cfg.scheduler, run_length(n, cfg.batch_size, cfg.grad_accum, cfg.epochs, cfg.max_steps))


def run_training(*, dataset: Path | None, base: str | None, output: Path | None, config: Path | None,
                 resume: Path | None, overrides: dict[str, Any], freeze: list[str] | None = None,
                 train: list[str] | None = None, speaker: str | None = None,
                 bootstrap_steps: int | None = None, bootstrap_sentences: int | None = None, show_progress: bool = True,
                 select_by: str | None = None, backend: str | None = None, mms_flags: dict[str, Any] | None = None,
                 given: dict[str, Any] | None = None, log=print):
    """``given``: the CLI flags the user set (flag -> value), checked against what the backend uses."""
    from voicetune.data.manage import require_valid
    from voicetune.folders import RUN, check_output
    from voicetune.models.mms import training as mms_training
    from voicetune.train import engine

    given = given or {}
    if select_by is not None and select_by not in SELECT:
        raise VoicetuneError(f"--select-by {select_by}: choose one of {', '.join(SELECT)}")
    if select_by:
        overrides = {**overrides, "select_metric": SELECT[select_by][0], "select_mode": SELECT[select_by][1]}
    if resume is not None:
        if not Path(resume).is_dir():
            raise VoicetuneError(f"--resume {resume}: no such run folder; give the -o folder of `voicetune train`")
        if not (Path(resume) / RUN_FILE).exists():
            what = " (it is a dataset folder: pass it as --dataset)" if (Path(resume) / "dataset.json").exists() else ""
            raise VoicetuneError(f"--resume {resume}: not a run folder{what}: no vits.json or xtts.json; give the -o "
                                 "folder of `voicetune train`")
        info = read_run_file(Path(resume))
        check_flags(info.get("backend") or "vits", given, resume=True)
        require_valid(info["dataset"])
        options = VitsTrainOptions(**info["options"])
        cfg = load_config(Path(resume) / "config.yaml", overrides)
        scorer = _scorer(cfg, Path(info["dataset"]))
        if info.get("backend") == "mms":
            backend, _ = mms_training.build(Path(info["dataset"]), info["base"], options, info.get("mms_options") or {}, log=log)
        else:
            backend, _ = build_backend(Path(info["dataset"]), info["base"], options, speaker=info.get("speaker"),
                                       log=log)
        return engine.resume(backend, resume, overrides, show_progress=show_progress, on_checkpoint=scorer)
    if mms_training.is_hf_json(config):  # a finetune-hf-vits JSON config
        data, own = mms_training.read_hf_json(config, log)
        cfg, yaml_keys = config_from_dict(data, overrides, str(config)), set(data)
    else:
        cfg, own = read_config(config, overrides)
        yaml_keys = set(read_yaml(config)) if config is not None else set()
    dataset = dataset or (Path(own["dataset"]) if "dataset" in own else None)
    base = base or own.get("base") or "joe"
    if (dataset is None and "hf_dataset" not in own) or output is None:
        raise VoicetuneError("give --dataset DATASET and -o RUN (or --resume RUN)")
    kind = mms_training.pick_backend(backend or own.get("backend"), base)
    if kind not in ("vits", "mms"):
        raise VoicetuneError(f"backend '{kind}' is not available in this build (vits, mms)")
    check_flags(kind, given)
    if Path(output).is_dir() and any(Path(output).iterdir()) and RUN.holds(Path(output)):
        raise VoicetuneError(f"{output}: exists and is not empty; continue it with --resume {output} or pick a new -o")
    check_output(output, RUN, log=log)
    # only a Lightning .ckpt brings its trained discriminator; ONNX voices and runs start a fresh one
    from voicetune.models.vits.hub import is_hub_checkpoint

    fresh = kind == "vits" and not (Path(str(base)).suffix.lower() == ".ckpt" or is_hub_checkpoint(str(base)))
    options = vits_options(own, freeze, str(config or "command line"), fresh, log, train=train)
    if bootstrap_steps is not None:  # the CLI flags win over the config's vits.bootstrap
        from voicetune.models.vits.bootstrap import scale_to_steps

        scale_to_steps(options.bootstrap, bootstrap_steps)
    if bootstrap_sentences is not None:
        options.bootstrap.sentences = bootstrap_sentences
    from voicetune.data.dataset import load_dataset

    if kind == "mms":
        dataset = mms_training.dataset_folder(dataset, own, Path(output), mms_flags or {}, log)
    require_valid(dataset)
    advise(cfg, len(load_dataset(dataset).train), overrides, yaml_keys)
    _check_schedule(cfg, Path(dataset))  # before minutes of bootstrap, not after
    scorer = _scorer(cfg, Path(dataset))
    if kind == "mms":
        flags = {k: v for k, v in (mms_flags or {}).items() if v is not None}  # CLI flags win over the config
        if speaker is not None:
            flags.setdefault("filter_speaker", speaker)
        backend, info = mms_training.build(Path(dataset), base, options, {**own.get("mms", {}), **flags},
                                           given=own.get("vits") or {}, log=log)
    else:
        backend, info = build_backend(Path(dataset), base, options, speaker=speaker, log=log)
    write_run_info(Path(output), info)
    return engine.fit(backend, cfg, output, show_progress=show_progress, on_checkpoint=scorer)
