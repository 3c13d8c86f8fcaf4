"""The `voicetune` command: a thin typer app. Every verb lives in ``voicetune.commands.<verb>``
and calls a library function, so the CLI, the Python API and the UI share one code path."""

from __future__ import annotations

import errno
import importlib
import signal
import sys

import typer
import typer.core

from voicetune.errors import VoicetuneError

_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "Path": "PATH"}


def _shell_type_name(self, ctx):
    """Option types in help as click names them (TEXT, PATH, INTEGER; nothing for a flag) instead of
    typer 0.29's Python annotations (<str>, <list[Path]>, <bool>): what a shell user types."""
    desc = getattr(self, "type_descriptor", None)
    if desc is None:  # another typer: its own rendering
        return _typer_type_name(self, ctx)
    if getattr(self, "is_flag", False):
        return None
    if desc.is_choice:
        return "|".join(str(c) for c in desc.choices or ())
    if desc.is_path:
        return "PATH"
    name = self.bare_type().removeprefix("list[").removesuffix("]")
    return _TYPE_NAMES.get(name, name.upper())


_PARAM = getattr(typer.core, "_TyperParameter", None)
if _PARAM is not None and hasattr(_PARAM, "display_type"):  # typer 0.29 draws the help's type column with it
    _typer_type_name = _PARAM.display_type
    _PARAM.display_type = _shell_type_name

app = typer.Typer(
    name="voicetune",
    help="Raw recordings in, a fine-tuned, evaluated, exported TTS voice out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# every verb is the function of that name in voicetune.commands.<verb>, listed by `--help` in this order
_COMMANDS = ["doctor", "prepare", "train", "runs", "evaluate", "export", "say", "demo", "ui"]
_GROUPS = ["dataset"]  # voicetune.commands.<group>.app: a typer group of sub-verbs

for verb in _COMMANDS:
    app.command(verb)(getattr(importlib.import_module(f"voicetune.commands.{verb}"), verb))
for group in _GROUPS:
    app.add_typer(importlib.import_module(f"voicetune.commands.{group}").app, name=group)


def _version(value: bool) -> None:
    if value:
        from voicetune import __version__

        typer.echo(f"voicetune {__version__}")
        raise typer.Exit()


@app.callback(context_settings={"help_option_names": ["-h", "--help"]})
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Raw recordings in, a fine-tuned, evaluated, exported TTS voice out."""


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
