"""What an import returns: the model, its configs, and a report of what the source lacked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .config import VitsConfig
from .model import VitsModel
from .voice import VoiceConfig


@dataclass
class ImportReport:
    source: str
    loaded_tensors: int
    loaded_weights: int
    # training-only groups absent from the source: {group: number of weights}, e.g.
    # {"enc_q": 7.2M, "dp.post": ..., "dp.flows.1": ..., "discriminator": 0}
    absent: dict[str, int] = field(default_factory=dict)
    absent_keys: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def needs_bootstrap(self) -> bool:
        return bool(self.absent_keys)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "loaded_tensors": self.loaded_tensors,
            "loaded_weights": self.loaded_weights,
            "absent": self.absent,
            "absent_keys": self.absent_keys,
            "unused": self.unused,
            "notes": self.notes,
        }


@dataclass
class ImportedVoice:
    model: VitsModel
    config: VitsConfig
    voice: VoiceConfig
    report: ImportReport
    discriminator_state: dict[str, torch.Tensor] | None = None  # from a .ckpt only


def absent_groups(model: VitsModel, keys: list[str]) -> dict[str, int]:
    sd = model.state_dict()
    groups: dict[str, int] = {}
    for k in keys:
        if k.startswith("enc_q."):
            g = "enc_q"
        elif k.startswith("dp.post_"):
            g = "dp.post"
        elif k.startswith("dp.flows.1."):
            g = "dp.flows.1"
        else:
            g = k.split(".")[0]
        groups[g] = groups.get(g, 0) + sd[k].numel()
    return groups


