"""`voicetune dataset import-hf`: a Hugging Face dataset saved to disk -> our dataset folder through
prepare's clip checks (duration limits and quality -> quarantine with the reason, report)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from voicetune.cli import app


@pytest.fixture(scope="module")
def hf_disk_dataset(tmp_path_factory):
    from mms_helpers import make_hf_disk_dataset

    return make_hf_disk_dataset(tmp_path_factory.mktemp("hfds") / "voice")


def test_import_hf_dataset_from_disk(hf_disk_dataset, tmp_path):
    from voicetune.data.dataset import load_dataset

    out = tmp_path / "ds"
    res = CliRunner().invoke(app, ["dataset", "import-hf", str(hf_disk_dataset), "--text-column", "sentence",
                                   "--speaker-column", "speaker_id", "--sample-rate", "16000", "-o", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "5 clips from 7 rows (2 quarantined" in " ".join(res.output.split())
    ds = load_dataset(out)
    assert ds.sample_rate == 16000 and len(ds.clips) == 5 and ds.eval and ds.train
    assert sorted({c.speaker for c in ds.clips}) == ["7", "9"]
    assert [c.text for c in sorted(ds.clips, key=lambda c: c.id)] == [
        "The quick brown fox jumps over the lazy dog.", "Hello there, how are you doing today?",
        "She sells sea shells by the sea shore.", "A rainbow appeared after the storm had passed.",
        "Please close the window before you leave."]
    reasons = sorted(q.reason for q in ds.quarantine)
    assert reasons[0] == "empty transcript" and reasons[1].startswith("too short: 0.25 s")
    assert (out / "report.md").exists() and len(list((out / "quarantine").glob("*.wav"))) == 2
    import soundfile as sf

    x, sr = sf.read(out / "wavs" / f"{ds.clips[0].id}.wav")
    assert sr == 16000 and abs(len(x) / sr - ds.clips[0].duration) < 0.01 and np.abs(x).max() > 0.05
    # the folder is now a dataset of ours: importing into it again takes --overwrite
    args = ["dataset", "import-hf", str(hf_disk_dataset), "--text-column", "sentence", "-o", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code != 0 and "already holds a voicetune dataset; pass --overwrite" in str(res.exception)
    assert sorted({c.speaker for c in load_dataset(out).clips}) == ["7", "9"]
    res = CliRunner().invoke(app, [*args, "--overwrite"], catch_exceptions=False)
    assert res.exit_code == 0 and {c.speaker for c in load_dataset(out).clips} == {"speaker"}


def test_import_hf_dataset_errors(hf_disk_dataset, tmp_path):
    from voicetune.data.hf_import import HfImportOptions, import_hf_dataset
    from voicetune.errors import VoicetuneError

    with pytest.raises(VoicetuneError, match="no column 'text'.*sentence"):
        import_hf_dataset(str(hf_disk_dataset), tmp_path / "a", HfImportOptions())
    with pytest.raises(VoicetuneError, match=r"choose a split with --split \(train\)"):
        import_hf_dataset(str(hf_disk_dataset), tmp_path / "b", HfImportOptions(text_column="sentence", split="test"))
    with pytest.raises(VoicetuneError, match="no such folder"):
        import_hf_dataset(str(tmp_path / "missing dataset"), tmp_path / "c")
