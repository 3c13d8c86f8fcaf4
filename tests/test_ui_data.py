"""The Data tab's functions without a browser: uploads are copied in, a transcript saved in the UI is
stored like a CSV edit and survives a re-run of prepare."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from voicetune.errors import VoicetuneError
from voicetune.ui import data
from voicetune.ui.workspace import Workspace


def _srt(timeline) -> str:
    def ts(t: float) -> str:
        ms = round(t * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "\n".join(f"{i}\n{ts(s.start)} --> {ts(s.end)}\n{s.text}\n" for i, s in enumerate(timeline, 1))


def test_transcript_edit_survives_prepare(tmp_path, sentences):
    from voicetune.sample_data import make_recording, synth_piper

    texts = sentences[:6]
    clips, sr = synth_piper(texts)
    audio, timeline = make_recording(clips, texts, sr, seed=2)
    (tmp_path / "in").mkdir()
    wav, srt = tmp_path / "in" / "take.wav", tmp_path / "in" / "take.srt"
    sf.write(wav, audio, sr)
    srt.write_text(_srt(timeline), encoding="utf-8")
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
