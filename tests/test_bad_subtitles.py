"""Subtitles that overlap, are garbled, late or orphaned: merged or quarantined with the reason,
never dropped; subtitle errors stop before any work.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from bad_inputs import cue, leftovers, refused, sha_tree, srt_time, vt
from voicetune.text.normalize import normalize_text

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="session")
def subtitled(tmp_path_factory, sentences):
    """Recordings with overlapping and garbled subtitles next to them, prepared once (no ASR)."""
    from voicetune.data.dataset import load_dataset
    from voicetune.sample_data import make_recording, synth_piper

    root = tmp_path_factory.mktemp("bad-subs")
    texts = sentences[48:54]
    clips, sr = synth_piper(texts)
    audio, tl = make_recording(clips, texts, sr, seed=9)
    three = audio[: int((tl[2].end + 0.6) * sr)]
    sf.write(root / "overlap.wav", three, sr)
    (root / "overlap.srt").write_text(  # cue 1 runs 1 s into cue 2: one clip must hold both
        cue(1, tl[0].start, tl[1].start + 1.0, tl[0].text) + "\n" + cue(2, tl[1].start, tl[1].end, tl[1].text)
        + "\n" + cue(3, tl[2].start, tl[2].end, tl[2].text))
    sf.write(root / "overlap-long.wav", audio, sr)
    (root / "overlap-long.srt").write_text(
        cue(1, tl[0].start, tl[4].end, " ".join(s.text for s in tl[:5])) + "\n"
        + cue(2, tl[2].start, tl[2].end, tl[2].text) + "\n" + cue(3, tl[5].start, tl[5].end, tl[5].text))
    sf.write(root / "garbled.wav", three * 0.8, sr)
    (root / "garbled.srt").write_text(
        cue(1, tl[0].start, tl[0].end, tl[0].text) + "\n"
        + f"2\n00:00:0x,500 --> {srt_time(tl[1].end)}\n{tl[1].text}\n\n"
        + f"3\n{srt_time(tl[2].end)} --> {srt_time(tl[2].start)}\n{tl[2].text}\n\n"
        + cue(4, 999.0, 1001.0, "Words after the end.") + "\nOrphan words without timing.\n")
    inputs = [root / n for n in ("overlap.wav", "overlap-long.wav", "garbled.wav")]
    before = sha_tree(root)
    out = tmp_path_factory.mktemp("bad-subs-out") / "ds"
    run = vt("prepare", *inputs, "-o", out, "--quiet")
    assert run.code == 0, run.err
    assert sha_tree(root) == before
    return {"root": root, "tl": tl, "ds": load_dataset(out), "out": out}


def test_overlapping_cues_become_one_clip_with_both_texts(subtitled):
    ds, tl = subtitled["ds"], subtitled["tl"]
    sha = next(s.sha256 for s in ds.sources if Path(s.path).name == "overlap.wav")
    texts = [c.text for c in sorted(ds.clips, key=lambda c: c.start) if c.source == sha]
    # the two cues' words stay together in one clip (a cut between them would fall inside cue 1)
    both = normalize_text(f"{tl[0].text} {tl[1].text}")
    assert [t for t in texts if normalize_text(tl[0].text) in t] == [t for t in texts if both in t] != []
    assert " ".join(texts) == " ".join(normalize_text(s.text) for s in tl[:3])


def test_overlap_too_long_for_a_clip_is_quarantined_with_audio(subtitled):
    ds, out = subtitled["ds"], subtitled["out"]
    qs = [q for q in ds.quarantine if q.reason.startswith("overlap-long.srt cue ")]
    assert [q.reason.split(":")[0] for q in qs] == ["overlap-long.srt cue 1", "overlap-long.srt cue 2"]
    assert all("cues 1, 2 overlap and together last" in q.reason and "fix their timings" in q.reason for q in qs)
    assert all((out / "quarantine" / f"{q.clip}.wav").is_file() for q in qs)
    sha = next(s.sha256 for s in ds.sources if Path(s.path).name == "overlap-long.wav")
    assert [c.text for c in ds.clips if c.source == sha] == [normalize_text(subtitled["tl"][5].text)]


def test_garbled_and_impossible_cues_are_quarantined_not_dropped(subtitled):
    ds, tl = subtitled["ds"], subtitled["tl"]
    srt = subtitled["root"] / "garbled.srt"
    duration = sf.info(subtitled["root"] / "garbled.wav").duration
    by_cue = {q.reason.split(":")[0]: q.reason for q in ds.quarantine if q.source == str(srt)}
    assert by_cue == {
        "garbled.srt cue 2": f"garbled.srt cue 2: garbled timing line `00:00:0x,500 --> {srt_time(tl[1].end)}`; "
                             "fix it as `00:00:01,000 --> 00:00:03,500`",
        "garbled.srt cue 3": f"garbled.srt cue 3: ends before it starts (`{srt_time(tl[2].end)} --> "
                             f"{srt_time(tl[2].start)}`); fix its timing",
        "garbled.srt cue 4": f"garbled.srt cue 4: starts at 999.00 s, after the audio ends ({duration:.2f} s); "
                             "check that the subtitle belongs to this recording",
        "garbled.srt cue 5": "garbled.srt cue 5: text without a timing line (a blank line inside a cue?)",
    }
    texts = {q.reason.split(":")[0]: q.text for q in ds.quarantine if q.source == str(srt)}
    assert texts["garbled.srt cue 2"] == tl[1].text and texts["garbled.srt cue 5"] == "Orphan words without timing."
    sha = next(s.sha256 for s in ds.sources if Path(s.path).name == "garbled.wav")
    assert [c.text for c in ds.clips if c.source == sha] == [normalize_text(tl[0].text)]


def test_subtitle_errors_stop_before_any_work(tmp_path, corpus):
    wav = corpus["files"]["speech-8k.wav"]
    before = sha_tree(corpus["root"])
    (tmp_path / "a.wav").write_bytes(wav.read_bytes())
    (tmp_path / "a.srt").write_bytes("1\n00:00:01,000 --> 00:00:02,000\ncafé crème\n".encode("cp1252"))
    refused(vt("prepare", tmp_path / "a.wav", "-o", tmp_path / "ds"), "a.srt: not UTF-8", "--srt-encoding")
    refused(vt("prepare", wav, "--srt", tmp_path / "missing.srt", "-o", tmp_path / "ds"),
            "missing.srt: subtitle file not found")
    (tmp_path / "other.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nhello\n")
    refused(vt("prepare", wav, corpus["files"]["tone.wav"], "--srt", tmp_path / "other.srt", "-o", tmp_path / "ds"),
            "other.srt: no input audio file is named other.*", "name the subtitle like its audio file")
    refused(vt("prepare", corpus["root"], "--srt", tmp_path / "other.srt", "-o", tmp_path / "ds"),
            "other.srt: no input audio file is named other.*")
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []
    assert sha_tree(corpus["root"]) == before

