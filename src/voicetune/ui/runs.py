"""Train tab: runs are `voicetune train` subprocesses, exactly what the CLI starts, so a run started
here can be resumed from a shell and the other way round.

The state shown is always read back from the run folder (metrics.jsonl, checkpoints/) and from the
workspace's lock file, never kept only in memory: reloading the page or restarting `voicetune ui`
shows the truth. One run at a time per workspace: the lock names the run and its process id.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from voicetune.errors import VoicetuneError
from voicetune.ui.workspace import Workspace

LOCK = "active-run.json"
_CHILDREN: dict[int, subprocess.Popen] = {}  # reaped here so a finished run is not a zombie "alive"


@dataclass
class TrainSettings:
    base: str = "joe"
    max_minutes: float | None = None
    max_steps: int | None = None
    eval_every: int | None = None
    batch_size: int | None = None
    config: str = ""  # a YAML file inside the workspace
    # the base's backend's own `voicetune train` flags (ui.bases.options): {"--freeze": ["dec"], ...}
    flags: dict[str, object] = field(default_factory=dict)


@dataclass
class RunState:
    run: str
    status: str  # running | finished | stopped | failed | not started
    step: int = 0
    total: int | None = None
    checkpoints: list[str] = field(default_factory=list)
    message: str = ""


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):  # a zombie (parent gone wrong) is not a running trainer
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    return True


@contextlib.contextmanager
def _locked(ws: Workspace):
    """Serialises Start/Resume of two browser tabs (a check-then-write without it would race)."""
    with open(ws.state / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def active_run(ws: Workspace) -> dict | None:
    """{"run", "pid", "started"} of the run going now, else None (a stale lock is removed)."""
    path = ws.state / LOCK
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if _alive(int(info.get("pid", 0))):
        return info
    path.unlink(missing_ok=True)
    return None


def run_dir(ws: Workspace, name: str) -> Path:
    if not name:
        raise VoicetuneError("no run chosen")
    return ws.path(Path("runs") / Path(name).name)


def list_runs(ws: Workspace) -> list[str]:
    runs = [p for p in ws.runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return [p.name for p in sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)]


def log_file(ws: Workspace, name: str) -> Path:
    return ws.state / f"{Path(name).name}.log"


def _launch(ws: Workspace, name: str, args: list[str]) -> str:
    with _locked(ws):
        going = active_run(ws)
        if going is not None:
            raise VoicetuneError(f"run {going['run']} is training (pid {going['pid']}); stop it before starting another")
        log = open(log_file(ws, name), "a", encoding="utf-8")  # noqa: SIM115 - handed to the child
        # the CLI itself (same interpreter), in its own session so a Ctrl+C of `voicetune ui` does
        # not kill it and SIGTERM reaches only the trainer
        proc = subprocess.Popen([sys.executable, "-m", "voicetune", "train", *args, "--quiet"], cwd=ws.root,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        log.close()
        _CHILDREN[proc.pid] = proc
        (ws.state / LOCK).write_text(json.dumps({"run": name, "pid": proc.pid, "started": time.time()}))
    return name


def _budget_args(s: TrainSettings) -> list[str]:
    args: list[str] = []
    for flag, value in (("--max-minutes", s.max_minutes), ("--max-steps", s.max_steps)):
        if value:
            args += [flag, str(value)]
    return args


def _start_args(ws: Workspace, s: TrainSettings, out: Path) -> list[str]:
    """`voicetune train` arguments of a new run on the workspace dataset into ``out``."""
    from voicetune import backends
    from voicetune.ui import bases

    if not (ws.dataset / "dataset.json").exists():
        raise VoicetuneError("no dataset yet: upload recordings and prepare them on the Data tab first")
    base = bases.resolve(ws, s.base)
    # a flag this base's backend does not take is refused here, in the tab, not by the process
    backends.check_flags(backends.for_base(base), s.flags)
    args = ["--dataset", str(ws.dataset), "--base", base, "-o", str(out), *_budget_args(s)]
    for flag, value in (("--eval-every", s.eval_every), ("--batch-size", s.batch_size)):
        if value:
            args += [flag, str(int(value))]
    args += bases.flag_args(s.flags)
    if s.config.strip():
        args += ["--config", str(ws.path(s.config))]
    return args


def start_run(ws: Workspace, s: TrainSettings) -> str:
    """Start `voicetune train` on the workspace dataset into a new runs/run-YYYYmmdd-HHMMSS."""
    name = time.strftime("run-%Y%m%d-%H%M%S")
    while (ws.runs / name).exists():
        name += "x"
    return _launch(ws, name, _start_args(ws, s, ws.runs / name))


def estimate(ws: Workspace, s: TrainSettings, timeout: float = 600) -> tuple[list[tuple[str, str, str]], str]:
    """`voicetune train --dry-run` with these settings (it times a step, an eval and a checkpoint,
    and writes nothing): ([(setting, value, why)] for every value the advisor derived, the time
    estimate line). Refused while a run trains: both would share the same cores."""
    going = active_run(ws)
    if going is not None:
        raise VoicetuneError(f"run {going['run']} is training; estimate once it has stopped (the timing would be off)")
    out = ws.runs / f".estimate-{os.getpid()}"  # never created: a dry run writes nothing
    try:
        proc = subprocess.run([sys.executable, "-m", "voicetune", "train", *_start_args(ws, s, out), "--dry-run",
                               "--quiet"], cwd=ws.root, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise VoicetuneError(f"the estimate took over {timeout:g} s; try a smaller --batch-size") from None
    return parse_dry_run(proc.stdout + proc.stderr)


def parse_dry_run(text: str) -> tuple[list[tuple[str, str, str]], str]:
    """The derived settings and the estimate from what `voicetune train --dry-run` prints."""
    import yaml

    from voicetune.trainer.engine import DRY_RUN_CONFIG, DRY_RUN_ESTIMATE

    errors = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("error:")]
    if errors:
        raise VoicetuneError(errors[-1].removeprefix("error:").strip())
    _, sep, rest = text.partition(DRY_RUN_CONFIG)
    config_text, _, tail = rest.partition(DRY_RUN_ESTIMATE)
    if not sep or not tail:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        raise VoicetuneError(f"the dry run printed no estimate: {lines[-1] if lines else 'no output'}")
    try:
        config = yaml.safe_load(config_text) or {}
    except yaml.YAMLError:
        config = {}
    rows = []
    for key, why in (config.get("derived") or {}).items():
        value: object = config
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        rows.append((key.split(".")[0] if key.startswith("advice.") else key, "–" if value is None else str(value),
                     str(why)))
    return rows, tail.strip().splitlines()[0].removesuffix("; nothing was written")


def resume_run(ws: Workspace, name: str, s: TrainSettings) -> str:
    folder = run_dir(ws, name)
    if not (folder / "checkpoints").is_dir():
        raise VoicetuneError(f"run {name} has no checkpoint to resume from; start a new run")
    return _launch(ws, name, ["--resume", str(folder), *_budget_args(s)])


def stop_run(ws: Workspace) -> str:
    """SIGTERM: the trainer finishes its step, saves a checkpoint and exits (as on Ctrl+C)."""
    going = active_run(ws)
    if going is None:
        raise VoicetuneError("no run is training")
    os.kill(int(going["pid"]), signal.SIGTERM)
    return f"stopping {going['run']}: it saves a checkpoint and exits"


def read_events(folder: Path) -> list[dict]:
    path = folder / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):  # the line being written right now
            rows.append(json.loads(line))
    return rows


def _total_loss(loss) -> float | None:
    if isinstance(loss, (int, float)):
        return float(loss)
    if isinstance(loss, dict):
        for key in ("total", "loss", "gen_total", "mel"):
            if isinstance(loss.get(key), (int, float)):
                return float(loss[key])
    return None


def loss_points(folder: Path) -> list[dict]:
    """[{step, value, series}] for the plot: train loss and eval loss by step."""
    points = []
    for e in read_events(folder):
        if e.get("event") in ("train", "eval"):
            value = _total_loss(e.get("loss"))
            if value is not None:
                points.append({"step": e["step"], "value": value,
                               "series": "eval loss" if e["event"] == "eval" else "loss"})
    return points


def checkpoints(folder: Path) -> list[str]:
    ck = folder / "checkpoints"
    return sorted(p.name for p in ck.iterdir() if p.is_dir() and p.name.startswith("step-")) if ck.is_dir() else []


def run_state(ws: Workspace, name: str) -> RunState:
    folder = run_dir(ws, name)
    events = read_events(folder)
    going = active_run(ws)
    st = RunState(name, "not started", checkpoints=checkpoints(folder))
    for e in events:
        st.step = max(st.step, int(e.get("step", 0))) if e.get("event") == "train" else st.step
        if e.get("event") in ("start", "resume", "refit"):  # refit: the engine re-sized a --max-minutes run
            st.total = e.get("total_steps")
        if e.get("event") == "warning":
            st.message = e.get("message", "")
    end = next((e for e in reversed(events) if e.get("event") in ("end", "start", "resume")), None)
    if going is not None and going["run"] == name:
        st.status = "running"
    elif end is not None and end["event"] == "end":
        st.status = "finished" if end.get("status") == "finished" else "stopped"
        st.message = end.get("message") or end.get("status", "")
    elif events or folder.exists() or log_file(ws, name).exists():
        st.status = "failed"
        st.message = last_error(ws, name)
    return st


def last_error(ws: Workspace, name: str) -> str:
    """The CLI's one-line `error:` message from the run's log, if it wrote one."""
    path = log_file(ws, name)
    if not path.is_file():
        return ""
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    return errors[-1] if errors else (lines[-1] if lines else "")
