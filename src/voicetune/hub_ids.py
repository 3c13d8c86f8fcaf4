"""Which `--base` / `--voice` strings name something on the Hugging Face hub: one rule for every
backend, so `owner/name` means the same to MMS and XTTS and a mistyped local path is never sent to
the hub as a repository name."""

from __future__ import annotations

import re
from pathlib import Path

HF_URI_PREFIX = "hf://"  # a file or folder inside a hub repository: hf://datasets/OWNER/REPO/PATH
FILE_SUFFIXES = (".onnx", ".ckpt", ".json", ".pt", ".pth", ".safetensors")


def is_repo_id(text: str) -> bool:
    """``owner/name``: not an existing path, not a file name (a mistyped voices/x.onnx stays local)."""
    text = str(text)
    if Path(text).expanduser().exists() or Path(text).suffix.lower() in FILE_SUFFIXES:
        return False
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", text)) and not text.startswith(".")


def is_hf_uri(text: str) -> bool:
    """``hf://[datasets/]OWNER/REPO/PATH``: a Piper training checkpoint (or voice folder) in a repository."""
    return str(text).startswith(HF_URI_PREFIX)
