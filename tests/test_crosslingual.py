"""Another language on the Piper path, as piper fine-tunes cross-lingually: a German dataset on an
English base is phonemized with espeak-ng's German voice, the run and its export carry that voice,
and piper-tts's own runtime speaks the export with it. The base's phoneme-map coverage is
reported before training (and by `dataset validate --base`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from voicetune.cli import app

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TEXTS = ["Über die Brücke gehen wir heute.", "Die Bäume im Garten sind grün.", "Ich möchte ein Stück Kuchen.",
         "Wir fahren morgen nach Hamburg.", "Das Wetter ist schön und warm.", "Können Sie mir bitte helfen?"]
CEDILLA = "\u0327"
SENTENCE = "Über die Brücke"  # ʏ, y: and the German r: en-us says it with other phonemes


def invoke(*args, code: int = 0) -> str:
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.output


@pytest.fixture(scope="module")
def german_dataset(tmp_path_factory) -> Path:
    """Debian's espeak-ng German voice reading TEXTS, as a voicetune dataset (language de, 2 eval clips)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (`apt-get install espeak-ng`; `make test` does it)")
    from voicetune.audio import resample, write_wav
    from voicetune.data.dataset import Clip, Dataset, save_dataset
    from voicetune.sample_data import synth_espeak

    root = tmp_path_factory.mktemp("german") / "de"
    clips, sr = synth_espeak(TEXTS, voice="de")
    ds = Dataset(sample_rate=22050, language="de")
    (root / "wavs").mkdir(parents=True)
    for i, (x, text) in enumerate(zip(clips, TEXTS, strict=True)):
        y = resample(x, sr, 22050)
        cid = f"de_{i:04d}"
        write_wav(root / "wavs" / f"{cid}.wav", y, 22050)
        d = round(len(y) / 22050, 3)
        ds.clips.append(Clip(id=cid, source="", start=0.0, end=d, duration=d, text=text,
                             split="eval" if i >= len(TEXTS) - 2 else "train", speaker="speaker"))
    save_dataset(ds, root)
    return root


def joe_config() -> dict:
    from voicetune.sample_data import joe_voice_path

    return json.loads(Path(f"{joe_voice_path()}.json").read_text())


def piper_phonemes(voice: str, text: str) -> list[str]:
    from piper.phonemize_espeak import EspeakPhonemizer

    return [p for s in EspeakPhonemizer().phonemize(voice, text) for p in s]


def test_espeak_voice_for_a_language():
    from voicetune.errors import VoicetuneError
    from voicetune.text.languages import espeak_voice_for, run_espeak_voice

    assert [espeak_voice_for(x) for x in ("de", "de-DE", "pt_BR", "es-MX", "no")] == ["de", "de", "pt-br", "es-419", "nb"]
    assert espeak_voice_for("tlh") is None
    assert run_espeak_voice("en-GB", "en-us") == ("en-us", None)  # the base's own language keeps its dialect
    assert run_espeak_voice("de", "en-us") == ("de", "dataset language de: phonemized with espeak-ng voice 'de' "
                                                     "(base voice en-us)")
    with pytest.raises(VoicetuneError, match="^dataset language 'tlh': espeak-ng .* has no voice"):
        run_espeak_voice("tlh", "en-us")


def test_features_are_piper_phonemes_of_the_german_voice(german_dataset, tmp_path):
    """The cached ids of a German clip are piper's own: its espeak bridge with voice 'de', its id map."""
    from piper.phoneme_ids import phonemes_to_ids
    from safetensors.torch import load_file

    from test_vits_finetune import tiny_config
    from voicetune.data.dataset import load_dataset
    from voicetune.models.vits.coverage import check_coverage
    from voicetune.models.vits.features import FeatureCache
    from voicetune.models.vits.voice import VoiceConfig

    data = tmp_path / "de"
    shutil.copytree(german_dataset, data)
    ds = load_dataset(data)
    base = VoiceConfig.from_piper_dict(joe_config())
    voice, coverage = check_coverage(ds, base)
    assert voice.espeak_voice == "de" and base.espeak_voice == "en-us"
    assert voice.language == {"code": "de", "family": "de", "name_english": "German"}
    assert not coverage.missing and coverage.report().startswith("all phonemes covered")
    features = FeatureCache(data, voice, tiny_config()).build(ds)
    assert not features.skipped
    item = next(it for it in features.train if it.text == TEXTS[0])
    expected = phonemes_to_ids(piper_phonemes("de", TEXTS[0]), joe_config()["phoneme_id_map"])
    assert item.ids.tolist() == expected
    assert piper_phonemes("de", TEXTS[0]) != piper_phonemes("en-us", TEXTS[0])
    cached = [load_file(str(p))["ids"].tolist() for p in (data / ".cache" / "vits-v1").glob("*.safetensors")]
    assert expected in cached
    # what the run writes (vits.json's voice, then the export's .onnx.json) is what piper reads back
    from piper import PiperVoice
    from piper.config import PiperConfig

    from voicetune.models.vits.export import voice_json
    from voicetune.models.vits.model import VitsModel

    written = voice_json(VitsModel(tiny_config()), voice)  # the .onnx.json export_piper writes
    assert written["espeak"] == {"voice": "de"} and written["language"]["family"] == "de"
    piper = PiperVoice(session=None, config=PiperConfig.from_dict(written))  # type: ignore[arg-type]
    assert [p for s in piper.phonemize(SENTENCE) for p in s] == piper_phonemes("de", SENTENCE)


def test_validate_reports_coverage(german_dataset):
    out = invoke("dataset", "validate", german_dataset, "--base", "joe")
    assert "dataset language de: phonemized with espeak-ng voice 'de' (base voice en-us)" in out
    assert "all phonemes covered" in out and "is valid" in out
    assert "phonemized" not in invoke("dataset", "validate", german_dataset)  # without --base: as before


def test_missing_phonemes_are_reported_with_their_clips(german_dataset, tmp_path):
    """A base whose map lacks ʏ and the combining cedilla (espeak's German ç comes NFD-decomposed,
    as c + U+0327): the report names both with the clips using them; the features leave exactly
    those clips out, each with its reason."""
    from test_vits_finetune import tiny_config
    from voicetune.data.dataset import load_dataset
    from voicetune.models.vits.coverage import check_coverage
    from voicetune.models.vits.features import FeatureCache
    from voicetune.models.vits.voice import VoiceConfig

    data = tmp_path / "de"
    shutil.copytree(german_dataset, data)
    cfg = joe_config()
    for p in ("ʏ", CEDILLA):
        del cfg["phoneme_id_map"][p]
    onnx = tmp_path / "reduced.onnx"
    onnx.write_bytes(b"")  # validate reads only the config
    Path(f"{onnx}.json").write_text(json.dumps(cfg))
    ds = load_dataset(data)
    users = {p: [c.id for c in ds.clips if p in piper_phonemes("de", c.text)] for p in ("ʏ", CEDILLA)}
    assert users["ʏ"] and users[CEDILLA]  # the texts do use both
    voice, coverage = check_coverage(ds, VoiceConfig.from_piper_dict(cfg))
    assert coverage.missing == users
    out = invoke("dataset", "validate", german_dataset, "--base", onnx)
    n = len(set(users["ʏ"]) | set(users[CEDILLA]))
    assert "2 phonemes the base voice has no id for: " in out
    assert f"ʏ U+028F ({len(users['ʏ'])} clip" in out and users["ʏ"][0] in out and f"◌{CEDILLA} U+0327" in out
    assert f"{n} of {len(TEXTS)} clips left out of training" in out
    features = FeatureCache(data, voice, tiny_config()).build(ds)
    assert sorted(s.clip_id for s in features.skipped) == coverage.left_out
    assert all(s.reason.startswith("phonemes not in the voice's map") for s in features.skipped)


def test_a_language_espeak_lacks_is_refused(german_dataset, tmp_path):
    data = tmp_path / "tlh"
    shutil.copytree(german_dataset, data)
    meta = json.loads((data / "dataset.json").read_text())
    meta["language"] = "tlh"
    (data / "dataset.json").write_text(json.dumps(meta))
    out = invoke("dataset", "validate", data, "--base", "joe", code=1)
    assert "dataset language 'tlh': espeak-ng" in out


@pytest.mark.slow  # 13-19 s on 2 shared cores (ONNX export ~5 s, bootstrap ~3 s, 2 steps ~4 s)
def test_train_export_say_in_german(german_dataset, tiny_voice, tmp_path, monkeypatch):
    """2 steps on the tiny English base, export, and piper-tts's runtime reads the .onnx.json's
    German voice: its phonemes for SENTENCE are espeak 'de''s, not 'en-us''s, and it speaks."""
    import soundfile as sf
    from piper import PiperVoice

    import voicetune.models.vits.bootstrap as bootstrap

    monkeypatch.setenv("VOICETUNE_CACHE", str(tmp_path / "cache"))
    read_with = []  # the bootstrap has the base read its own English sentences: its espeak voice
    real = bootstrap.cached_bootstrap
    monkeypatch.setattr(bootstrap, "cached_bootstrap",
                        lambda model, ph, *a, **k: read_with.append(ph.voice.espeak_voice) or real(model, ph, *a, **k))
    data = tmp_path / "de"
    shutil.copytree(german_dataset, data)
    run, voice_dir = tmp_path / "run", tmp_path / "voice"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("vits:\n  disc_periods: [2]\n  segment_size: 1024\n  samples: 1\n"
                   "  bootstrap:\n    enc_q_steps: 2\n    sdp_steps: 1\n    sentences: 4\n")
    out = invoke("train", "--dataset", data, "--base", tiny_voice, "-o", run, "--config", cfg, "--max-steps", 2,
                 "--eval-every", 2, "--batch-size", 2)
    assert "dataset language de: phonemized with espeak-ng voice 'de' (base voice en-us)" in out
    assert "all phonemes covered" in out and read_with == ["en-us"]
    info = json.loads((run / "vits.json").read_text())
    assert info["voice"]["espeak"]["voice"] == "de" and info["voice"]["language"]["family"] == "de"
    assert info["text"] == {"language": "de", "base_espeak_voice": "en-us", "espeak_voice": "de", "missing_phonemes": {}}
    invoke("export", run, "-o", voice_dir, "--no-eval", "--no-samples")
    onnx = next(voice_dir.glob("*.onnx"))
    exported = json.loads(Path(f"{onnx}.json").read_text())
    assert exported["espeak"]["voice"] == "de" and exported["language"]["code"] == "de"
    piper = PiperVoice.load(str(onnx))
    said = [p for s in piper.phonemize(SENTENCE) for p in s]
    assert said == piper_phonemes("de", SENTENCE) != piper_phonemes("en-us", SENTENCE)
    audio = np.concatenate([c.audio_float_array for c in piper.synthesize(SENTENCE)])
    assert len(audio) > 0.2 * piper.config.sample_rate and np.isfinite(audio).all()
    # `voicetune say` with the run or the export phonemizes the same way
    from voicetune.synth import load_voice

    for target in (run, onnx):
        assert [p for s in load_voice(target).phonemizer.phonemize(SENTENCE) for p in s] == said
        wav = tmp_path / f"say-{target.name}.wav"
        invoke("say", SENTENCE, "--voice", target, "-o", wav)
        assert sf.info(str(wav)).duration > 0.2
