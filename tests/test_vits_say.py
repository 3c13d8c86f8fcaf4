"""`voicetune say` and the Python API: real wavs from the Joe voice through our own VITS."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from vits_helpers import corr, joe_exported, joe_imported, joe_paths, piper_joe  # noqa: F401
from voicetune.cli import app
from voicetune.models.vits.errors import VoiceError
from voicetune.synth import load_voice, say, say_lines


@pytest.fixture(scope="module")
def joe():
    return load_voice("joe")


def test_cli_say_writes_a_real_wav(tmp_path):
    out = tmp_path / "hello.wav"
    result = CliRunner().invoke(app, ["say", "Hello there. This is a test of the say command.", "-v", "joe", "-o", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    audio, sr = sf.read(out, dtype="float32")
    assert sr == 22050 and audio.ndim == 1
    assert 2.0 < len(audio) / sr < 8.0
    rms = float(np.sqrt(np.mean(audio**2)))
    assert rms > 0.03 and np.abs(audio).max() <= 1.0


def test_cli_lines_to_numbered_wavs(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("First line.\n\n# a comment\nSecond line, a little longer.\n", encoding="utf-8")
    out_dir = tmp_path / "out"
    result = CliRunner().invoke(app, ["say", "-v", "joe", "--lines", str(lines), "-o", str(out_dir), "--noise-scale", "0", "--threads", "2"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == ["0001.wav", "0002.wav", "voicetune-lines.json"]  # the marker: a later --overwrite may replace it
    d1 = sf.info(out_dir / "0001.wav").duration
    d2 = sf.info(out_dir / "0002.wav").duration
    assert d2 > d1 > 0.4


def test_cli_errors_are_voicetune_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["say", "hi", "-v", str(tmp_path / "missing.onnx")])
    assert isinstance(r.exception, VoiceError) and "voice not found" in str(r.exception)
    r = runner.invoke(app, ["say", "-v", "joe"])
    assert isinstance(r.exception, VoiceError) and "nothing to say" in str(r.exception)


def test_say_matches_piper_at_zero_noise(joe, piper_joe):  # noqa: F811
    from piper import SynthesisConfig

    text = "The quick brown fox jumps over the lazy dog."
    ours, sr = say(text, joe, noise_scale=0.0, noise_w=0.0)
    ref = np.concatenate([c.audio_float_array for c in piper_joe.synthesize(text, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))])
    assert sr == 22050 and ours.shape == ref.shape
    assert corr(ours, ref) >= 0.999


def test_seed_repeats_and_noise_varies(joe):
    a, _ = say("Same words again.", joe, seed=11)
    b, _ = say("Same words again.", joe, seed=11)
    c, _ = say("Same words again.", joe, seed=12)
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.allclose(a, c)


def test_long_text_joins_without_clicks(joe):
    parts = ["This is the first sentence.", "Here comes a second one.", "And a third to finish."]
    audio, sr = say(" ".join(parts), joe, noise_scale=0.0, noise_w=0.0, sentence_silence=0.25)
    silent = np.abs(audio) < 1e-6
    # runs of exact silence of >= 0.2 s: the two joins
    runs, run = [], 0
    for s in silent:
        run = run + 1 if s else 0
        if run == int(0.2 * sr):
            runs.append(run)
    assert len(runs) == 2
    # at the joins the signal fades to zero: no step larger than the speech itself makes
    steps = np.abs(np.diff(audio))
    edges = np.flatnonzero(np.diff(silent.astype(int)) != 0)
    assert steps[edges].max() < 0.05


def test_voice_folder_and_onnx_backend(joe_exported, joe):  # noqa: F811
    folder = joe_exported[0].parent
    text = "Export round trip."
    ref, _ = say(text, joe, noise_scale=0.0, noise_w=0.0)
    via_folder, sr = say(text, folder, noise_scale=0.0, noise_w=0.0)
    via_onnx, _ = say(text, load_voice(joe_exported[0], backend="onnx"), noise_scale=0.0, noise_w=0.0)
    assert sr == 22050
    assert corr(ref, via_folder) >= 0.999 and corr(ref, via_onnx) >= 0.999


def test_say_lines_api_and_checkpoint_voice(tmp_path, joe_imported):  # noqa: F811
    from voicetune.models.vits.checkpoint import save_vits_checkpoint

    ckpt = save_vits_checkpoint(joe_imported.model, joe_imported.voice, tmp_path / "ckpt")
    lines = tmp_path / "l.txt"
    lines.write_text("One.\nTwo.\n", encoding="utf-8")
    written = say_lines(lines, ckpt, tmp_path / "wavs", noise_scale=0.0, noise_w=0.0)
    assert [p.name for p in written] == ["0001.wav", "0002.wav"]
    assert sf.info(written[0]).samplerate == 22050
    with pytest.raises(VoiceError, match="no lines"):
        (tmp_path / "empty.txt").write_text("# only a comment\n")
        say_lines(tmp_path / "empty.txt", ckpt, tmp_path / "w2")


def test_multispeaker_voice_speakers(tmp_path):
    import torch

    from vits_helpers import tiny_config, tiny_voice_config
    from voicetune.models.vits.export import export_piper
    from voicetune.models.vits.model import VitsModel

    torch.manual_seed(0)
    config = tiny_config(n_speakers=3, gin_channels=8)
    model = VitsModel(config).eval()
    export_piper(model, tiny_voice_config(config), tmp_path / "multi.onnx")
    voice = load_voice(tmp_path)  # a voice folder
    a, sr = say("a bead", voice, speaker="spk0", noise_scale=0.0, noise_w=0.0)
    b, _ = say("a bead", voice, speaker=2, noise_scale=0.0, noise_w=0.0)
    assert sr == 8000 and a.size > 0
    assert a.shape != b.shape or not np.allclose(a, b)
    with pytest.raises(VoiceError, match="unknown speaker"):
        say("a bead", voice, speaker="nobody")
    with pytest.raises(VoiceError, match="out of range"):
        say("a bead", voice, speaker=7)


def test_speaks_from_a_finetuning_run_checkpoint(tmp_path, joe_imported):  # noqa: F811
    """A run folder as the trainer writes it (RUN/vits.json + checkpoints/step-N/model.safetensors)."""
    from voicetune.models.vits.model import VitsModel
    from voicetune.models.vits.run import RUN_FORMAT, write_run_info
    from voicetune.trainer.checkpoints import save_weights

    run = tmp_path / "run"
    step = run / "checkpoints" / "step-000010"
    step.mkdir(parents=True)
    gen = VitsModel(joe_imported.config)
    gen.load_state_dict(joe_imported.model.state_dict())
    gen.apply_weight_norm()  # runs train (and save) under weight norm
    save_weights({"gen": gen}, step / "model.safetensors")
    (step / "trainer.json").write_text('{"format_version": 1, "step": 10}')
    write_run_info(
        run,
        {"format_version": RUN_FORMAT, "model_config": joe_imported.config.to_dict(), "voice": joe_imported.voice.to_piper_dict()},
    )
    ref, _ = say("From a run.", "joe", noise_scale=0.0, noise_w=0.0)
    for target in (run, step):
        audio, sr = say("From a run.", target, noise_scale=0.0, noise_w=0.0)
        assert sr == 22050 and corr(audio, ref) >= 0.999
