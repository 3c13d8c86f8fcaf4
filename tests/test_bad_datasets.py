"""Broken dataset folders (missing wav, comma or non-UTF-8 CSV, empty or header-less CSV, unknown
format_version, a `../` clip id): one line from every verb that reads them; the documented edit
(deleting a CSV row) stays valid.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bad_inputs import leftovers, refused, sha_tree, vt

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# --------------------------------------------------------------------------- broken datasets

def _break(d: Path, how: str) -> str:
    """Damage the dataset copy ``d``; returns the file the error must name."""
    train = d / "metadata_train.csv"
    meta = json.loads((d / "dataset.json").read_text())
    first = meta["clips"][0]["id"]
    if how == "missing-wav":
        row = train.read_text().splitlines()[1].split("|")[0]
        (d / row).unlink()
        return row
    if how == "comma-csv":
        train.write_text(train.read_text().replace("|", ","))
    elif how == "latin1-csv":
        lines = train.read_text().splitlines()
        a, _, s = lines[1].split("|")
        lines[1] = f"{a}|Café crème|{s}"
        train.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    elif how == "empty-csv":
        train.write_bytes(b"")
    elif how == "headerless-csv":
        train.write_text("\n".join(train.read_text().splitlines()[1:]) + "\n")
    elif how == "format-99":
        meta["format_version"] = 99
        (d / "dataset.json").write_text(json.dumps(meta))
        return "dataset.json"
    elif how == "dotdot-id":
        meta["clips"][0]["id"] = "../../escape"
        (d / "dataset.json").write_text(json.dumps(meta))
        for csv in (train, d / "metadata_eval.csv"):
            csv.write_text(csv.read_text().replace(f"wavs/{first}.wav", "wavs/../../escape.wav"))
        return "dataset.json"
    return "metadata_train.csv"


BROKEN = {
    "missing-wav": "file missing; restore it, or remove its row from the metadata CSV",
    "comma-csv": "uses ',' as the separator; fields are separated by '|'",
    "latin1-csv": "not UTF-8 (byte 0xe9); re-save the file as UTF-8",
    "empty-csv": "is empty; the file is damaged: restore it, or write the header line",
    "headerless-csv": "line 1 is not the header `audio_file|text|speaker_name`",
    "format-99": "format_version 99 is not supported by this voicetune (reads 1); it was written by a newer "
                 "voicetune: upgrade voicetune",
    "dotdot-id": "malformed at clips.0.id: Value error, clip id '../../escape' is not a plain file name",
}


@pytest.fixture(scope="session")
def broken(tmp_path_factory, joe_dataset):
    root = tmp_path_factory.mktemp("broken")
    out = {}
    for how in BROKEN:
        d = root / how
        shutil.copytree(joe_dataset, d)
        out[how] = (d, _break(d, how))
    return out


@pytest.mark.parametrize("how", list(BROKEN))
def test_broken_dataset(broken, how, tmp_path, corpus):
    d, named = broken[how]
    before = sha_tree(d)
    check = vt("dataset", "validate", d)  # the problems are its answer: stdout, one line each
    assert check.code == 1 and "Traceback" not in check.err, check.err
    assert any(named in ln and BROKEN[how] in ln for ln in check.out.splitlines()), check.out
    refused(vt("train", "-d", d, "--base", "joe", "-o", tmp_path / "run", "--max-steps", 1, "-q"), named, BROKEN[how])
    assert not (tmp_path / "run").exists()
    if how != "missing-wav":  # those two read every file: the damaged one stops them at once
        refused(vt("dataset", "report", d), named, BROKEN[how])
        refused(vt("prepare", corpus["files"]["tone.wav"], "-o", d, "-q"), named, BROKEN[how])
    refused(vt("dataset", "split", d), named) if how != "missing-wav" else None
    assert sha_tree(d) == before and leftovers(d.parent) == []


def test_deleting_a_csv_row_is_a_valid_edit(tmp_path, joe_dataset):
    """The README's way to drop a clip: validate stays clean and the report points at the real wav."""
    from voicetune.data.dataset import load_dataset

    d = tmp_path / "ds"
    shutil.copytree(joe_dataset, d)
    csv = d / "metadata_train.csv"
    lines = csv.read_text().splitlines()
    dropped = lines.pop(1).split("|")[0]
    csv.write_text("\n".join(lines) + "\n")
    check = vt("dataset", "validate", d)
    assert check.code == 0, check.err
    assert vt("dataset", "report", d).code == 0
    report = (d / "report.md").read_text()
    assert f"`{dropped}` | removed from the metadata CSV by the user" in report
    assert vt("dataset", "split", d, "--seed", 5).code == 0  # rewritten as one unit: the wav moves along
    clip = Path(dropped).stem
    assert not (d / dropped).exists() and (d / "quarantine" / f"{clip}.wav").is_file()
    assert f"`quarantine/{clip}.wav` | removed from the metadata CSV by the user" in (d / "report.md").read_text()
    assert clip not in {c.id for c in load_dataset(d).clips} and vt("dataset", "validate", d).code == 0

