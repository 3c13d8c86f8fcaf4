"""Per-checkpoint evaluation rows in ``RUN/eval.jsonl`` (read by `voicetune runs` and checkpoint
selection in ``voicetune.trainer.checkpoints``).

Rows are appended and fsynced, never rewritten, using the trainer's own writer so both sides agree
on the format: ``step`` and ``checkpoint`` plus every number of :class:`EvalResult`. The numbers
also go to TensorBoard under the tags the trainer uses for its own checkpoint evaluations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voicetune.trainer.checkpoints import append_eval_row as _append
from voicetune.trainer.checkpoints import eval_rows

__all__ = ["append_eval_row", "checkpoint_scorer", "eval_rows", "log_tensorboard", "run_of", "step_of"]


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None (json.dumps would write invalid JSON)."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def append_eval_row(run_dir: str | Path, row: Mapping[str, Any]) -> dict[str, Any]:
    clean = {k: _plain(v) for k, v in row.items()}
    _append(run_dir, clean)
    return clean


def log_tensorboard(run_dir: str | Path, step: int, scores: Mapping[str, float]) -> bool:
    """The same scalars the trainer logs for its on_checkpoint hook (``checkpoint_eval/scores/<name>``)
    into ``RUN/tb``, so a run evaluated afterwards shows the curves beside its losses. False when
    TensorBoard is not installed (eval.jsonl has everything)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return False
    writer = SummaryWriter(str(Path(run_dir) / "tb"))
    try:
        for key, value in scores.items():
            writer.add_scalar(f"checkpoint_eval/scores/{key}", float(value), step)
    finally:
        writer.close()
    return True


def step_of(checkpoint: Path) -> int | None:
    name = checkpoint.name
    return int(name.split("-", 1)[1]) if name.startswith("step-") and name.split("-", 1)[1].isdigit() else None


def run_of(checkpoint: Path) -> Path | None:
    """The run folder a ``RUN/checkpoints/step-N`` folder belongs to, if it is one."""
    parent = checkpoint.resolve().parent
    return parent.parent if parent.name == "checkpoints" and (parent.parent / "config.yaml").exists() else None



def checkpoint_scorer(dataset_dir: str | Path, sentences: list[str] | str | Path | None = None,
                      asr_model: str | None = None, device: str = "cpu"):
    """An ``on_checkpoint(path, step) -> {metric: float}`` for ``voicetune.trainer.engine.fit``.

    The engine appends the numbers to eval.jsonl itself and may select checkpoints by one of
    them (``similarity``, ``wer``, ``combined``...). The dataset reference and Whisper are loaded
    on the first call and reused for every later checkpoint.
    """
    from voicetune.data.dataset import load_dataset
    from voicetune.errors import VoicetuneError
    from voicetune.evaluation.report import evaluate_voice, load_sentences
    from voicetune.evaluation.targets import synthesizer_for

    texts = sentences if isinstance(sentences, list) else load_sentences(sentences)
    if not load_dataset(dataset_dir).eval:  # checked before training starts, not at its first checkpoint
        raise VoicetuneError(f"{dataset_dir}: no eval clips to compare checkpoints with; run "
                             f"`voicetune dataset split {dataset_dir}` or select by loss")

    def on_checkpoint(path: Path, step: int) -> dict[str, float]:
        synth = synthesizer_for(path, device=device)
        result = evaluate_voice(synth, dataset_dir, texts, asr_model, hop_length=synth.hop_length, target=str(path))
        return result.scores()

    return on_checkpoint
