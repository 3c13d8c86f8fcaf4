"""transformers VITS (MMS) -> our VITS core: every weight by name, same audio as transformers' own
forward at noise 0, and back again; a finetune-hf-vits discriminator; clear errors for bad folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from mms_helpers import corr, hf_waveform, make_hf_folder

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
TEXT = "¿Qué tal, señor Núñez? ¡Muy bien, gracias!"


@pytest.fixture(scope="module")
def hf_base(tmp_path_factory):
    return make_hf_folder(tmp_path_factory.mktemp("mms") / "mms-tts-tiny")


@pytest.fixture(scope="module")
def hf_multi(tmp_path_factory):
    return make_hf_folder(tmp_path_factory.mktemp("mms") / "multi", num_speakers=3, speaker_embedding_size=8, seed=1)


def _ours(imp, text, sid=None):
    ids = imp.tokenizer.encode(text)
    with torch.no_grad():
        out = imp.model.infer(torch.tensor([ids]), torch.tensor([len(ids)]), noise_scale=0.0, noise_scale_w=0.0,
                              sid=None if sid is None else torch.tensor([sid]))
    return out.audio[0, 0].numpy()


def test_import_matches_transformers_forward(hf_base):
    from voicetune.models.mms.import_hf import MMS_LICENCE, import_hf

    imp = import_hf(hf_base)
    theirs, ours = hf_waveform(hf_base, TEXT), _ours(imp, TEXT)
    assert len(theirs) == len(ours)
    assert corr(theirs, ours) >= 0.999 and np.abs(theirs - ours).max() < 1e-3
    # nothing to bootstrap: the posterior encoder and the SDP's training half come with the weights
    assert not imp.report.needs_bootstrap and imp.report.loaded_tensors == len(imp.model.state_dict())
    assert imp.report.absent == {"discriminator": 0} and "starts fresh" in " ".join(imp.report.notes)
    assert imp.licence == MMS_LICENCE and imp.config.sample_rate == 8000 and imp.voice.phoneme_type == "text"


def test_multi_speaker_import_matches_per_speaker(hf_multi):
    from voicetune.models.mms.import_hf import import_hf

    imp = import_hf(hf_multi)
    assert imp.config.n_speakers == 3 and imp.config.gin_channels == 8
    waves = [_ours(imp, TEXT, sid) for sid in (0, 2)]
    for sid, ours in zip((0, 2), waves, strict=True):
        assert corr(hf_waveform(hf_multi, TEXT, speaker_id=sid), ours) >= 0.999
    assert corr(waves[0][: len(waves[1])], waves[1][: len(waves[0])]) < 0.999  # speakers differ


def test_names_round_trip_and_load_into_transformers(hf_base):
    import transformers

    from voicetune.models.mms.convert import hf_key_to_ours, ours_key_to_hf, state_to_hf
    from voicetune.models.mms.import_hf import import_hf

    imp = import_hf(hf_base)
    for key in imp.model.state_dict():
        assert hf_key_to_ours(ours_key_to_hf(key)) == key, key
    hf = transformers.VitsModel.from_pretrained(str(hf_base))
    theirs = hf.state_dict()
    mine = state_to_hf(imp.model.plain_state_dict(), hf)
    assert set(mine) == set(theirs)
    assert all(torch.allclose(mine[k].reshape(theirs[k].shape), theirs[k], atol=1e-5) for k in theirs
               if not k.endswith("original0") and not k.endswith("original1"))


def test_train_checkpoint_discriminator_is_loaded(hf_base, tmp_path):
    """A finetune-hf-vits *-train folder: discriminator.discriminators.N.{convs,final_conv} (weight-normed)."""
    from safetensors.torch import load_file, save_file

    from voicetune.models.mms.import_hf import import_hf, load_discriminator
    from voicetune.models.vits.discriminators import MultiPeriodDiscriminator
    from voicetune.models.vits.model import fold_weight_norm

    torch.manual_seed(3)
    theirs = MultiPeriodDiscriminator((2, 3, 5, 7, 11))
    folder = tmp_path / "mms-tts-tiny-train"
    shutil.copytree(hf_base, folder)
    state = load_file(str(folder / "model.safetensors"))
    for k, v in fold_weight_norm(theirs.state_dict()).items():
        state["discriminator." + k.replace(".conv_post.", ".final_conv.")] = v.contiguous()
    save_file(state, str(folder / "model.safetensors"))
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "discriminator_periods": [2, 3, 5, 7, 11]}))

    imp = import_hf(folder)
    assert "discriminator" not in imp.report.absent and imp.discriminator_periods == (2, 3, 5, 7, 11)
    disc, why = load_discriminator(imp.discriminator_state, imp.discriminator_periods, [2, 5])
    assert disc is not None and "loaded" in why
    y = torch.randn(1, 1, 2048)
    with torch.no_grad():
        ours, _, _, _ = disc(y, y)
        ref, _, _, _ = theirs(y, y)
    # ours = scale + periods 2 and 5 = their discriminators 0, 1 and 3
    for a, b in zip(ours, [ref[0], ref[1], ref[3]], strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert load_discriminator(imp.discriminator_state, imp.discriminator_periods, [2, 4])[0] is None


def test_bad_bases_give_clear_errors(hf_base, tmp_path):
    from voicetune.errors import VoicetuneError
    from voicetune.models.mms.import_hf import import_hf

    with pytest.raises(VoicetuneError, match="not found"):
        import_hf(tmp_path / "nope")
    with pytest.raises(VoicetuneError, match="hub"):
        import_hf("no-such-user-xyz/no-such-model")  # offline or unknown: the download fails clearly
    broken = tmp_path / "broken"
    shutil.copytree(hf_base, broken)
    (broken / "vocab.json").unlink()
    with pytest.raises(VoicetuneError, match=r"vocab\.json: missing"):
        import_hf(broken)
    shutil.copy(hf_base / "vocab.json", broken / "vocab.json")
    (broken / "model.safetensors").unlink()
    with pytest.raises(VoicetuneError, match="no model.safetensors"):
        import_hf(broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(VoicetuneError, match="cannot read weights"):
        import_hf(broken)
    (broken / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(VoicetuneError, match="not a transformers VITS folder"):
        import_hf(broken)


def test_say_and_evaluate_take_an_mms_folder_as_transformers_speaks_it(hf_base, tmp_path):
    """A transformers VITS folder is a voice: `voicetune say` (and so evaluate and the UI's A/B of a
    run's base) hears what transformers' own model says."""
    import soundfile as sf
    from typer.testing import CliRunner

    from voicetune.cli import app

    wav = tmp_path / "said.wav"
    res = CliRunner().invoke(app, ["say", "muy bien gracias", "--voice", str(hf_base), "--noise-scale", "0",
                                   "--noise-w", "0", "-o", str(wav)])
    assert res.exit_code == 0, res.output
    ours, sr = sf.read(wav)
    theirs = hf_waveform(hf_base, "muy bien gracias")
    assert sr == 8000 and abs(len(ours) - len(theirs)) <= 1 and corr(theirs[40:-40], ours[40:-40]) >= 0.999
