"""`voicetune export RUN --format piper-ckpt` read by piper1-gpl's own trainer (the `piper-train` extra):
Lightning's strict load, its generator against our ONNX export of the same run, and a training step."""

from __future__ import annotations

import inspect
import json
import sys

import numpy as np
import onnxruntime
import pytest
import torch
from typer.testing import CliRunner

from test_vits_finetune import tiny_config
from vits_helpers import corr, run_piper_session
from voicetune.cli import app

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning",
                                        "ignore::DeprecationWarning")
lightning_module = pytest.importorskip("piper.train.vits.lightning")


def invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def piper_run(tmp_path_factory, joe_dataset):
    """A 2-step run on a tiny random voice whose flow, posterior encoder and duration predictor have
    piper's fixed sizes (SynthesizerTrn hard-codes them), exported as an ONNX-only base."""
    from voicetune.models.vits.export import export_piper
    from voicetune.models.vits.model import VitsModel
    from voicetune.models.vits.voice import VoiceConfig
    from voicetune.sample_data import joe_voice_path

    root = tmp_path_factory.mktemp("piper-ckpt")
    torch.manual_seed(1)
    voice_json = joe_voice_path().with_suffix(".onnx.json")
    voice = VoiceConfig.from_piper_dict(json.loads(voice_json.read_text()), source=str(voice_json))
    config = tiny_config().with_(flow_n_layers=4, posterior_n_layers=16)
    base, _ = export_piper(VitsModel(config).eval(), voice, root / "base" / "tiny.onnx")
    cfg = root / "cfg.yaml"
    cfg.write_text("vits:\n  segment_size: 4096\n  samples: 1\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOICETUNE_CACHE", str(root / "cache"))
        invoke("train", "--dataset", joe_dataset, "--base", base, "-o", root / "run", "--config", cfg,
               "--max-steps", 2, "--batch-size", 2, "--bootstrap-steps", 10, "--quiet")
    return root / "run"


@pytest.fixture(scope="module")
def exported(piper_run):
    ckpt_voice, onnx_voice = piper_run.parent / "ckpt-voice", piper_run.parent / "onnx-voice"
    out = invoke("export", piper_run, "-o", ckpt_voice, "--format", "piper-ckpt", "--name", "tiny", "--no-eval")
    invoke("export", piper_run, "-o", onnx_voice, "--name", "tiny", "--no-eval", "--no-samples")
    return ckpt_voice, onnx_voice / "tiny.onnx", out


@pytest.fixture(scope="module")
def piper_model(exported):
    """piper's VitsModel.load_from_checkpoint (strict: Lightning's default for a LightningModule)."""
    return lightning_module.VitsModel.load_from_checkpoint(exported[0] / "tiny.ckpt", map_location="cpu", strict=True)


def test_voice_folder_and_strict_load(exported, piper_model, piper_run):
    from safetensors.torch import load_file

    from voicetune.models.vits.export_ckpt import PIPER_TRAINING
    from voicetune.models.vits.import_checkpoint import import_piper_checkpoint

    folder, _, out = exported
    assert sorted(p.name for p in folder.iterdir()) == ["MODEL_CARD.md", "config.json", "phonemes.json",
                                                        "report.html", "samples", "tiny.ckpt", "voicetune-voice.json"]
    assert len(list((folder / "samples").rglob("*.wav"))) == 6
    assert json.loads((folder / "voicetune-voice.json").read_text())["format"] == "piper-ckpt"
    card = (folder / "MODEL_CARD.md").read_text()
    assert "python -m piper.train fit --ckpt_path tiny.ckpt" in card and "periods 7, 11 are piper's fresh ones" in card
    assert "## Evaluation" in card and "periods 2, 3, 5 carried" in out

    ckpt = torch.load(folder / "tiny.ckpt", map_location="cpu", weights_only=True)  # as LightningCLI reads it
    # strict load above: every key of piper's model_g/model_d present, none extra
    assert set(ckpt["state_dict"]) == set(piper_model.state_dict())
    assert ckpt["global_step"] == 2 and isinstance(ckpt["pytorch-lightning_version"], str)
    h = piper_model.hparams
    assert (h.hidden_channels, h.inter_channels, h.filter_channels, h.num_symbols) == (32, 16, 64, 256)
    assert list(h.upsample_rates) == [8, 8, 4] and list(h.resblock_kernel_sizes) == [3] and h.segment_size == 4096
    # the training hyper-parameters written are piper's own defaults
    defaults = inspect.signature(lightning_module.VitsModel.__init__).parameters
    assert {k: defaults[k].default for k in PIPER_TRAINING} == PIPER_TRAINING

    # the generator's weight-norm g and v are the run's, renamed; the discriminators the run trained
    # (scale, 2, 3, 5) sit at piper's indices of those periods, 7 and 11 are piper's fresh ones
    run_state = load_file(str(piper_run / "checkpoints" / "step-000002" / "model.safetensors"))
    wn = ".parametrizations.weight.original"
    g = piper_model.model_g.dec.ups[0]
    assert torch.equal(g.weight_g, run_state[f"gen.dec.ups.0{wn}0"])
    assert torch.equal(g.weight_v, run_state[f"gen.dec.ups.0{wn}1"])
    d = piper_model.model_d.discriminators
    assert [getattr(x, "period", None) for x in d] == [None, 2, 3, 5, 7, 11]
    for ours, piper in ((0, 0), (1, 1), (3, 3)):
        assert torch.equal(d[piper].conv_post.weight_v, run_state[f"disc.discriminators.{ours}.conv_post{wn}1"])
    assert not any(k.startswith("disc.discriminators.4.") for k in run_state)

    # and voicetune's own importer reads it back (its config.json beside it)
    back = import_piper_checkpoint(folder / "tiny.ckpt")
    assert back.discriminator_state is not None and back.voice.phoneme_id_map == json.loads(
        (folder / "phonemes.json").read_text())


def test_piper_generator_speaks_like_our_onnx(exported, piper_model):
    from voicetune.models.vits.voice import VoiceConfig
    from voicetune.text.phonemize import Phonemizer

    folder, onnx, _ = exported
    voice = VoiceConfig.load(folder / "config.json")
    ids = Phonemizer(voice).text_to_ids("The museum opens early during the summer festival.")[0]
    g = piper_model.model_g.eval()
    with torch.no_grad():
        ours = g.infer(torch.tensor([ids]), torch.tensor([len(ids)]), noise_scale=0.0, length_scale=1.0,
                       noise_scale_w=0.0)[0].squeeze().numpy()
    session = onnxruntime.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    theirs = run_piper_session(session, ids, scales=(0.0, 1.0, 0.0))
    # the same ceil'ed durations in both: the lengths agree to the sample (measured: correlation
    # 1.000000, largest difference 7.5e-8 of a 0.117 peak)
    assert len(ours) == len(theirs) > 256
    assert corr(ours, theirs) >= 0.999 and np.abs(ours - theirs).max() < 1e-4


def piper_data(dataset, tmp_path):
    data = tmp_path / "piper-data"
    invoke("dataset", "export", dataset, "--format", "piper", "-o", data)
    return data


MAS_STAND_IN = """
import sys, types
from voicetune.models.vits.mas import _maximum_path_batch_serial
name = "piper.train.vits.monotonic_align.monotonic_align"
package, core = types.ModuleType(name), types.ModuleType(name + ".core")
package.__path__, package.core, core.maximum_path_c = [], core, _maximum_path_batch_serial
sys.modules[name], sys.modules[name + ".core"] = package, core
"""


@pytest.fixture
def piper_mas():
    """piper's monotonic_align imports a compiled Cython core (.monotonic_align.core.maximum_path_c)
    the wheel does not ship. MAS_STAND_IN provides it from voicetune's numba MAS, which has the
    Cython function's signature (path, values, t_ys, t_xs; filled in place) and tie-breaking
    (models/vits/mas.py), by putting the two modules into sys.modules; removed afterwards."""
    exec(MAS_STAND_IN, {})
    yield
    name = "piper.train.vits.monotonic_align"
    for key in (f"{name}.monotonic_align.core", f"{name}.monotonic_align", name):  # `name` holds the stand-in
        sys.modules.pop(key, None)


def test_piper_trainer_continues(exported, piper_run, piper_mas, tmp_path):
    """piper's VitsDataModule on `voicetune dataset export --format piper`, and Lightning's
    Trainer.fit(ckpt_path=...) restoring weights, optimizers and schedulers for one step."""
    import lightning
    from piper.train.vits.dataset import VitsDataModule

    folder = exported[0]
    info = json.loads((piper_run / "vits.json").read_text())
    data = piper_data(info["dataset"], tmp_path)
    h = torch.load(folder / "tiny.ckpt", map_location="cpu", weights_only=True)["hyper_parameters"]
    dm = VitsDataModule(csv_path=data / "metadata.csv", audio_dir=data / "wavs", cache_dir=tmp_path / "cache",
                        espeak_voice="en-us", config_path=tmp_path / "config.json", voice_name="tiny",
                        phonemes_path=folder / "phonemes.json", sample_rate=h["sample_rate"],
                        batch_size=2, segment_size=h["segment_size"], filter_length=h["filter_length"],
                        hop_length=h["hop_length"], win_length=h["win_length"], num_symbols=h["num_symbols"],
                        trim_silence=False, num_test_examples=0, num_workers=0)
    model = lightning_module.VitsModel(**{**h, "mos_metric": None})
    trainer = lightning.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                                limit_val_batches=0, num_sanity_val_steps=0, enable_progress_bar=False,
                                enable_model_summary=False)
    before = torch.load(folder / "tiny.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    trainer.fit(model, datamodule=dm, ckpt_path=folder / "tiny.ckpt")
    losses = {k: float(trainer.callback_metrics[k]) for k in ("loss_g", "loss_d")}
    assert all(np.isfinite(v) for v in losses.values()), losses
    after = model.state_dict()
    assert set(after) == set(before)
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith("model_g.dec.") for k in moved) and any(k.startswith("model_d.") for k in moved)
    # the restored AdamW took one step from its start (fresh moments, step 1)
    state = trainer.optimizers[0].state_dict()["state"]
    assert state and all(float(s["step"]) == 1 for s in state.values())


@pytest.mark.slow
def test_piper_cli_fit_ckpt_path(exported, piper_run, tmp_path):
    """The command the card prints: `python -m piper.train fit --ckpt_path`, no --model flags (LightningCLI
    reads the architecture from the checkpoint's hyper_parameters). ~25 s, mostly importing lightning.
    The MAS stand-in of piper_mas is installed in the child process before piper.train runs."""
    import os
    import subprocess

    folder = exported[0]
    data = piper_data(json.loads((piper_run / "vits.json").read_text())["dataset"], tmp_path)
    out = tmp_path / "piper-out"
    args = ["fit", "--ckpt_path", folder / "tiny.ckpt", "--data.voice_name", "tiny", "--data.csv_path",
            data / "metadata.csv", "--data.audio_dir", data / "wavs", "--data.cache_dir", tmp_path / "cache",
            "--data.config_path", out / "config.json", "--data.espeak_voice", "en-us", "--data.phonemes_path",
            folder / "phonemes.json", "--data.batch_size", 2, "--data.trim_silence", "false",
            "--trainer.max_steps", 1, "--trainer.accelerator", "cpu", "--trainer.limit_val_batches", 0,
            "--trainer.num_sanity_val_steps", 0, "--trainer.default_root_dir", out]
    code = MAS_STAND_IN + "import runpy; sys.argv = ['piper.train'] + sys.argv[1:]; " \
        "runpy.run_module('piper.train', run_name='__main__')"
    res = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Restored all states from the checkpoint" in res.stderr + res.stdout
    last = torch.load(next(out.rglob("last.ckpt")), map_location="cpu", weights_only=True)
    before = torch.load(folder / "tiny.ckpt", map_location="cpu", weights_only=True)
    assert last["hyper_parameters"]["hidden_channels"] == 32 and set(last["state_dict"]) == set(before["state_dict"])
    assert not torch.equal(last["state_dict"]["model_g.dec.conv_post.weight"],
                           before["state_dict"]["model_g.dec.conv_post.weight"])


def test_architecture_piper_cannot_build_is_refused(tmp_path):
    from voicetune.errors import VoicetuneError
    from voicetune.models.vits.export_ckpt import check_architecture

    with pytest.raises(VoicetuneError, match=r"flow_n_layers 2 \(piper: 4\).*--format piper\)"):
        check_architecture(tiny_config(), tmp_path / "step-000002")
