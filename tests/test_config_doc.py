"""`voicetune train --print-config`: the sample YAML is generated from the config models, so it
lists every key, and read back it is exactly the defaults."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from voicetune import backends
from voicetune.cli import app
from voicetune.trainer.config import TrainConfig


def test_the_sample_config_is_every_key_with_its_default():
    res = CliRunner().invoke(app, ["train", "--print-config"])
    assert res.exit_code == 0, res.output
    data = yaml.safe_load(res.output)
    sections = {k: v for b in backends.all_backends() for k, v in b.config_sections().items()}
    assert set(sections) == {"vits", "mms", "xtts"}
    for name, model in sections.items():
        assert model(**data.pop(name)) == model(), name  # every key present, every value its default
    assert TrainConfig(**data) == TrainConfig()
    assert set(data) == set(TrainConfig.model_fields) - {"derived"}
    assert "lr: 0.0002  # learning rate" in res.output
    # a backend's own: only its sections
    res = CliRunner().invoke(app, ["train", "--print-config", "--backend", "xtts"])
    assert "xtts:" in res.output and "vits:" not in res.output
