"""Piper voice import: Joe's ONNX equals onnxruntime; clear errors for wrong files; .ckpt import."""

from __future__ import annotations

import json
import pathlib
import shutil
import warnings

import numpy as np
import pytest
import torch

from vits_helpers import SENTENCES, corr, joe_imported, joe_paths, piper_joe, run_piper_session, tiny_config  # noqa: F401
from voicetune.errors import VoicetuneError
from voicetune.models.vits.errors import VoiceError
from voicetune.models.vits.import_piper import import_piper, import_piper_checkpoint, import_piper_onnx
from voicetune.models.vits.model import VitsModel


def test_joe_matches_onnxruntime(joe_imported, piper_joe):  # noqa: F811
    model = joe_imported.model
    for text in SENTENCES:
        ids = piper_joe.phonemes_to_ids(piper_joe.phonemize(text)[0])
        ref = run_piper_session(piper_joe.session, ids)
        with torch.no_grad():
            ours = model.infer(torch.tensor([ids]), torch.tensor([len(ids)]), noise_scale=0.0, noise_scale_w=0.0).audio
        ours = ours.squeeze().numpy()
        assert ours.shape == ref.shape
        assert corr(ours, ref) >= 0.999
        assert np.abs(ours - ref).max() < 1e-3  # measured 2.6e-5


def test_joe_import_report_and_config(joe_imported):  # noqa: F811
    r, c = joe_imported.report, joe_imported.config
    assert r.loaded_tensors == 350 and r.loaded_weights == 15_650_459
    assert r.unused == []
    assert r.absent == {"enc_q": 7_225_920, "dp.flows.1": 121_757, "dp.post": 640_248, "discriminator": 0}
    assert all(k.startswith(("enc_q.", "dp.post_", "dp.flows.1.")) for k in r.absent_keys)
    assert r.needs_bootstrap
    assert (c.hidden_channels, c.filter_channels, c.n_heads, c.n_layers) == (192, 768, 2, 6)
    assert c.upsample_rates == (8, 8, 4) and c.resblock_dilation_sizes == ((1, 2), (2, 6), (3, 12))
    v = joe_imported.voice
    assert v.sample_rate == 22050 and v.espeak_voice == "en-us" and v.num_speakers == 1
    assert v.phoneme_id_map["_"] == [0] and (v.noise_scale, v.length_scale, v.noise_w) == (0.667, 1.0, 0.8)
    json.dumps(r.to_dict())  # the report is plain data the trainer can store


def test_missing_files(tmp_path, joe_paths):  # noqa: F811
    with pytest.raises(VoiceError, match="file not found"):
        import_piper(tmp_path / "nope.onnx")
    lone = tmp_path / "lone.onnx"
    lone.symlink_to(joe_paths[0])
    with pytest.raises(VoiceError, match=r"lone\.onnx\.json: voice config not found"):
        import_piper(lone)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VoiceError, match="no .onnx voice"):
        import_piper(empty)
    with pytest.raises(VoiceError, match="file not found"):
        import_piper(tmp_path / "x.ckpt")


def test_non_piper_onnx(tmp_path, joe_paths):  # noqa: F811
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])],
        "adder",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in "ab"],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "adder.onnx"
    onnx.save(helper.make_model(graph), str(path))
    shutil.copy(joe_paths[1], f"{path}.json")
    with pytest.raises(VoiceError, match="not a Piper voice ONNX"):
        import_piper(path)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"definitely not protobuf" * 10)
    shutil.copy(joe_paths[1], f"{garbage}.json")
    with pytest.raises(VoicetuneError, match="garbage.onnx"):
        import_piper(garbage)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"num_symbols": 100}, "does not belong"),
        ({"num_speakers": 4}, "speaker"),
        ({"audio": None}, "not a Piper voice config"),
    ],
)
def test_mismatched_json(tmp_path, joe_paths, change, match):  # noqa: F811
    d = json.loads(pathlib.Path(joe_paths[1]).read_text())
    d.update(change)
    onnx_path = tmp_path / "joe.onnx"
    onnx_path.symlink_to(joe_paths[0])
    pathlib.Path(f"{onnx_path}.json").write_text(json.dumps(d))
    with pytest.raises(VoiceError, match=match) as info:
        import_piper_onnx(onnx_path)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------ checkpoints
class AttributeDict(dict):
    """Stands in for lightning's AttributeDict: a class the safe unpickler does not know."""


def _fake_lightning_ckpt(path, model: VitsModel, config):
    from voicetune.models.vits.discriminators import MultiPeriodDiscriminator

    legacy = VitsModel(config)
    legacy.load_state_dict(model.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for _, m in legacy.weight_norm_modules():
            torch.nn.utils.weight_norm(m)  # the old API Piper trained with: weight_g / weight_v
    state = {f"model_g.{k}": v for k, v in legacy.state_dict().items()}
    disc = MultiPeriodDiscriminator(periods=config.mpd_periods)
    for k, v in disc.state_dict().items():
        k = k.replace(".parametrizations.weight.original0", ".weight_g").replace(".parametrizations.weight.original1", ".weight_v")
        state[f"model_d.{k}"] = v
    hp = AttributeDict(
        num_symbols=config.num_symbols,
        num_speakers=1,
        sample_rate=config.sample_rate,
        filter_length=config.filter_length,
        hop_length=config.hop_length,
        win_length=config.win_length,
        mel_channels=config.mel_channels,
        inter_channels=config.inter_channels,
        hidden_channels=config.hidden_channels,
        filter_channels=config.filter_channels,
        n_heads=config.n_heads,
        n_layers=config.n_layers,
        resblock=config.resblock,
        resblock_kernel_sizes=str(config.resblock_kernel_sizes),  # Piper's CLI stores strings
        resblock_dilation_sizes=config.resblock_dilation_sizes,
        upsample_rates=config.upsample_rates,
        upsample_initial_channel=config.upsample_initial_channel,
        upsample_kernel_sizes=config.upsample_kernel_sizes,
        dataset=pathlib.PosixPath("/data/set"),
    )
    torch.save({"state_dict": state, "hyper_parameters": hp, "epoch": 3, "global_step": 1000}, path)


def test_lightning_checkpoint_import(tmp_path):
    from voicetune.models.vits.config import VitsConfig

    torch.manual_seed(0)
    # Piper hard-codes flow/posterior depth, so the checkpoint config uses those defaults
    config = tiny_config(flow_n_layers=4, posterior_n_layers=16, segment_size=8192)
    model = VitsModel(config).eval()
    ckpt = tmp_path / "epoch=3-step=1000.ckpt"
    _fake_lightning_ckpt(ckpt, model, config)
    with pytest.raises(Exception):  # noqa: B017 - proves the file needs the safe path
        torch.load(ckpt, weights_only=True)
    imported = import_piper_checkpoint(ckpt)
    assert isinstance(imported.config, VitsConfig)
    assert imported.config.resblock_kernel_sizes == config.resblock_kernel_sizes
    assert imported.report.absent_keys == []  # a checkpoint has enc_q and the SDP's training half
    assert imported.discriminator_state and any("parametrizations.weight.original1" in k for k in imported.discriminator_state)
    from voicetune.models.vits.discriminators import MultiPeriodDiscriminator

    MultiPeriodDiscriminator(periods=config.mpd_periods).load_state_dict(imported.discriminator_state)  # strict
    assert imported.report.notes  # no config.json next to it: default phoneme map noted
    x = torch.randint(0, config.num_symbols, (1, 12))
    lengths = torch.tensor([12])
    a = model.infer(x, lengths, noise_scale=0.0, noise_scale_w=0.0).audio
    b = imported.model.infer(x, lengths, noise_scale=0.0, noise_scale_w=0.0).audio
    assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


def test_checkpoint_errors(tmp_path):
    bad = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {"x": torch.zeros(1)}}, bad)
    with pytest.raises(VoiceError, match="not a Piper checkpoint"):
        import_piper_checkpoint(bad)
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(VoiceError, match="junk.ckpt"):
        import_piper_checkpoint(junk)
