"""Transcript comparison shared by prepare checks, benchmarks and evaluation."""

from __future__ import annotations

import re

import jiwer

from voicetune.text.normalize import normalize_text


def normalize_for_wer(text: str, language: str = "en") -> str:
    """Lower case, numbers spelled out, punctuation and hyphens dropped: WER counts words, not style."""
    text = normalize_text(text, language).lower().replace("-", " ")
    return re.sub(r"\s+", " ", re.sub(r"[^\w' ]+", " ", text)).strip()


def wer(reference: str | list[str], hypothesis: str | list[str], language: str = "en") -> float:
    refs = [reference] if isinstance(reference, str) else reference
    hyps = [hypothesis] if isinstance(hypothesis, str) else hypothesis
    return float(jiwer.wer([normalize_for_wer(r, language) for r in refs], [normalize_for_wer(h, language) for h in hyps]))


def cer(reference: str | list[str], hypothesis: str | list[str], language: str = "en") -> float:
    refs = [reference] if isinstance(reference, str) else reference
    hyps = [hypothesis] if isinstance(hypothesis, str) else hypothesis
    return float(jiwer.cer([normalize_for_wer(r, language) for r in refs], [normalize_for_wer(h, language) for h in hyps]))
