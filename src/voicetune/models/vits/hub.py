"""Piper training checkpoints from the Hugging Face hub: ``hf://datasets/OWNER/REPO/PATH``.

Most published Piper voices have a Lightning ``.ckpt`` beside them (the ``rhasspy/piper-checkpoints``
dataset: ``en/en_US/joe/medium/epoch=...-step=....ckpt`` with the voice's ``config.json``). It is
the best base there is: it carries the trained posterior encoder and discriminator, so nothing is
re-learned and no discriminator starts fresh. ``PATH`` is a voice folder (its newest checkpoint by
step is taken) or one ``.ckpt`` file. Files land in the hub cache (``HF_HUB_CACHE``); with
``HF_HUB_OFFLINE=1`` they are served from it.
"""

from __future__ import annotations

import re
from pathlib import Path

from voicetune.errors import VoicetuneError
from voicetune.hub_ids import HF_URI_PREFIX as PREFIX

EXAMPLE = "hf://datasets/rhasspy/piper-checkpoints/en/en_US/joe/medium"


def parse(uri: str) -> tuple[str, str, str]:
    """(repo_type, repo_id, path inside the repo)."""
    rest = uri[len(PREFIX):].strip("/")
    parts = rest.split("/")
    repo_type = "model"
    if parts and parts[0] in ("datasets", "models", "spaces"):
        repo_type = parts.pop(0).removesuffix("s")
    if len(parts) < 3:
        raise VoicetuneError(f"--base {uri}: give hf://datasets/OWNER/REPO/PATH to a voice folder or .ckpt, e.g. {EXAMPLE}")
    return repo_type, "/".join(parts[:2]), "/".join(parts[2:])


def _step(name: str) -> int:
    m = re.search(r"step=(\d+)", name)
    return int(m.group(1)) if m else -1


def fetch_checkpoint(uri: str) -> Path:
    """The local path of the hub checkpoint (its folder's config.json downloaded beside it)."""
    repo_type, repo_id, inner = parse(uri)
    folder = inner.rsplit("/", 1)[0] if inner.endswith(".ckpt") else inner
    patterns = [inner] if inner.endswith(".ckpt") else [f"{folder}/*.ckpt"]
    patterns += [f"{folder}/config.json", f"{folder}/*.onnx.json"]
    try:
        from huggingface_hub import snapshot_download

        root = Path(snapshot_download(repo_id, repo_type=repo_type, allow_patterns=patterns))
    except Exception as exc:  # offline, unknown repo, gated: the hub raises many types
        raise VoicetuneError(
            f"--base {uri}: cannot fetch from the Hugging Face hub ({type(exc).__name__}); when online run "
            f"`huggingface-cli download {repo_id} --repo-type {repo_type} --include '{folder}/*' --local-dir DIR` "
            f"and pass --base DIR/{folder}/<file>.ckpt"
        ) from None
    found = sorted((root / folder).glob("*.ckpt"), key=lambda p: _step(p.name))
    if inner.endswith(".ckpt"):
        found = [p for p in found if p.name == Path(inner).name]
    if not found:
        raise VoicetuneError(f"--base {uri}: no .ckpt under {folder} in {repo_id}; check the path (e.g. {EXAMPLE})")
    return found[-1]
