"""The Data tab's functions without a browser: uploads are copied in, a transcript saved in the UI is
stored like a CSV edit and survives a re-run of prepare; the sort control; Remove (to the quarantine)
and Restore, which also survive a re-run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from srt_helpers import write_srt
from voicetune.errors import VoicetuneError
from voicetune.ui import data
from voicetune.ui.workspace import Workspace


def test_transcript_edit_survives_prepare(tmp_path, sentences):
    from voicetune.sample_data import make_recording, synth_piper

    texts = sentences[:6]
    clips, sr = synth_piper(texts)
    audio, timeline = make_recording(clips, texts, sr, seed=2)
    (tmp_path / "in").mkdir()
    wav, srt = tmp_path / "in" / "take.wav", tmp_path / "in" / "take.srt"
    sf.write(wav, audio, sr)
    write_srt(srt, timeline)
    ws = Workspace.open(tmp_path / "ws")

    with pytest.raises(VoicetuneError, match="not a recording"):
        data.split_uploads(ws, [str(tmp_path / "in" / "notes.txt")])
    audio_files, subs = data.split_uploads(ws, [str(wav), str(srt)])
    assert [p.parent.name for p in audio_files + subs] == ["uploads", "uploads"]
    summary = data.run_prepare(ws, audio_files, subs, log=lambda m: None)
    assert "clips" in summary
    rows = data.clip_rows(ws)
    clip_id = rows[0][0]
    assert data.clip_audio(ws, clip_id)[0].endswith(f"dataset/wavs/{clip_id}.wav")
    with pytest.raises(VoicetuneError, match="empty"):
        data.save_transcript(ws, clip_id, "   ")
    data.save_transcript(ws, clip_id, "A  corrected\ntranscript.")

    data.run_prepare(ws, audio_files, subs, log=lambda m: None)  # the same recording again: kept, not re-cut
    meta = json.loads((ws.dataset / "dataset.json").read_text())
    assert next(c for c in meta["clips"] if c["id"] == clip_id)["text"] == "A corrected transcript."
    csvs = (ws.dataset / "metadata_train.csv").read_text() + (ws.dataset / "metadata_eval.csv").read_text()
    assert f"wavs/{clip_id}.wav|A corrected transcript.|" in csvs
    with pytest.raises(VoicetuneError, match="not a plain file name"):
        data.clip_audio(ws, "../dataset.json")

    # sort control: lowest confidence first puts unscored (subtitled) clips by id; by length, longest first
    by_length = data.clip_rows(ws, "longest first")
    assert [r[2] for r in by_length] == sorted((r[2] for r in rows), reverse=True)
    # Remove: into the quarantine (wav kept, playable), out of the CSV; Restore brings it back
    wav_bytes = (ws.dataset / "wavs" / f"{clip_id}.wav").read_bytes()
    assert "quarantine" in data.remove_clip(ws, clip_id)
    assert clip_id not in [r[0] for r in data.clip_rows(ws)]
    assert [clip_id, "removed in the UI", "A corrected transcript."] in data.quarantine_rows(ws)
    q_wav, q_text = data.quarantine_audio(ws, clip_id)
    assert q_wav.endswith(f"dataset/quarantine/{clip_id}.wav") and Path(q_wav).read_bytes() == wav_bytes
    assert q_text == "A corrected transcript."
    data.run_prepare(ws, audio_files, subs, log=lambda m: None)  # a re-run keeps it out
    assert clip_id not in [r[0] for r in data.clip_rows(ws)]
    with pytest.raises(VoicetuneError, match="not a plain file name"):
        data.restore_clip(ws, "../x", "text")
    assert "restored" in data.restore_clip(ws, clip_id, "Restored by ear.")
    assert [clip_id, "train"] == next(r[:2] for r in data.clip_rows(ws) if r[0] == clip_id)
    assert data.quarantine_rows(ws) == [] and (ws.dataset / "wavs" / f"{clip_id}.wav").read_bytes() == wav_bytes
    with pytest.raises(VoicetuneError, match="not in the quarantine"):
        data.quarantine_audio(ws, clip_id)


def test_ui_command_warns_on_open_host(tmp_path, monkeypatch):
    pytest.importorskip("gradio", reason="the UI needs gradio: pip install 'voicetune[ui]'")
    from typer.testing import CliRunner

    import voicetune.ui.app as ui_app
    from voicetune.cli import app

    calls = []
    monkeypatch.setattr(ui_app, "launch", lambda ws, host, port: calls.append((ws.root, host, port)))
    res = CliRunner().invoke(app, ["ui", "--workspace", str(tmp_path / "w"), "--host", "0.0.0.0", "--port", "7999"])
    assert res.exit_code == 0, res.output
    assert "anyone who can reach this machine" in " ".join(res.output.split())
    assert calls == [((tmp_path / "w").resolve(), "0.0.0.0", 7999)] and (tmp_path / "w" / "uploads").is_dir()
    res = CliRunner().invoke(app, ["ui", "--workspace", str(tmp_path / "w2")])
    assert res.exit_code == 0 and "anyone" not in res.output and calls[-1][1:] == ("127.0.0.1", None)


@pytest.mark.slow
def test_estimate_is_the_cli_dry_run(tmp_path, sentences, tiny_voice):
    """Estimate runs `voicetune train --dry-run` (~35 s on 2 cores): the advisor's settings with
    their reasons and the time estimate, and nothing is written."""
    import shutil

    from voicetune.sample_data import make_recording, synth_piper
    from voicetune.ui import runs

    texts = sentences[:8]
    clips, sr = synth_piper(texts)
    audio, timeline = make_recording(clips, texts, sr, seed=5)
    ws = Workspace.open(tmp_path / "ws")
    wav = tmp_path / "take.wav"
    sf.write(wav, audio, sr)
    write_srt(wav.with_suffix(".srt"), timeline)
    data.run_prepare(ws, *data.split_uploads(ws, [str(wav), str(wav.with_suffix(".srt"))]), log=lambda m: None)
    shutil.copy(tiny_voice, ws.root / "tiny.onnx")
    shutil.copy(tiny_voice.with_suffix(".onnx.json"), ws.root / "tiny.onnx.json")
    (ws.root / "cfg.yaml").write_text("vits:\n  disc_periods: [2]\n  segment_size: 4096\n")
    rows, message = runs.estimate(ws, runs.TrainSettings(base="tiny.onnx", config="cfg.yaml", max_steps=8,
                                                         batch_size=4, flags={"--bootstrap-steps": 20}))
    assert "8 steps" in message and "min on this machine" in message
    assert any(key == "run.total_steps" and why.startswith("8:") for key, _, why in rows)
    assert list(ws.runs.iterdir()) == []


def test_prepare_from_a_workspace_folder_with_progress(tmp_path, sentences):
    """A folder inside the workspace is read in place (not copied, not modified), its subtitles
    matched; prepare's progress reaches the page's bar; a folder outside or empty is refused."""
    from voicetune.sample_data import make_recording, synth_piper

    texts = sentences[:4]
    clips, sr = synth_piper(texts)
    audio, timeline = make_recording(clips, texts, sr, seed=3)
    ws = Workspace.open(tmp_path / "ws")
    rec = ws.root / "recordings"
    rec.mkdir()
    sf.write(rec / "take.wav", audio, sr)
    write_srt(rec / "take.srt", timeline)
    (rec / "notes.txt").write_text("not audio: ignored")
    before = {p.name: p.read_bytes() for p in rec.iterdir()}
    found, subs = data.folder_inputs(ws, "recordings")
    assert [p.name for p in found] == ["take.wav"] and [p.name for p in subs] == ["take.srt"]
    calls = []
    summary = data.run_prepare(ws, found, subs, log=lambda m: None,
                               progress=data.PrepareProgress(lambda frac, desc: calls.append((frac, desc))))
    assert "added 2, quarantined 0" in summary, summary  # short cues are merged into clips
    assert calls and all(0.0 <= f <= 1.0 for f, _ in calls) and max(f for f, _ in calls) == 1.0
    assert {p.name: p.read_bytes() for p in rec.iterdir()} == before and not list((ws.root / "uploads").iterdir())
    (ws.root / "empty").mkdir()
    with pytest.raises(VoicetuneError, match="no recordings"):
        data.folder_inputs(ws, "empty")
    with pytest.raises(VoicetuneError, match="outside the workspace|not allowed"):
        data.folder_inputs(ws, str(tmp_path))
