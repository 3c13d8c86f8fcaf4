"""report.html, the model card's evaluation table and the diagnosis, from a run's own files."""

from __future__ import annotations

import json

from voicetune.run_report import diagnosis, eval_table_markdown, read_events, render_html


def _events(tmp_path):
    rows = [{"event": "start", "step": 0, "time": 0.0}]
    for step in range(1, 41):
        rows.append({"event": "train", "step": step, "loss": {"loss": 50 - step / 2, "mel": 30 - step / 3},
                     "lr": {"gen": 2e-4, "disc": 2e-4}, "grad_norm": {"gen": 10.0 + step, "disc": 2.0}})
        if step % 20 == 0:
            rows.append({"event": "eval", "step": step, "loss": {"loss": 45 - step / 4}})
    rows.append({"event": "warning", "step": 30, "kind": "overfit", "message": "eval loss rose 3 times"})
    rows.append({"event": "end", "step": 40, "status": "overfit", "message": "stopped: overfitting"})
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{cut by a crash")
    return read_events(tmp_path)


def _evals():
    common = {"reference_similarity": 0.96, "reference_wer": 0.07, "dataset_median_f0": 130.0,
              "dataset_lock_share": 0.03, "frame_rate": 86.13, "clipping": 0.0}
    return {20: {"similarity": 0.81, "wer": 0.04, "median_f0": 140.0, "lock_share": 0.01, **common},
            40: {"similarity": 0.88, "wer": 0.05, "median_f0": 88.0, "lock_share": 0.45, **common}}


def test_table_marks_the_chosen_checkpoint_and_the_real_recordings(tmp_path):
    table = eval_table_markdown(_evals(), 40)
    lines = table.splitlines()
    assert lines[0].startswith("| step | similarity | WER")
    assert lines[2].startswith("| 20 | 0.810 | 4.0%") and not lines[2].endswith("★ |")
    assert lines[3].startswith("| 40 | 0.880") and lines[3].endswith("★ |")
    assert lines[4].startswith("| real recordings | 0.960 | 7.0%")
    assert "voicetune evaluate" in eval_table_markdown({}, None)


def test_diagnosis_names_buzz_pitch_and_the_monitor(tmp_path):
    events = _events(tmp_path)
    assert len(events) == 1 + 40 + 2 + 2  # the half-written last line is skipped
    found = diagnosis(events, _evals()[40])
    assert any(f.startswith("frame-rate buzz: 45%") for f in found)
    assert any(f.startswith("pitch: median F0 88 Hz vs the speaker's 130 Hz") for f in found)
    assert any("step 30: overfit" in f for f in found)
    assert any("status 'overfit'" in f for f in found)
    assert diagnosis([], _evals()[20]) == []  # a clean checkpoint of a clean run: nothing to say
    combed = {**_evals()[20], "comb_db": 5.0, "dataset_comb_db": 1.0}  # rows with the comb name it
    assert [f for f in diagnosis([], combed) if "lines at its multiples (+5.0 dB vs the recordings' +1.0 dB)" in f]


def test_html_is_self_contained(tmp_path):
    events = _events(tmp_path)
    page = render_html("v: training report", ["base voice: joe"], events, _evals(), 40, ["pitch: <low>"])
    assert page.count("<tr class='chosen'>") == 1 and "data:image/png;base64," in page
    assert "pitch: &lt;low&gt;" in page and "src='http" not in page
    empty = render_html("v", [], [], {}, None, [])
    assert "No training steps were logged" in empty and "Nothing stands out" in empty
