"""The backend registry: which backends exist and, for each, what it accepts and how it trains,
speaks and exports. Commands, the demo, the UI and the Python API ask here; nothing else decides
which backend a base, a run or a voice belongs to.

Each backend registers itself from its own package (``models/<name>/spec.py``). Those modules are
cheap to import: the heavy parts (torch models, coqui, transformers) load inside the functions, so
asking "which backend is this?" costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicetune.errors import VoicetuneError

# `voicetune train` flags every backend reads (the engine flags --epochs, --lr, ... are not listed:
# they go to the engine's TrainConfig for all backends)
COMMON_FLAGS = ("--dataset", "--base", "--config", "--backend")
# detection order: the first backend whose recogniser accepts a base, run or voice owns it; the
# Piper/VITS backend, last, takes every base no other one claims (its loader says what it accepts)
_PROVIDERS = ("voicetune.models.xtts.spec", "voicetune.models.mms.spec", "voicetune.models.vits.spec")


@dataclass
class TrainRequest:
    """One `voicetune train` call: what the user gave (None = not given). A backend reads the fields
    it uses; ``backends.check_flags`` has refused the flags it does not."""

    dataset: Path | None = None
    base: str | None = None
    output: Path | None = None
    config: Path | None = None
    resume: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # engine keys (TrainConfig, dotted) from flags
    freeze: list[str] | None = None
    train: list[str] | None = None
    speaker: str | None = None
    bootstrap_steps: int | None = None
    bootstrap_sentences: int | None = None
    select_by: str | None = None
    preset: str | None = None
    backend_flags: dict[str, Any] = field(default_factory=dict)  # e.g. MMS's speaker_column, skip_unknown_chars
    show_progress: bool = True
    dry_run: bool = False  # resolve, time a step, print the config and the estimate; write nothing


@dataclass(frozen=True)
class Backend:
    """What a backend tells the rest of voicetune about itself."""

    name: str
    summary: str  # one line: the bases it takes
    run_file: str  # the run file it writes (voicetune.trainer.runfile)
    train_flags: tuple[str, ...]  # `voicetune train` flags it reads besides COMMON_FLAGS and the engine's
    start_only: tuple[str, ...]  # of those, the ones fixed when a run starts (a resume cannot change them)
    export_formats: tuple[str, ...]  # the first is what `voicetune export` writes by default
    select_by: tuple[str, ...]  # --select-by values it can score checkpoints by
    claims_base: Callable[[str], bool]  # does a --base (path or hub id) mean this backend?
    claims_run: Callable[[Path], bool]  # a run folder or one of its checkpoint folders
    claims_voice: Callable[[Path], bool]  # something `say`/`evaluate` can speak with
    train: Callable[[TrainRequest, Callable], Any]  # (request, log) -> the engine's result
    export: Callable[..., Any]  # (run, output, build, *, fmt, which, name, samples, evaluate, log) -> ExportResult
    synthesizer: Callable[..., Any]  # (target, device, backend) -> voicetune.evaluation.targets.Synthesizer
    config_sections: Callable[[], dict[str, type]] = dict  # its sections of a training config -> pydantic model
    claims_config: Callable[[Path], bool] = lambda config: False  # a --config only this backend reads
    # (dataset, base) -> report lines: can the base say the dataset's text (`dataset validate --base`,
    # the same check its training runs first); None: the backend has no such check
    check_text: Callable[[Path, str], list[str]] | None = None


_REGISTRY: dict[str, Backend] = {}


def lazy(target: str) -> Callable[..., Any]:
    """``"module:function"``, imported on its first call: registering a backend imports nothing heavy."""
    module, name = target.split(":")

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__qualname__ = call.__name__ = target
    return call


def register(backend: Backend) -> Backend:
    _REGISTRY[backend.name] = backend
    return backend


def all_backends() -> list[Backend]:
    """Every registered backend, in detection order."""
    for module in _PROVIDERS:
        importlib.import_module(module)
    return [_REGISTRY[m.split(".")[2]] for m in _PROVIDERS]


def names() -> list[str]:
    return [b.name for b in all_backends()]


def get(name: str) -> Backend:
    found = {b.name: b for b in all_backends()}.get(str(name).lower())
    if found is None:
        raise VoicetuneError(f"backend '{name}': unknown; choose from {', '.join(names())}")
    return found


def for_base(base: str | None) -> Backend:
    """The backend a ``--base`` means (the Piper/VITS one for anything no other backend claims)."""
    backends = all_backends()
    if base is not None:
        for b in backends[:-1]:
            if b.claims_base(str(base)):
                return b
    return backends[-1]


def for_run(target: Path) -> Backend | None:
    """The backend that wrote a run folder (or the run of a checkpoint folder); None for neither."""
    for b in all_backends():
        if b.claims_run(Path(target)):
            return b
    return None


def for_voice(target: str | Path) -> Backend:
    """The backend that speaks with a voice (an exported folder, a run, a checkpoint, ``joe``)."""
    backends = all_backends()
    for b in backends[:-1]:
        if b.claims_voice(Path(str(target))):
            return b
    return backends[-1]


def for_training(request: TrainRequest, backend: str | None = None) -> Backend:
    """Which backend a `voicetune train` call is for: the run being resumed, else ``backend``
    (--backend), else the config's (a format only one backend reads, or its ``backend:`` key),
    else what the base is."""
    if request.resume is not None:
        found = for_run(request.resume)
        if found is None:
            raise VoicetuneError(not_a_run(Path(request.resume)))
        return found
    if backend:
        return get(backend)
    if request.config is not None:
        for b in all_backends():
            if b.claims_config(Path(request.config)):
                return b
        from voicetune.trainer.config import read_yaml

        named = read_yaml(request.config).get("backend")
        if named:
            return get(named)
    return for_base(request.base)


def not_a_run(path: Path) -> str:
    if not path.is_dir():
        return f"--resume {path}: no such run folder; give the -o folder of `voicetune train`"
    what = " (it is a dataset folder: pass it as --dataset)" if (path / "dataset.json").exists() else ""
    files = " or ".join(sorted({b.run_file for b in all_backends()}))
    return f"--resume {path}: not a run folder{what}: no {files}; give the -o folder of `voicetune train`"


def check_text(dataset: Path, base: str) -> list[str]:
    """The base's backend's check of a dataset's text (`voicetune dataset validate --base`)."""
    backend = for_base(base)
    if backend.check_text is None:
        raise VoicetuneError(f"--base {base}: a {backend.name} base; `dataset validate --base` checks Piper/VITS "
                             "bases (the others check their text when training starts)")
    return backend.check_text(Path(dataset), str(base))


def check_flags(backend: Backend, given: Mapping[str, object], resume: bool = False) -> None:
    """``given``: flag -> value for the `voicetune train` flags the user set (None/False/[] = not set).
    A flag the backend would ignore is an error listing what it takes, never silently dropped."""
    used = [f for f, v in given.items() if v is not None and v is not False and v != []]
    if resume:
        fixed = [f for f in used if f in COMMON_FLAGS or f in backend.start_only]
        if fixed:
            raise VoicetuneError(f"{', '.join(fixed)}: fixed when the run started (see its run file); --resume "
                                 "takes only the engine flags (--max-steps, --max-minutes, --lr, ...) and --select-by; "
                                 "start a new run to change them")
    ignored = [f for f in used if f not in backend.train_flags and f not in COMMON_FLAGS]
    if ignored:
        raise VoicetuneError(f"{', '.join(ignored)}: not used by the {backend.name} backend, which takes "
                             f"{', '.join(backend.train_flags)} besides the engine flags; drop "
                             f"{'them' if len(ignored) > 1 else 'it'}")


def check_select_by(backend: Backend, select_by: str | None) -> None:
    if select_by is not None and select_by not in backend.select_by:
        raise VoicetuneError(f"--select-by {select_by}: the {backend.name} backend can pick checkpoints by "
                             f"{', '.join(backend.select_by)}")


def export_formats() -> list[str]:
    return list(dict.fromkeys(f for b in all_backends() for f in b.export_formats))


def for_export(run: Path, fmt: str | None) -> tuple[Backend, str]:
    """(the backend that wrote ``run``, the format to write: ``fmt`` or its default), or a one-line
    error naming the formats that run can be exported as."""
    backend = for_run(run)
    if backend is None:
        raise VoicetuneError(f"{run}: not a run or checkpoint folder of `voicetune train` (no "
                             f"{' or '.join(sorted({b.run_file for b in all_backends()}))}); give its -o folder")
    fmt = fmt or backend.export_formats[0]
    if fmt not in backend.export_formats:
        where = [b.name for b in all_backends() if fmt in b.export_formats]
        hint = f" (--format {fmt} is for {' and '.join(where)} runs)" if where else ""
        raise VoicetuneError(f"--format {fmt}: a {backend.name} run exports as {', '.join(backend.export_formats)}"
                             f"{hint}")
    return backend, fmt
