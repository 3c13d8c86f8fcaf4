"""A Piper training checkpoint as ``--base hf://datasets/OWNER/REPO/PATH``: the real download code
(huggingface_hub.snapshot_download) served offline from a hub cache built here, then imported."""

from __future__ import annotations

import json

import pytest
import torch

from test_vits_import import _fake_lightning_ckpt, tiny_config
from voicetune.errors import VoicetuneError
from voicetune.models.vits.hub import fetch_checkpoint, parse
from voicetune.models.vits.model import VitsModel

REPO = "rhasspy/piper-checkpoints"
VOICE = "en/en_US/tiny/medium"


@pytest.fixture()
def hub_cache(tmp_path, monkeypatch):
    """The layout huggingface_hub keeps on disk: datasets--OWNER--REPO/{refs/main, snapshots/<sha>/...}."""
    from voicetune.sample_data import joe_voice_path

    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / f"datasets--{REPO.replace('/', '--')}"
    folder = repo / "snapshots" / sha / VOICE
    folder.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    torch.manual_seed(0)
    config = tiny_config(flow_n_layers=4, posterior_n_layers=16, segment_size=8192)
    model = VitsModel(config).eval()
    for step in (500, 1000):  # two checkpoints of the voice: the newer one is the base
        _fake_lightning_ckpt(folder / f"epoch={step // 250}-step={step}.ckpt", model, config)
    (folder / "config.json").write_text(joe_voice_path().with_suffix(".onnx.json").read_text())
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    return model, config


def test_hub_uri_fetches_the_newest_checkpoint_with_its_config(hub_cache):
    from voicetune.models.vits.import_piper import import_piper

    model, config = hub_cache
    assert parse(f"hf://datasets/{REPO}/{VOICE}") == ("dataset", REPO, VOICE)
    path = fetch_checkpoint(f"hf://datasets/{REPO}/{VOICE}")
    assert path.name == "epoch=4-step=1000.ckpt" and (path.parent / "config.json").is_file()
    one = fetch_checkpoint(f"hf://datasets/{REPO}/{VOICE}/epoch=2-step=500.ckpt")
    assert one.name == "epoch=2-step=500.ckpt"
    imported = import_piper(path)
    assert not imported.report.notes  # the phoneme map came from the config.json beside it
    assert imported.voice.phoneme_id_map == json.loads((path.parent / "config.json").read_text())["phoneme_id_map"]
    assert imported.discriminator_state and not imported.report.needs_bootstrap
    x, n = torch.randint(0, config.num_symbols, (1, 10)), torch.tensor([10])
    a = model.infer(x, n, noise_scale=0.0, noise_scale_w=0.0).audio
    b = imported.model.infer(x, n, noise_scale=0.0, noise_scale_w=0.0).audio
    assert torch.allclose(a, b, atol=1e-5)


def test_train_banner_names_the_route_and_keeps_the_decoder_trainable(hub_cache, tmp_path, monkeypatch):
    from voicetune.models.vits.run import base_route, load_base
    from voicetune.models.vits.training import vits_options

    _, _, info, needs, disc = load_base(f"hf://datasets/{REPO}/{VOICE}")
    assert "Piper training checkpoint" in base_route(info, needs, disc is not None)
    # a checkpoint brings its trained discriminator: no "fresh discriminator" freezing of the decoder
    assert "dec" not in vits_options({}, None, "test", fresh_discriminator=False, log=lambda *a: None).freeze


def test_hub_errors_are_one_line(hub_cache):
    with pytest.raises(VoicetuneError, match="no .ckpt under en/en_US/nobody"):
        fetch_checkpoint(f"hf://datasets/{REPO}/en/en_US/nobody/medium")
    with pytest.raises(VoicetuneError, match="cannot fetch"):
        fetch_checkpoint("hf://datasets/someone/absent-repo/en/x")
    with pytest.raises(VoicetuneError, match="give hf://datasets/OWNER/REPO/PATH"):
        parse("hf://datasets/only-owner")
