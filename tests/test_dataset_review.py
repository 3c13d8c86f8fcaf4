"""Removing a clip into the quarantine and restoring one from it (voicetune.data.manage), on a real
prepared dataset: the wav is kept, moved, never deleted; the dataset stays valid; a re-run of
prepare keeps both decisions, as it keeps a deleted CSV row."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from srt_helpers import write_srt
from voicetune.audio import loudness_lufs
from voicetune.data.build import prepare
from voicetune.data.dataset import REMOVED_IN_UI, load_dataset
from voicetune.data.manage import remove_clip, restore_clip, validate
from voicetune.errors import VoicetuneError


@pytest.fixture
def recording(tmp_path, sentences):
    """Joe reading 8 sentences (subtitled: no ASR), the 4th one recorded far too hot (clipped)."""
    from voicetune.sample_data import make_recording, synth_piper

    texts = sentences[:8]
    clips, sr = synth_piper(texts)
    audio, timeline = make_recording(clips, texts, sr, seed=3)
    hot = timeline[3]
    a, b = int(hot.start * sr), int(hot.end * sr)
    audio[a:b] = np.clip(audio[a:b] * 6.0, -1.0, 1.0)
    (tmp_path / "in").mkdir()
    wav = tmp_path / "in" / "take.wav"
    sf.write(wav, audio, sr)
    write_srt(wav.with_suffix(".srt"), timeline)
    return wav, texts[3]


def _csv_rows(root) -> str:
    return (root / "metadata_train.csv").read_text() + (root / "metadata_eval.csv").read_text()


def test_remove_and_restore_survive_prepare(tmp_path, recording):
    wav, hot_text = recording
    root = tmp_path / "ds"
    prepare([wav], root, log=lambda m: None)
    ds = load_dataset(root)
    clipped = next(q for q in ds.quarantine if q.reason.startswith("clipping"))
    assert hot_text in clipped.text  # (short cues are joined into one clip)
    victim = ds.clips[0]
    original = (root / victim.audio_file).read_bytes()

    remove_clip(root, victim.id, REMOVED_IN_UI)
    ds = load_dataset(root)
    assert victim.id not in {c.id for c in ds.clips}
    entry = next(q for q in ds.quarantine if q.clip == victim.id)
    assert (entry.reason, entry.text, entry.speaker) == (REMOVED_IN_UI, victim.text, victim.speaker)
    assert not (root / victim.audio_file).exists()
    assert (root / "quarantine" / f"{victim.id}.wav").read_bytes() == original  # moved, not re-encoded
    assert victim.audio_file not in _csv_rows(root)
    assert validate(root) == [] and ds.eval
    with pytest.raises(VoicetuneError, match="not in the dataset"):
        remove_clip(root, victim.id, REMOVED_IN_UI)

    prepare([wav], root, log=lambda m: None)  # the same recording again: the removal holds
    assert victim.id not in {c.id for c in load_dataset(root).clips}

    restored = restore_clip(root, victim.id)
    assert (restored.split, restored.text, restored.speaker, restored.source) == (
        "train", victim.text, victim.speaker, victim.source)
    assert restored.duration == pytest.approx(victim.duration, abs=1e-3)
    assert (root / victim.audio_file).read_bytes() == original  # already at the target level: linked back
    assert not (root / "quarantine" / f"{victim.id}.wav").exists()
    assert f"{victim.audio_file}|{victim.text}|" in _csv_rows(root)
    assert validate(root) == []
    with pytest.raises(VoicetuneError, match="not in the quarantine"):
        restore_clip(root, victim.id)

    # the clipped clip never reached normalisation: a restore brings it to prepare's -23 LUFS
    hot_wav = root / "quarantine" / f"{clipped.clip}.wav"
    hot_level = loudness_lufs(*sf.read(hot_wav))
    assert hot_level > -20
    with pytest.raises(VoicetuneError, match="no transcript"):
        restore_clip(root, clipped.clip, text="  ")
    back = restore_clip(root, clipped.clip, text="I heard it and keep it.")
    x, sr = sf.read(root / back.audio_file)
    assert loudness_lufs(x, sr) == pytest.approx(-23.0, abs=1.0)
    assert back.loudness_lufs == pytest.approx(hot_level, abs=0.2) and back.clipping > 0.001
    assert back.source == victim.source and back.start == clipped.start
    assert not hot_wav.exists() and validate(root) == []

    prepare([wav], root, log=lambda m: None)
    meta = json.loads((root / "dataset.json").read_text())
    kept = {c["id"]: c["text"] for c in meta["clips"]}
    assert kept[victim.id] == victim.text and kept[clipped.clip] == "I heard it and keep it."
    assert not any(q["clip"] in (victim.id, clipped.clip) for q in meta["quarantine"])


def test_restore_refuses_what_it_cannot_bring_back(tmp_path, recording):
    wav, _ = recording
    root = tmp_path / "ds"
    prepare([wav], root, log=lambda m: None)
    with pytest.raises(VoicetuneError, match="not in the quarantine"):
        restore_clip(root, "nothing-0001")
    meta = json.loads((root / "dataset.json").read_text())
    meta["quarantine"].append({"clip": "gone-0001", "reason": "test: its wav was deleted by hand", "text": "Hello."})
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(VoicetuneError, match="no audio in quarantine"):
        restore_clip(root, "gone-0001")
