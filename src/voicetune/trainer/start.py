"""What every backend's `voicetune train` does the same way before its own part: the new run
folder's checks, --select-by as the engine's selection keys, and the listening scorer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voicetune.errors import VoicetuneError
from voicetune.trainer.config import TrainConfig

# --select-by: which number picks the kept/best checkpoints. Anything but the loss is measured by
# listening (voicetune.evaluation) after each checkpoint is saved: loss curves alone pick wrong.
SELECT = {"loss": ("eval/loss", "min"), "similarity": ("similarity", "max"), "wer": ("wer", "min"),
          "combined": ("combined", "max")}


def wer_measurable(language: str) -> bool:
    """Whether the checkpoint scorer can measure WER on a dataset in ``language``: it hears with
    the bundled English-only Whisper tiny.en."""
    return language.split("-")[0] == "en"


def new_run_folder(output: Path | None, log=print) -> Path:
    """-o of a new run: refused when it holds a run (continue it with --resume) or anything else a
    run could lose (voicetune.folders.check_output)."""
    from voicetune.folders import RUN, check_output

    if output is None:
        raise VoicetuneError("give -o RUN: the new run folder (or --resume RUN)")
    output = Path(output)
    if output.is_dir() and any(output.iterdir()) and RUN.holds(output):
        raise VoicetuneError(f"{output}: exists and is not empty; continue it with --resume {output} or pick a new -o")
    check_output(output, RUN, log=log)
    return output


def select_overrides(overrides: dict[str, Any], select_by: str | None) -> dict[str, Any]:
    """--select-by as the engine's select_metric/select_mode."""
    if select_by is None:
        return overrides
    if select_by not in SELECT:
        raise VoicetuneError(f"--select-by {select_by}: choose one of {', '.join(SELECT)}")
    return {**overrides, "select_metric": SELECT[select_by][0], "select_mode": SELECT[select_by][1]}


def scorer_for(cfg: TrainConfig, dataset: Path):
    """The engine's on_checkpoint hook: None when checkpoints are picked by loss, else one that
    listens to each checkpoint (voicetune.evaluation, through the backend registry's loaders)."""
    if cfg.select_metric == "eval/loss":
        return None
    from voicetune.data.dataset import load_dataset
    from voicetune.evaluation.runlog import checkpoint_scorer

    language = load_dataset(dataset).language
    if cfg.select_metric in ("wer", "combined") and not wer_measurable(language):
        # the checkpoint scorer hears with the bundled English-only Whisper tiny.en: no WER here
        raise VoicetuneError(f"--select-by {cfg.select_metric}: needs WER, which the bundled English-only Whisper "
                             f"cannot measure on {dataset} ('{language}'); use --select-by similarity or loss")

    return checkpoint_scorer(dataset)
