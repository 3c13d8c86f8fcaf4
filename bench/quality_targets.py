"""The two fine-tuning targets of the quality benchmarks, built once and shared by the bench scripts.

Each target is Joe re-voiced through WORLD (``voicetune.sample_data.revoice``) reading the built-in
sentences plus generated ones (never the 20 evaluation sentences), recorded as an MP3 and a 44.1 kHz
stereo FLAC session and prepared by ``voicetune prepare``. They move away from Joe (median F0 116 Hz
by harvest) in opposite directions, so a recipe cannot be tuned to one:

- ``low``: F0 x 0.78, formants x 0.90 (a bigger, deeper speaker; the demo's target)
- ``high``: F0 x 1.4, formants x 1.1 (a smaller, higher speaker)
"""

from __future__ import annotations

from pathlib import Path

TARGETS = {"low": (0.78, 0.90), "high": (1.4, 1.1)}
DEFAULT_OUT = Path("bench-out/targets")


def build_target(name: str, out: Path = DEFAULT_OUT) -> Path:
    """The target's dataset folder (built on first use, reused afterwards)."""
    from voicetune.data.build import prepare
    from voicetune.demo import make_recordings
    from voicetune.sample_data import generated_sentences, sentences

    f0, formants = TARGETS[name]
    dataset = out / name / "dataset"
    if (dataset / "dataset.json").exists():
        return dataset
    held_out = {s.lower() for s in sentences("eval_sentences_en")}
    texts = [t for t in sentences() + generated_sentences(90, seed=11) if t.lower() not in held_out]
    rec = out / name / "recordings"
    rec.mkdir(parents=True, exist_ok=True)
    prepare(make_recordings(rec, texts, f0, formants), dataset)
    return dataset


def evaluate(synth, dataset: Path, who: str) -> dict:
    """Every number the quality tables use, on the 20 held-out evaluation sentences."""
    from voicetune.evaluation.report import evaluate_voice
    from voicetune.sample_data import sentences

    r = evaluate_voice(synth, dataset, sentences("eval_sentences_en"), target=who)
    return {"who": who, "similarity": r.similarity, "wer": r.wer, "median_f0": r.median_f0, "lock": r.lock_share,
            "comb": r.comb_db, "reference_similarity": r.reference_similarity, "reference_wer": r.reference_wer,
            "dataset_f0": r.dataset_median_f0, "dataset_lock": r.dataset_lock_share, "dataset_comb": r.dataset_comb_db,
            "eval_seconds": r.eval_seconds}


def target_row(base_row: dict) -> dict:
    """The target itself (its own recordings), from the numbers an evaluation reports beside a voice."""
    return {"who": "target itself", "similarity": base_row["reference_similarity"], "wer": base_row["reference_wer"],
            "median_f0": base_row["dataset_f0"], "lock": base_row["dataset_lock"], "comb": base_row["dataset_comb"]}


def goals(row: dict, base: dict, target: dict) -> dict[str, bool]:
    """The quality goal: similarity +0.10 over the base and within 0.05 of the target's own, WER at most
    3 points over the base's, median F0 within 15 % of the target's, no buzz (comb within 1 dB of the
    target's own, 86 Hz lock at most 5 points over the target's own)."""
    return {
        "sim+0.10": row["similarity"] >= base["similarity"] + 0.10,
        "sim~target": row["similarity"] >= target["similarity"] - 0.05,
        "wer<=base+3": row["wer"] <= base["wer"] + 0.03,
        "f0±15%": abs(row["median_f0"] / target["median_f0"] - 1) <= 0.15,
        "comb<=target+1": row["comb"] <= target["comb"] + 1.0,
        "lock<=target+5": row["lock"] <= target["lock"] + 0.05,
    }
