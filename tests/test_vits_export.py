"""Export: our model -> Piper .onnx + .onnx.json that piper-tts's own runtime loads and speaks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from vits_helpers import (  # noqa: F401
    SENTENCES,
    corr,
    joe_exported,
    joe_imported,
    joe_paths,
    piper_joe,
    run_piper_session,
    tiny_config,
    tiny_voice_config,
)
from voicetune.models.vits.export import export_piper
from voicetune.models.vits.import_piper import import_piper_onnx
from voicetune.models.vits.model import VitsModel


def test_joe_roundtrip_in_piper_runtime(joe_exported, piper_joe):  # noqa: F811
    from piper import PiperVoice, SynthesisConfig

    onnx_path, json_path = joe_exported
    assert os.stat(onnx_path).st_mode & 0o044  # readable by others, like any exported file
    exported = PiperVoice.load(onnx_path)  # piper-tts's own loader and runtime
    assert exported.config.sample_rate == 22050
    assert exported.config.phoneme_id_map == piper_joe.config.phoneme_id_map
    for text in SENTENCES[:2]:
        ids = piper_joe.phonemes_to_ids(piper_joe.phonemize(text)[0])
        ref = run_piper_session(piper_joe.session, ids)
        ours = run_piper_session(exported.session, ids)
        assert ours.shape == ref.shape
        assert corr(ours, ref) >= 0.999
        assert np.abs(ours - ref).max() < 1e-3
    # and through piper's high-level API, text in, audio out
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    a = np.concatenate([c.audio_float_array for c in exported.synthesize(SENTENCES[1], cfg)])
    b = np.concatenate([c.audio_float_array for c in piper_joe.synthesize(SENTENCES[1], cfg)])
    assert a.shape == b.shape and corr(a, b) >= 0.999


def test_exported_json_keeps_voice_fields(joe_exported, joe_paths):  # noqa: F811
    original = json.loads(joe_paths[1].read_text())
    exported = json.loads(joe_exported[1].read_text())
    for key in ("phoneme_id_map", "num_symbols", "num_speakers", "espeak", "inference", "phoneme_type"):
        assert exported[key] == original[key], key
    assert exported["audio"]["sample_rate"] == 22050
    assert exported["voicetune"]["vits_config"]["upsample_rates"] == [8, 8, 4]


def test_joe_reimport_of_export_is_identical(joe_exported, joe_imported):  # noqa: F811
    again = import_piper_onnx(joe_exported[0])
    assert again.report.loaded_tensors == joe_imported.report.loaded_tensors
    a, b = joe_imported.model.state_dict(), again.model.state_dict()
    for k in a:
        if not k.startswith(joe_imported.model.training_only_prefixes()):
            assert torch.allclose(a[k], b[k], atol=1e-6), k


def _roundtrip(tmp_path, config, sid=None):
    import onnxruntime

    torch.manual_seed(0)
    model = VitsModel(config).eval()
    # post convs start at zero (identity flows); give them weights so the test can fail
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("flow.") and name.endswith("post.weight"):
                p.normal_(0, 0.05)
    model.apply_weight_norm()  # export must fold it
    voice = tiny_voice_config(config)
    onnx_path, _ = export_piper(model, voice, tmp_path / "tiny.onnx")
    imported = import_piper_onnx(onnx_path)
    assert imported.config.filter_length == config.filter_length  # from our json's vits_config
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for n in (5, 23):
        ids = [1, *torch.randint(4, 30, (n,)).tolist(), 2]
        x, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
        sid_t = None if sid is None else torch.tensor([sid])
        with torch.no_grad():
            ref = model.infer(x, lengths, sid=sid_t, noise_scale=0.0, noise_scale_w=0.0).audio.squeeze().numpy()
            back = imported.model.infer(x, lengths, sid=sid_t, noise_scale=0.0, noise_scale_w=0.0).audio.squeeze().numpy()
        ort = run_piper_session(session, ids, sid=sid)
        assert ref.shape == back.shape == ort.shape
        assert np.abs(ref - back).max() < 1e-5 and corr(ref, back) > 0.9999
        assert np.abs(ref - ort).max() < 1e-4
    return imported, session


@pytest.mark.parametrize(
    "overrides",
    [{}, {"use_sdp": False, "resblock": "1", "resblock_kernel_sizes": (3, 5), "resblock_dilation_sizes": ((1, 3, 5), (1, 3, 5))}],
    ids=["sdp-resblock2", "deterministic-dp-resblock1"],
)
def test_tiny_random_vits_roundtrip(tmp_path, overrides):
    imported, _ = _roundtrip(tmp_path, tiny_config(**overrides))
    assert not imported.config.multi_speaker
    assert imported.config.use_sdp == overrides.get("use_sdp", True)
    assert imported.config.resblock == overrides.get("resblock", "2")
    assert imported.config.resblock_dilation_sizes == tiny_config(**overrides).resblock_dilation_sizes
    assert imported.report.absent["enc_q"] > 0
    assert ("dp.post" in imported.report.absent) == imported.config.use_sdp


def test_tiny_multispeaker_roundtrip_in_piper(tmp_path):
    from piper import PiperVoice

    config = tiny_config(n_speakers=3, gin_channels=8)
    imported, session = _roundtrip(tmp_path, config, sid=2)
    assert imported.config.n_speakers == 3 and imported.config.gin_channels == 8
    assert {i.name for i in session.get_inputs()} == {"input", "input_lengths", "scales", "sid"}
    voice = PiperVoice.load(tmp_path / "tiny.onnx")
    assert voice.config.num_speakers == 3 and voice.config.speaker_id_map == {"spk0": 0, "spk1": 1, "spk2": 2}
    ids = [1, 5, 6, 7, 8, 2]
    a = run_piper_session(session, ids, sid=0)
    b = run_piper_session(session, ids, sid=2)
    assert not np.allclose(a, b)  # the speaker id reaches the graph
