"""`voicetune ui`: the browser page over the CLI's own functions (voicetune.ui)."""

from __future__ import annotations

from pathlib import Path

import typer

from voicetune.commands.progress import console


def ui(
    workspace: Path = typer.Option(Path("voicetune-workspace"), "--workspace", "-w",
                                   help="Folder holding everything the page reads and writes (created if missing)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; 0.0.0.0 opens it to the network."),
    port: int = typer.Option(None, "--port", help="Port (default: 7860, or the next free one)."),
) -> None:
    """Open the voicetune page in a browser: upload and review data, train with a live plot, listen, export.

    Runs started here are ordinary `voicetune train` runs in WORKSPACE/runs/ (resumable from the CLI).

    Example: voicetune ui --workspace ~/voices-ws --port 7860
    """
    from voicetune.errors import VoicetuneError

    try:
        import gradio  # noqa: F401
    except ImportError:
        raise VoicetuneError("the UI needs gradio: pip install 'voicetune[ui]'") from None
    from voicetune.ui.app import launch
    from voicetune.ui.workspace import Workspace

    ws = Workspace.open(workspace)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[bold yellow]warning:[/] listening on {host}: anyone who can reach this machine on the "
                      "network can use the page, read and write the workspace and start training", highlight=False)
    console.print(f"workspace: {ws.root}", highlight=False)
    launch(ws, host, port)
