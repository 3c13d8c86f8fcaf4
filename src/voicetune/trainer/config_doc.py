"""`voicetune train --print-config`: a YAML with every key of the training config, its default and
its meaning, generated from the config models themselves (so it cannot drift from what is read)."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[:-4].strip() if text.endswith("\n...") else text.removesuffix("...").strip()


def model_yaml(model: type[BaseModel], indent: int = 0, skip: tuple[str, ...] = ()) -> list[str]:
    """``key: default  # meaning`` per field; nested models as indented sections."""
    pad = "  " * indent
    out = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        meaning = field.description or ""
        nested = field.annotation if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel) \
            else None
        if nested is not None:
            out.append(f"{pad}{name}:" + (f"  # {meaning}" if meaning else ""))
            out += model_yaml(nested, indent + 1)
            continue
        default = field.get_default(call_default_factory=True)
        out.append(f"{pad}{name}: {_value(default)}" + (f"  # {meaning}" if meaning else ""))
    return out


def sample_config(sections: dict[str, type[BaseModel]]) -> str:
    """The engine's keys, then one section per backend (``vits:``, ``mms:``, ``xtts:``)."""
    from voicetune.trainer.config import TrainConfig

    lines = ["# voicetune training config: every key with its default. Give only what you change;",
             "# `voicetune train --config FILE`. Values the advisor derives are listed under `derived:`",
             "# in RUN/config.yaml with the reason.", ""]
    lines += model_yaml(TrainConfig, skip=("derived",))
    for name, model in sections.items():
        lines += ["", f"{name}:  # read by the {name} backend only"] + model_yaml(model, 1)
    return "\n".join(lines) + "\n"
