"""Which device a verb runs on: one rule for `--device` in every verb (train, prepare, say, evaluate).

``auto`` means a CUDA GPU when torch sees one, else the CPU; a device that is named but not there
is an error, not a silent fallback (a run meant for the GPU would otherwise take 50x longer).
"""

from __future__ import annotations

from voicetune.errors import VoicetuneError

DEFAULT = "auto"
CHOICES = "auto | cpu | cuda | cuda:N"


def resolve(device: str | None) -> str:
    """``auto``/None -> ``cuda`` or ``cpu``; ``cpu``, ``cuda``, ``cuda:N`` checked against the machine."""
    import torch

    name = (device or DEFAULT).strip().lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name[5:]) if ":" in name else 0
        if index >= count:
            raise VoicetuneError(f"--device {device}: this machine has {count} CUDA GPU(s); use --device auto or cpu")
        return name
    raise VoicetuneError(f"--device {device}: choose {CHOICES}")
