"""The dataset report: numbers, a duration histogram and warnings in plain words."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voicetune.data.dataset import Dataset
from voicetune.data.quality import format_snr
from voicetune.fileio import write_text, write_with

RECOMMENDED_MINUTES = 5.0


def warnings_for(ds: Dataset) -> list[str]:
    out = []
    minutes = ds.minutes
    if minutes < RECOMMENDED_MINUTES:
        out.append(f"very small dataset: {minutes:.1f} min; {RECOMMENDED_MINUTES:g}+ min recommended")
    if len(ds.clips) >= 2 and len(ds.eval) < 3:
        out.append(f"eval set has only {len(ds.eval)} clip{'s' if len(ds.eval) != 1 else ''}; eval losses will be noisy")
    if len(ds.clips) < 2:
        out.append("fewer than 2 clips: there is no eval split")
    snrs = [c.snr_db for c in ds.clips if c.snr_db is not None]
    if snrs and np.median(snrs) < 25:
        out.append(f"noisy recordings: median SNR {np.median(snrs):.0f} dB (25+ dB recommended)")
    confs = [c.asr_confidence for c in ds.clips if c.asr_confidence is not None]
    low = sum(1 for c in confs if c < 0.7)
    if confs and low / len(confs) > 0.2:
        out.append(f"{low} of {len(confs)} transcripts have low ASR confidence; check metadata_*.csv by ear")
    if ds.clips and len(ds.quarantine) > 0.25 * (len(ds.clips) + len(ds.quarantine)):
        out.append(f"{len(ds.quarantine)} items quarantined: read the list below")
    short = sum(1 for c in ds.clips if c.duration < 2.0)
    if ds.clips and short / len(ds.clips) > 0.3:
        out.append(f"{short} of {len(ds.clips)} clips are under 2 s; longer sentences train prosody better")
    return out


def stats(ds: Dataset) -> dict:
    d = np.array([c.duration for c in ds.clips]) if ds.clips else np.zeros(1)
    snr = np.array([c.snr_db for c in ds.clips if c.snr_db is not None]) if ds.clips else np.zeros(0)
    lufs = np.array([c.loudness_lufs for c in ds.clips if c.loudness_lufs is not None and np.isfinite(c.loudness_lufs)])
    return {
        "minutes": round(ds.minutes, 2),
        "clips": len(ds.clips),
        "train": len(ds.train),
        "eval": len(ds.eval),
        "speakers": ds.speakers(),
        "duration_s": {"min": float(d.min()), "median": float(np.median(d)), "max": float(d.max())},
        "snr_db": _spread(snr),
        "loudness_lufs": _spread(lufs),
        "clipping_clips": sum(1 for c in ds.clips if (c.clipping or 0) > 1e-4),
        "quarantined": len(ds.quarantine),
    }


def _spread(x: np.ndarray) -> dict:
    if x.size == 0:
        return {}
    return {"p10": round(float(np.percentile(x, 10)), 1), "median": round(float(np.median(x)), 1),
            "p90": round(float(np.percentile(x, 90)), 1)}


def write_report(ds: Dataset, root: Path) -> str:
    s = stats(ds)
    _histogram(ds, root / "durations.png")
    lines = [
        "# Dataset report",
        "",
        f"- {s['minutes']:.1f} minutes in {s['clips']} clips ({s['train']} train, {s['eval']} eval), "
        f"{len(s['speakers'])} speaker(s): {', '.join(s['speakers'])}",
        f"- sample rate {ds.sample_rate} Hz, language `{ds.language}`, transcripts: {ds.asr_model or 'subtitles / imported'}",
        f"- clip duration: min {s['duration_s']['min']:.2f} s, median {s['duration_s']['median']:.2f} s, "
        f"max {s['duration_s']['max']:.2f} s",
    ]
    if s["snr_db"]:
        snr = " / ".join(format_snr(s["snr_db"][k]) for k in ("p10", "median", "p90"))
        lines.append(f"- SNR (dB) p10/median/p90: {snr}")
    if s["loudness_lufs"]:
        lo = s["loudness_lufs"]
        lines.append(f"- loudness before normalisation (LUFS) p10/median/p90: {lo['p10']} / {lo['median']} / {lo['p90']}")
    lines += [f"- clips with clipped samples: {s['clipping_clips']}", "", "![durations](durations.png)", "", "## Warnings", ""]
    lines += [f"- {w}" for w in warnings_for(ds)] or ["- none"]
    lines += ["", f"## Quarantine ({len(ds.quarantine)})", ""]
    if ds.quarantine:
        lines += ["| item | reason | text |", "|---|---|---|"]
        for q in ds.quarantine:
            audio = q.audio(root)
            item = f"`{audio}`" if audio else f"`{q.source or q.clip}`" + ("" if q.source else " (no audio kept)")
            lines.append(f"| {item} | {q.reason} | {(q.text or '').replace('|', ' ')[:80]} |")
    else:
        lines.append("nothing quarantined")
    text = "\n".join(lines) + "\n"
    write_text(root / "report.md", text)
    return text


def _histogram(ds: Dataset, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist([c.duration for c in ds.clips], bins=np.arange(0, 12, 0.5), color="#4477aa")
    ax.set_xlabel("clip duration (s)")
    ax.set_ylabel("clips")
    ax.set_title(f"{len(ds.clips)} clips, {ds.minutes:.1f} min")
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=80))
    plt.close(fig)
