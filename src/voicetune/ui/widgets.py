"""What every tab's handlers share: ``guard`` (an error the user can cause becomes one line in the
tab's status box, never a traceback in the browser), and small display helpers."""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from voicetune.errors import VoicetuneError

log = logging.getLogger("voicetune.ui")


def guard(n_out: int) -> Callable:
    """Wrap a handler whose LAST output is the tab's status line; on error keep the other outputs
    as they are and show the error there."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(*args: Any) -> Any:
            try:
                return fn(*args)
            except VoicetuneError as exc:
                msg = f"error: {exc}"
            except Exception as exc:  # a bug: logged in full on the server, one line in the page
                log.error("%s", traceback.format_exc())
                msg = f"internal error: {type(exc).__name__}: {exc}"
            msg = " ".join(msg.split())
            return (*[gr.skip()] * (n_out - 1), msg) if n_out > 1 else msg

        return inner

    return wrap


def clip_loader(fetch: Callable[[str], tuple[Any, str]]) -> tuple[Callable, Callable]:
    """(load by id, load the clicked table row) for a clip table: id, audio, text, status line."""

    @guard(4)
    def load(cid):
        wav, text = fetch((cid or "").strip())
        return cid, wav, text, ""

    def on_select(evt: gr.SelectData, table):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return load(str(table.iloc[row, 0]))

    return load, on_select


def mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def markdown_table(header: list[str], rows: list[tuple]) -> str:
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])
