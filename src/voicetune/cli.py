"""The `voicetune` command: a thin typer app. Every verb lives in ``voicetune.commands.<verb>``
and calls a library function, so the CLI, the Python API and the UI share one code path."""

from __future__ import annotations

import errno
import importlib
import signal
import sys

import typer

from voicetune.errors import VoicetuneError

app = typer.Typer(
    name="voicetune",
    help="Raw recordings in, a fine-tuned, evaluated, exported TTS voice out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# (module, attribute, verb) in the order `--help` lists them.
_COMMANDS = [
    ("doctor", "doctor", "doctor"),
    ("prepare", "prepare", "prepare"),
    ("finetune", "train", "train"),
    ("train", "runs", "runs"),
    ("evaluate", "evaluate", "evaluate"),
    ("export", "export", "export"),
    ("say", "say", "say"),
    ("demo", "demo", "demo"),
    ("ui", "ui", "ui"),
]
_GROUPS = [("dataset", "app", "dataset")]

for module_name, attr, verb in _COMMANDS:
    try:
        module = importlib.import_module(f"voicetune.commands.{module_name}")
    except ModuleNotFoundError as exc:  # a verb whose module is not built yet
        if exc.name != f"voicetune.commands.{module_name}":
            raise
        continue
    app.command(verb)(getattr(module, attr))
for module_name, attr, verb in _GROUPS:
    module = importlib.import_module(f"voicetune.commands.{module_name}")
    app.add_typer(getattr(module, attr), name=verb)


# an OSError with one of these is the machine's state (permissions, a full or read-only disk), not a
# bug: reported like a VoicetuneError
_ENVIRONMENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


class Stopped(BaseException):
    """Ctrl+C or SIGTERM, raised where the process is, so every `finally` (temp folders) runs. Not a
    KeyboardInterrupt: click would turn that into "Aborted!" and exit code 1."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.code = 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


def _stop(signum, frame) -> None:
    raise Stopped(signum)


def _fail(message: str) -> None:
    from rich.console import Console

    # soft_wrap: the message stays one line however narrow the terminal
    Console(stderr=True, width=100_000).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)


def main() -> None:
    """Entry point: user errors become one red line and exit code 2, never a traceback.
    Ctrl+C exits 130 and SIGTERM 143, after cleaning up like any error."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    try:
        app()
    except VoicetuneError as exc:
        _fail(str(exc))
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRNOS:
            raise
        _fail(f"{exc.filename or 'a file'}: {exc.strerror}; check the permissions and free space there")
    except KeyboardInterrupt:
        sys.exit(130)
    except Stopped as stop:
        sys.exit(stop.code)
