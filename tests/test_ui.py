"""`voicetune ui` end to end in a real Chromium (Debian's, driven by Playwright): upload a recording
with subtitles -> prepare -> edit a transcript, sort, remove a clip and restore it from the quarantine
-> train a tiny base with live loss/LR/gradient plots -> Stop (a checkpoint), the monitor's
events and the diagnosis -> a sample plays, the checkpoint's row -> speak a sentence, an A/B -> Export -> the downloaded zip is a voice that
`voicetune say` speaks. On failure a screenshot is saved next to the test's temp files (its path is
in the failure message). VOICETUNE_UI_SCREENSHOT=docs/ui.png saves the Train tab on success."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
import soundfile as sf

from srt_helpers import write_srt
from xtts_helpers import tiny_base  # noqa: F401 - fixture

pytest.importorskip("gradio", reason="the UI needs gradio: pip install 'voicetune[ui]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (the dev extra)")
if shutil.which("chromium") is None:
    pytest.skip("browser tests need Debian's chromium (apt-get install chromium; `make setup` does it as root)",
                allow_module_level=True)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
# a tiny run that logs every step and speaks one sample per eval (as tests/test_train_cli.py)
CONFIG = ("vits:\n  disc_periods: [2]\n  prior_warmup_steps: 2\n  segment_size: 4096\n  samples: 1\n"
          "log_every: 1\nepochs: 1000\n")  # epochs: the run goes on until Stop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def recording(tmp_path, sentences):
    """~25 s of Joe reading 8 sentences, with a matching .srt (no ASR: the test stays fast)."""
    from voicetune.sample_data import make_recording, synth_piper

    texts = sentences[:8]
    clips, sr = synth_piper(texts)
    audio, timeline = make_recording(clips, texts, sr, seed=5)
    wav = tmp_path / "in" / "reading.wav"
    wav.parent.mkdir()
    sf.write(wav, audio, sr)
    srt = wav.with_suffix(".srt")
    write_srt(srt, timeline)
    return wav, srt


@pytest.fixture
def server(tmp_path, tiny_base):  # noqa: F811 - the tiny XTTS base: the Train tab shows its own options
    ws = tmp_path / "ws"
    (ws / "bases").mkdir(parents=True)
    shutil.copytree(tiny_base, ws / "bases" / "xtts-tiny")
    (ws / "cfg.yaml").write_text(CONFIG)
    port = _free_port()
    env = {**os.environ, "VOICETUNE_CACHE": str(tmp_path / "cache"), "GRADIO_ANALYTICS_ENABLED": "False",
           "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "ui.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "voicetune", "ui", "--workspace", str(ws), "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"voicetune ui exited: {(tmp_path / 'ui.log').read_text()}")
                time.sleep(0.5)
        yield url, ws
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        # a trainer outlives the page by design (its own session); a failed test must not leave one
        lock = ws / ".voicetune-ui" / "active-run.json"
        if lock.exists():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(json.loads(lock.read_text())["pid"]), signal.SIGKILL)


def _number(page, elem_id: str, value) -> None:
    page.locator(f"#{elem_id} input").fill(str(value))


def _text(page, elem_id: str, value: str) -> None:
    page.locator(f"#{elem_id} textarea").fill(value)


def _choose(page, elem_id: str, value: str) -> None:
    """Pick ``value`` in a Gradio dropdown (type it, then take the matching option)."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(value)
    page.get_by_role("option", name=value).first.click()


def _wait_text(page, elem_id: str, needle: str, timeout: float = 60, fail_on_error: bool = True) -> str:
    loc = page.locator(f"#{elem_id}")
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = loc.inner_text()
        if needle in text:
            return text
        if fail_on_error and "error" in text:
            raise AssertionError(f"#{elem_id}: {text}")
        time.sleep(0.3)
    raise AssertionError(f"#{elem_id} never showed {needle!r}; it shows {loc.inner_text()!r}")


def _audio_duration(page, elem_id: str, timeout: float = 30) -> float:
    """The duration the browser decoded for a player's audio (0 until it loaded). Gradio's
    waveform player keeps its <audio> in a shadow root, so the walk goes into those."""
    script = f"""() => {{ let best = 0;
        const walk = (root) => root.querySelectorAll('*').forEach(e => {{
            if (e.tagName === 'AUDIO' && isFinite(e.duration)) best = Math.max(best, e.duration);
            if (e.shadowRoot) walk(e.shadowRoot); }});
        const w = document.querySelector('#{elem_id}'); if (w) walk(w); return best; }}"""
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = page.evaluate(script)
        if d > 0:
            return d
        time.sleep(0.3)
    return 0.0


def test_ui_journey(server, recording, tmp_path, tiny_voice):
    url, ws = server
    wav, srt = recording
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(accept_downloads=True, viewport={"width": 1280, "height": 1100})
        try:
            _journey(page, url, ws, wav, srt, tmp_path, tiny_voice)
        except BaseException:
            shot = tmp_path / "ui-failure.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}\nserver log:\n{(tmp_path / 'ui.log').read_text()[-3000:]}")
            raise
        finally:
            browser.close()


def _journey(page, url: str, ws: Path, wav: Path, srt: Path, tmp_path: Path, tiny_voice: Path) -> None:
    t0 = time.time()

    def phase(name: str) -> None:
        print(f"{time.time() - t0:6.1f} s  {name}")

    page.goto(url)
    # --- Data: upload, prepare, edit one transcript
    page.locator("#upload input[type=file]").set_input_files([str(wav), str(srt)])
    # the sizes show once both files reached the server
    page.wait_for_function("() => (document.querySelector('#upload').innerText.match(/\\d\\s?[KM]?B/g) || []).length >= 2")
    page.locator("#prepare").click()
    summary = _wait_text(page, "data-status", "dataset:", timeout=120)
    assert "added" in summary
    assert (ws / "uploads" / "reading.wav").is_file()  # uploads are copied into the workspace
    page.locator("#clips [data-testid=cell-0-0]").click()
    page.wait_for_function("() => document.querySelector('#transcript textarea').value.length > 0")
    clip_id = page.locator("#clip-id textarea").input_value()
    assert _audio_duration(page, "clip-audio") > 0.5
    _text(page, "transcript", "This transcript was corrected by ear.")
    page.locator("#save-transcript").click()
    _wait_text(page, "clip-status", "saved")
    csvs = (ws / "dataset" / "metadata_train.csv").read_text() + (ws / "dataset" / "metadata_eval.csv").read_text()
    assert f"wavs/{clip_id}.wav|This transcript was corrected by ear." in csvs
    # the sort control reorders the table
    ids = sorted(p.stem for p in (ws / "dataset" / "wavs").glob("*.wav"))
    page.locator("#clip-sort").get_by_text("clip id", exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#clips [data-testid=cell-0-0]').innerText.trim() == '{ids[0]}'")
    # Remove: the clip shows in the quarantine, plays there, and Restore brings it back
    page.locator("#remove-clip").click()
    _wait_text(page, "clip-status", "moved")
    assert (ws / "dataset" / "quarantine" / f"{clip_id}.wav").is_file()
    _wait_text(page, "quarantine", clip_id)
    assert "removed in the UI" in page.locator("#quarantine").inner_text()
    page.locator("#quarantine [data-testid=cell-0-0]").click()
    assert _audio_duration(page, "q-audio") > 0.5
    assert page.locator("#q-transcript textarea").input_value() == "This transcript was corrected by ear."
    page.locator("#restore-clip").click()
    _wait_text(page, "q-status", "restored")
    assert (ws / "dataset" / "wavs" / f"{clip_id}.wav").is_file()

    phase("data done")
    # --- Train: the tiny base, a live plot, Stop
    page.get_by_role("tab", name="Train").click()
    # the XTTS base in bases/ is offered; choosing it shows XTTS's options and hides Piper's
    _choose(page, "base", "bases/xtts-tiny")
    _wait_text(page, "base-info", "xtts backend")
    assert page.locator("#opt-preset").is_visible() and not page.locator("#opt-freeze").is_visible()
    # upload a Piper base (the tiny voice and its .onnx.json): it lands in bases/ and is chosen
    page.get_by_text("Upload a base").click()
    page.locator("#base-upload input[type=file]").set_input_files([str(tiny_voice),
                                                                   str(tiny_voice.with_suffix(".onnx.json"))])
    page.wait_for_function("() => (document.querySelector('#base-upload').innerText.match(/\\d\\s?[KM]?B/g) || []).length >= 2")
    page.locator("#add-base").click()
    _wait_text(page, "base-status", "added bases/tiny/tiny.onnx")
    _wait_text(page, "base-info", "vits backend: a Piper ONNX voice")
    assert page.locator("#base input").input_value() == "bases/tiny/tiny.onnx · vits"  # the label shows
    assert (ws / "bases" / "tiny" / "tiny.onnx").read_bytes() == tiny_voice.read_bytes()
    page.wait_for_function("() => document.querySelector('#opt-freeze') && document.querySelector('#opt-freeze').offsetParent !== null")
    assert not page.locator("#opt-preset").is_visible()
    _text(page, "config", "cfg.yaml")
    _number(page, "max-steps", 400)
    _number(page, "eval-every", 2)
    _number(page, "batch-size", 4)
    _number(page, "opt-bootstrap-steps", 20)
    # Estimate (a real `voicetune train --dry-run`, ~35 s) is tested without the browser:
    # tests/test_ui_data.py::test_estimate_is_the_cli_dry_run (slow)
    page.locator("#start").click()
    _wait_text(page, "train-status", "running", timeout=30)
    page.locator("#start").click()  # a second Start while one runs: refused, naming the run
    message = page.locator("#train-message")
    deadline = time.time() + 10
    while "is training" not in message.inner_text() and time.time() < deadline:
        time.sleep(0.2)
    assert "is training" in message.inner_text()
    status = page.locator("#train-status")
    # the run folder appears once the trainer has built it; the lock names it from the start
    run = ws / "runs" / json.loads((ws / ".voicetune-ui" / "active-run.json").read_text())["run"]
    counts = []
    deadline = time.time() + 150
    while time.time() < deadline:
        text = status.inner_text()
        if " points" in text:
            counts.append(int(text.split(" points")[0].split()[-1]))
        if counts and counts[-1] >= 4 and (run / "checkpoints").is_dir() and any((run / "checkpoints").iterdir()) and any((run / "samples").glob("*/*.wav")):
            break
        time.sleep(1)
    assert counts and counts[-1] >= 4, (counts, status.inner_text())
    assert len(set(counts)) > 1  # the plot gained points while we watched
    assert page.locator("#loss-plot img").count() > 0
    assert page.locator("#lr-plot img").count() > 0 and page.locator("#grad-plot img").count() > 0
    phase("plot has points")
    page.locator("#stop").click()
    _wait_text(page, "train-message", "stopping", fail_on_error=False)  # it showed the refusal before
    _wait_text(page, "train-status", "stopped", timeout=90)
    assert any(p.name.startswith("step-") for p in (run / "checkpoints").iterdir())
    stopped_at = max(int(p.name.split("-")[1]) for p in (run / "checkpoints").iterdir())

    # --- Resume: `voicetune train --resume RUN` continues past the checkpoint; Stop again
    page.locator("#resume").click()
    _wait_text(page, "train-message", "resumed", fail_on_error=False)
    deadline = time.time() + 90
    while time.time() < deadline and not (ws / ".voicetune-ui" / "active-run.json").exists():
        time.sleep(0.2)
    while time.time() < deadline:
        text = status.inner_text()
        if "running" in text and int(text.split("step ")[1].split("/")[0]) > stopped_at:
            break
        time.sleep(0.5)
    page.locator("#stop").click()
    _wait_text(page, "train-status", "stopped", timeout=90)
    assert max(int(p.name.split("-")[1]) for p in (run / "checkpoints").iterdir()) > stopped_at
    _wait_text(page, "train-events", "resumed", timeout=10)
    assert "the run ended: stopped by Stop" in page.locator("#train-events").inner_text()
    _wait_text(page, "diagnosis", "Diagnosis", timeout=10)
    if os.environ.get("VOICETUNE_UI_SCREENSHOT"):
        page.screenshot(path=os.environ["VOICETUNE_UI_SCREENSHOT"], full_page=True)

    phase("stopped, resumed, stopped")
    # --- Listen: a sample plays, a sentence is spoken with the checkpoint
    page.reload()  # the state comes back from the run folder
    page.get_by_role("tab", name="Train").click()
    _wait_text(page, "train-status", "stopped", timeout=20)
    page.get_by_role("tab", name="Listen").click()
    page.locator("#listen-refresh").click()
    _wait_text(page, "listen-status", "sample(s) at step-")
    assert _audio_duration(page, "sample-0") > 0
    assert "step-" in page.locator("#checkpoint-row").inner_text()
    assert "not evaluated by listening" in page.locator("#checkpoint-row").inner_text()
    page.locator("#speak").click()
    assert _audio_duration(page, "said", timeout=60) > 0.3
    assert _audio_duration(page, "real-audio") > 0.5  # a real recording beside the checkpoints
    page.locator("#speak-ab").click()  # A/B: the base and the newest checkpoint, same sentence
    _wait_text(page, "listen-status", "A: base · B: step-")
    assert _audio_duration(page, "said-a") > 0.3 and _audio_duration(page, "said-b") > 0.3

    step = page.locator("#listen-step input").input_value()
    page.locator("#use-for-export").click()
    _wait_text(page, "listen-status", "is chosen on the Export tab")
    page.locator("#export-which").wait_for(state="visible", timeout=10_000)  # the page switched to Export
    phase("listen done")
    # --- Export: download the zip, and speak with what is in it
    page.get_by_role("tab", name="Export").click()
    page.locator("#export-evaluate input").uncheck()  # listening to the checkpoint takes ~25 s
    page.locator("#export-samples input").uncheck()  # (test_train_cli.py checks them)
    assert page.locator("#export-format input").input_value() == "piper"  # the run's formats, its default first
    assert page.locator("#export-which input").input_value() == step  # "use this checkpoint" on Listen
    page.locator("#export").click()
    _wait_text(page, "export-status", "exported", timeout=120)
    assert f"step {int(step.split('-')[1])}" in page.locator("#model-card").inner_text()  # the checkpoint chosen
    assert page.locator("#export-report a").count() > 0  # report.html beside the zip
    assert "MODEL_CARD" in page.locator("#model-card").inner_text() or "onnx" in page.locator("#model-card").inner_text()
    with page.expect_download() as dl:
        page.locator("#export-zip a").first.click()
    zpath = tmp_path / "voice.zip"
    dl.value.save_as(zpath)
    phase("exported")
    with zipfile.ZipFile(zpath) as z:
        z.extractall(tmp_path / "unzipped")
    onnx = next((tmp_path / "unzipped").rglob("*.onnx"))
    said = tmp_path / "said.wav"
    subprocess.run([sys.executable, "-m", "voicetune", "say", "Hello from the zip.", "--voice", str(onnx),
                    "-o", str(said)], check=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    audio, sr = sf.read(said)
    assert len(audio) / sr > 0.3
