"""Train tab: the bases a workspace holds, which backend each one means, and the `voicetune train`
flags that backend takes.

Which backend a base belongs to is voicetune.backends' decision (``for_base``), and which flags it
takes is its ``train_flags``: the tab shows exactly the options `voicetune train` would accept for
that base, with the CLI's own help text, and the run it starts is the CLI's. A base is ``joe``, a
file or folder inside the workspace (uploads land in ``bases/``), or a Hugging Face hub id / ``hf://``
path, which the CLI downloads as it would from a shell.
"""

from __future__ import annotations

import inspect
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from voicetune.errors import VoicetuneError
from voicetune.ui.workspace import Workspace, safe_name

BASES = "bases"  # where uploaded bases go, and where the chooser looks
BUILT_IN = ("joe", "joe · vits · Piper en_US joe medium (built in)")
_MARKUP = re.compile(r"\[/?[a-z ]+\]")  # rich markup in the CLI's help ([bold]joe[/])


@dataclass(frozen=True)
class Option:
    """A backend flag of `voicetune train` as a widget: ``kind`` text | list | number | bool | choice."""

    flag: str
    kind: str
    choices: tuple[str, ...] = ()

    @property
    def elem_id(self) -> str:
        return "opt" + self.flag[1:]  # --freeze -> opt-freeze

    def help(self) -> str:
        return flag_help(self.flag)


def _preset_choices() -> tuple[str, ...]:
    import typing

    from voicetune.models.xtts.finetune import XttsTrainOptions

    def literals(tp) -> list[str]:
        if typing.get_origin(tp) is typing.Literal:
            return [str(a) for a in typing.get_args(tp)]
        return [v for a in typing.get_args(tp) for v in literals(a)]

    return tuple(literals(XttsTrainOptions.model_fields["preset"].annotation))


def options() -> list[Option]:
    """Every backend flag the tab can set (--speaker-column is left out: it names a column of a
    Hugging Face dataset given as --dataset, and the tab always trains on the workspace dataset)."""
    from voicetune import backends

    select_by = tuple(dict.fromkeys(v for b in backends.all_backends() for v in b.select_by))
    return [Option("--freeze", "list"), Option("--train", "list"), Option("--bootstrap-steps", "number"),
            Option("--speaker", "text"), Option("--filter-speaker", "text"),
            Option("--override-speaker-embeddings", "bool"), Option("--skip-unknown-chars", "bool"),
            Option("--preset", "choice", _preset_choices()), Option("--select-by", "choice", select_by)]


def flag_help(flag: str) -> str:
    """`voicetune train --help`'s text for ``flag`` (one source: the CLI's own option)."""
    from voicetune.commands.train import train

    for p in inspect.signature(train).parameters.values():
        if flag in getattr(p.default, "param_decls", ()):
            return _MARKUP.sub("", p.default.help or "")
    raise KeyError(flag)


def flag_args(flags: dict[str, object]) -> list[str]:
    """Command-line arguments for {flag: value}: a list repeats the flag, True is the bare flag,
    None / "" / False / [] are not given."""
    args: list[str] = []
    for flag, value in flags.items():
        if value is None or value is False or value == "" or value == []:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += [flag, str(v)]
        else:
            args += [flag, str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)]
    return args


def split_list(text: str | None) -> list[str]:
    """"enc_p, dp dec" -> ["enc_p", "dp", "dec"] (what --freeze/--train take, one group each)."""
    return [t for t in re.split(r"[,\s]+", text or "") if t]


def resolve(ws: Workspace, text: str | None) -> str:
    """The --base argument for what the user chose: ``joe``; a hub id or ``hf://`` path as given (the
    CLI downloads it); else a path that must exist inside the workspace (refused outside it)."""
    from voicetune.hub_ids import is_hf_uri, is_repo_id

    base = (text or "").strip() or "joe"
    if base == "joe" or is_hf_uri(base):
        return base
    first = Path(base).parts[0] if Path(base).parts else ""
    # owner/name that is not a workspace folder (bases/x, uploads/y) is a hub id
    if is_repo_id(base) and not (ws.root / first).exists():
        return base
    path = ws.path(base)
    if not path.exists():
        raise VoicetuneError(f"base {base}: not found in the workspace (upload it below, or give joe or a hub id "
                             "such as facebook/mms-tts-spa)")
    return str(path)


def backend_of(ws: Workspace, text: str | None):
    from voicetune import backends

    return backends.for_base(resolve(ws, text))


def describe(ws: Workspace, text: str | None) -> tuple[str, tuple[str, ...]]:
    """(one Markdown line: the backend and what this base brings, the flags that backend takes)."""
    from voicetune import backends
    from voicetune.models.vits.run import base_route

    base = resolve(ws, text)
    backend = backends.for_base(base)
    if backend.name != "vits":
        what = backend.summary
    elif base == "joe" or base.endswith(".onnx") or Path(base).is_dir():
        what = base_route({}, needs_bootstrap=True, has_discriminator=False)
    else:
        what = base_route({}, needs_bootstrap=False, has_discriminator=True)
    return f"**{backend.name}** backend: {what}", tuple(backend.train_flags)


def _label(ws: Workspace, path: Path) -> tuple[str, str]:
    from voicetune import backends

    rel = path.relative_to(ws.root).as_posix()
    return f"{rel} · {backends.for_base(str(path)).name}", rel


def find_bases(ws: Workspace) -> list[tuple[str, str]]:
    """(label, value) of every base under bases/: Piper .onnx and .ckpt files, and the folders the
    MMS or XTTS backend claims (a transformers VITS config.json, XTTS's model.pth + vocab.json)."""
    from voicetune import backends

    found = [BUILT_IN[::-1]]
    root = ws.root / BASES
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if len(parts) > 3 or any(p.startswith(".") for p in parts) or not _inside(ws, path):
            continue  # an upload being copied (.NAME.upload), or a symlink out of the workspace
        voice_file = path.is_file() and path.suffix in (".onnx", ".ckpt")
        if voice_file or (path.is_dir() and backends.for_base(str(path)).name != "vits"):
            found.append(_label(ws, path))
    return found


def _inside(ws: Workspace, path: Path) -> bool:
    try:
        ws.path(path)
    except VoicetuneError:  # a symlink out of the workspace: never offered
        return False
    return True


def add_base(ws: Workspace, files: list[tuple[str, str]], name: str | None) -> tuple[str, str]:
    """Copy uploaded files (server temp path, original name) into bases/<name>/ and return (the
    value to choose, a status line). A folder name already taken is refused, never merged into."""
    if not files:
        raise VoicetuneError("no files: pick a Piper .onnx with its .onnx.json, a Piper .ckpt, or every file of an "
                             "MMS or XTTS folder")
    from voicetune import backends

    names = [safe_name(original) for _, original in files]
    main = next((n for n in names if n.endswith((".onnx", ".ckpt"))), None)
    if main and main.endswith(".onnx") and f"{main}.json" not in names:
        raise VoicetuneError(f"{main}: a Piper voice needs its {main}.json beside it; upload both together")
    folder_name = safe_name(name.strip()) if name and name.strip() else Path(main or "base").stem.split(".")[0]
    folder = ws.root / BASES / folder_name
    if folder.exists():
        raise VoicetuneError(f"{BASES}/{folder_name} exists already: give another folder name")
    tmp = folder.with_name(f".{folder_name}.upload")
    shutil.rmtree(tmp, ignore_errors=True)  # our own leftover of an interrupted upload
    tmp.mkdir(parents=True)
    for (src, _), n in zip(files, names, strict=True):
        shutil.copyfile(src, tmp / n)
    if main is None and backends.for_base(str(tmp)).name == "vits":
        shutil.rmtree(tmp)  # our copy of the upload, not a base: nothing of the user's is lost
        raise VoicetuneError(f"{', '.join(names)}: not a base: upload a Piper .onnx with its .onnx.json, a Piper "
                             ".ckpt, an MMS folder (config.json with model_type vits, model weights, vocab.json) "
                             "or an XTTS folder (model.pth, config.json, vocab.json, ...)")
    tmp.rename(folder)  # the base appears whole or not at all
    chosen = folder / main if main else folder
    value = chosen.relative_to(ws.root).as_posix()
    return value, f"added {value} ({len(files)} file(s); backend {backends.for_base(str(chosen)).name})"
