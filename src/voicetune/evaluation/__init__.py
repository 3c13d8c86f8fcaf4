"""Listening-based evaluation of a voice: WER/CER (Whisper), speaker similarity (resemblyzer),
F0 and the decoder frame-rate lock (WORLD), clipping, silence at the ends, speaking rate, RTF.

Modules: ``speaker``, ``pitch``, ``asr``, ``metrics`` (signal measures + re-exports),
``reference`` (the dataset's own numbers), ``report`` (EvalResult, evaluate_voice),
``targets`` (synthesizer_for), ``runlog`` (eval.jsonl).
"""

from voicetune.evaluation.report import EvalResult, evaluate_voice, load_sentences, problems
from voicetune.evaluation.runlog import append_eval_row
from voicetune.evaluation.targets import synthesizer_for

__all__ = ["EvalResult", "append_eval_row", "evaluate_voice", "load_sentences", "problems", "synthesizer_for"]
