"""The Gradio page: four tabs (Data, Train, Listen, Export) over voicetune.ui's small modules.

Every handler goes through ``_guard``: an error the user can cause (a VoicetuneError, a refused
path) becomes one line in the tab's status box, never a traceback in the browser.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any

import gradio as gr

from voicetune.errors import VoicetuneError
from voicetune.ui import data, listen, runs
from voicetune.ui.workspace import Workspace

MAX_SAMPLES = 6  # audio players on the Listen tab (a run speaks 1-4 samples per checkpoint)
log = logging.getLogger("voicetune.ui")


def _guard(n_out: int) -> Callable:
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


def _plot(points: list[dict]):
    """Loss and eval loss by step as a matplotlib figure. Not gr.LinePlot: it fixes its colour domain
    from the first value it gets, so the eval series, which appears a few steps later, never drew."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2), layout="tight")
    ax = fig.add_subplot()
    for series, style in (("loss", "-"), ("eval loss", "o-")):
        pts = [(p["step"], p["value"]) for p in points if p["series"] == series]
        if pts:
            ax.plot(*zip(*pts, strict=True), style, label=series, markersize=4)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if points:
        ax.legend(loc="upper right")
    return fig


def build(ws: Workspace) -> gr.Blocks:
    with gr.Blocks(title="voicetune") as demo:
        gr.Markdown(f"# voicetune\nWorkspace: `{ws.root}` (every file this page reads or writes is in it)")
        with gr.Tab("Data"):
            uploads = gr.File(label="Recordings (+ optional .srt/.vtt with the same name)", file_count="multiple",
                              elem_id="upload")
            prepare_btn = gr.Button("Prepare", variant="primary", elem_id="prepare")
            data_status = gr.Markdown(elem_id="data-status")
            with gr.Accordion("Report", open=False):
                report = gr.Markdown(elem_id="report")
            clips = gr.Dataframe(headers=data.CLIP_COLUMNS, interactive=False, label="Clips (lowest ASR confidence "
                                 "first; click a row to listen)", elem_id="clips", wrap=True)
            with gr.Row():
                clip_id = gr.Textbox(label="Clip", elem_id="clip-id", scale=1)
                load_clip = gr.Button("Load clip", elem_id="load-clip", scale=0)
            clip_player = gr.Audio(label="Clip audio", type="filepath", interactive=False, elem_id="clip-audio")
            transcript = gr.Textbox(label="Transcript (edit, then Save)", lines=2, elem_id="transcript")
            save_btn = gr.Button("Save transcript", elem_id="save-transcript")
            clip_status = gr.Markdown(elem_id="clip-status")

        with gr.Tab("Train"):
            with gr.Row():
                base = gr.Textbox(value="joe", label="Base: joe, or a .onnx/.ckpt/folder in the workspace",
                                  elem_id="base")
                config = gr.Textbox(label="Config YAML in the workspace (optional)", elem_id="config")
            with gr.Row():
                max_minutes = gr.Number(label="Max minutes (0: no limit)", value=None, elem_id="max-minutes")
                max_steps = gr.Number(label="Max steps (0: no limit)", value=None, precision=0, elem_id="max-steps")
                eval_every = gr.Number(label="Eval every (steps)", value=None, precision=0, elem_id="eval-every")
                batch_size = gr.Number(label="Batch size", value=None, precision=0, elem_id="batch-size")
                bootstrap = gr.Number(label="Bootstrap steps", value=None, precision=0, elem_id="bootstrap-steps")
            with gr.Row():
                start_btn = gr.Button("Start", variant="primary", elem_id="start")
                stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
                resume_btn = gr.Button("Resume", elem_id="resume")
            run_pick = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, elem_id="run")
            # what the last button did; the status line below is the run folder's state, re-read by the timer
            train_msg = gr.Markdown(elem_id="train-message")
            train_status = gr.Markdown(elem_id="train-status")
            plot = gr.Plot(label="Loss", elem_id="loss-plot")
            timer = gr.Timer(2.0)

        with gr.Tab("Listen"):
            with gr.Row():
                listen_run = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, elem_id="listen-run")
                step_pick = gr.Dropdown(label="Checkpoint", choices=[], allow_custom_value=True,
                                        elem_id="listen-step")
                refresh_listen = gr.Button("Refresh", elem_id="listen-refresh", scale=0)
            players = [gr.Audio(type="filepath", interactive=False, visible=False, elem_id=f"sample-{i}")
                       for i in range(MAX_SAMPLES)]
            say_text = gr.Textbox(label="Say a sentence with this checkpoint", value="Hello, this is my new voice.",
                                  elem_id="say-text")
            say_btn = gr.Button("Speak", elem_id="speak")
            said = gr.Audio(label="Spoken", type="filepath", interactive=False, elem_id="said")
            listen_status = gr.Markdown(elem_id="listen-status")

        with gr.Tab("Export"):
            with gr.Row():
                export_run = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, elem_id="export-run")
                which = gr.Dropdown(label="Checkpoint", choices=["best", "last"], value="best",
                                    allow_custom_value=True, elem_id="export-which")
                evaluate = gr.Checkbox(value=True, label="Evaluate it first if the run has no score (~25 s)",
                                       elem_id="export-evaluate")
                speak_samples = gr.Checkbox(value=True, label="Spoken samples by length in the folder",
                                            elem_id="export-samples")
            export_btn = gr.Button("Export (the run's format: Piper, transformers or XTTS)", variant="primary",
                                   elem_id="export")
            export_status = gr.Markdown(elem_id="export-status")
            zip_file = gr.File(label="Voice folder (zip)", interactive=False, elem_id="export-zip")
            card = gr.Markdown(elem_id="model-card")

        # --- Data -------------------------------------------------------------------------------
        @_guard(4)
        def do_prepare(files, progress=gr.Progress()):
            audio, subs = data.split_uploads(ws, [f if isinstance(f, str) else f.name for f in files or []])
            summary = data.run_prepare(ws, audio, subs, log=lambda m: log.info("%s", m))
            return data.report_markdown(ws), data.clip_rows(ws), gr.update(), summary

        prepare_btn.click(do_prepare, uploads, [report, clips, clip_id, data_status])

        @_guard(4)
        def do_load(cid):
            wav, text = data.clip_audio(ws, (cid or "").strip())
            return cid, wav, text, ""

        def on_select(evt: gr.SelectData, table):
            row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            return do_load(str(table.iloc[row, 0]))

        clips.select(on_select, clips, [clip_id, clip_player, transcript, clip_status])
        load_clip.click(do_load, clip_id, [clip_id, clip_player, transcript, clip_status])

        @_guard(2)
        def do_save(cid, text):
            msg = data.save_transcript(ws, (cid or "").strip(), text)
            return data.clip_rows(ws), msg

        save_btn.click(do_save, [clip_id, transcript], [clips, clip_status])

        # --- Train ------------------------------------------------------------------------------
        def settings(b, cfg, mins, steps_, ev, bs, boot) -> runs.TrainSettings:
            def num(v):
                return v if v not in (None, 0, "") else None

            return runs.TrainSettings(base=b or "joe", config=cfg or "", max_minutes=num(mins),
                                      max_steps=num(steps_) and int(steps_), eval_every=num(ev),
                                      batch_size=num(bs), bootstrap_steps=num(boot))

        train_inputs = [base, config, max_minutes, max_steps, eval_every, batch_size, bootstrap]

        def run_choices(selected: str | None = None):
            names = runs.list_runs(ws)
            going = runs.active_run(ws)
            value = selected or (going["run"] if going else (names[0] if names else None))
            return gr.update(choices=names, value=value)

        @_guard(2)
        def do_start(*args):
            name = runs.start_run(ws, settings(*args))
            return run_choices(name), f"started {name}"

        @_guard(2)
        def do_resume(name, *args):
            runs.resume_run(ws, name, settings(*args))
            return run_choices(name), f"resumed {name}"

        @_guard(1)
        def do_stop():
            return runs.stop_run(ws)

        start_btn.click(do_start, train_inputs, [run_pick, train_msg])
        resume_btn.click(do_resume, [run_pick, *train_inputs], [run_pick, train_msg])
        stop_btn.click(do_stop, None, train_msg)

        @_guard(2)
        def refresh(name):
            if not name:
                going = runs.active_run(ws)
                return _plot([]), (f"run {going['run']} is training" if going else "no run yet")
            st = runs.run_state(ws, name)
            points = runs.loss_points(runs.run_dir(ws, name))
            total = f"/{st.total}" if st.total else ""
            text = (f"**{st.run}**: {st.status} · step {st.step}{total} · {len(points)} points · "
                    f"checkpoints: {', '.join(st.checkpoints) or 'none yet'}")
            if st.message:
                text += f"  \n{st.message}"
            return _plot(points), text

        timer.tick(refresh, run_pick, [plot, train_status])
        run_pick.change(refresh, run_pick, [plot, train_status])

        # --- Listen -----------------------------------------------------------------------------
        @_guard(MAX_SAMPLES + 1)
        def show_samples(run, step):
            files = listen.samples(ws, run, step) if run else []
            updates = [gr.update(value=str(f), label=f.stem, visible=True) for f in files[:MAX_SAMPLES]]
            updates += [gr.update(value=None, visible=False)] * (MAX_SAMPLES - len(updates))
            return (*updates, f"{len(files)} sample(s) at {step}" if step else "no checkpoint yet")

        @_guard(2)
        def pick_run(run):
            choices = listen.steps(ws, run) if run else []
            return gr.update(choices=choices, value=listen.default_step(ws, run) if run else None), ""

        listen_run.change(pick_run, listen_run, [step_pick, listen_status])
        step_pick.change(show_samples, [listen_run, step_pick], [*players, listen_status])

        @_guard(3)
        def refresh_runs(current):
            names = runs.list_runs(ws)
            value = current if current in names else (names[0] if names else None)
            return gr.update(choices=names, value=value), gr.update(choices=names, value=value), ""

        refresh_listen.click(refresh_runs, listen_run, [listen_run, export_run, listen_status]).then(
            pick_run, listen_run, [step_pick, listen_status])

        @_guard(2)
        def do_say(run, step, text):
            return listen.speak(ws, run, step, text), ""

        say_btn.click(do_say, [listen_run, step_pick, say_text], [said, listen_status])

        # --- Export -----------------------------------------------------------------------------
        @_guard(3)
        def do_export(run, which_, ev, with_samples):
            folder, zip_path, model_card = listen.export(ws, run, which_ or "best", bool(ev), bool(with_samples),
                                                         log=lambda m: log.info("%s", m))
            return str(zip_path), model_card, f"exported {folder.relative_to(ws.root)} ({zip_path.name})"

        export_btn.click(do_export, [export_run, which, evaluate, speak_samples], [zip_file, card, export_status])

        # --- a reload shows the workspace as it is ------------------------------------------------
        @_guard(6)
        def on_load():
            names = runs.list_runs(ws)
            going = runs.active_run(ws)
            value = going["run"] if going else (names[0] if names else None)
            pick = gr.update(choices=names, value=value)
            return data.report_markdown(ws), data.clip_rows(ws), pick, pick, pick, ""

        demo.load(on_load, None, [report, clips, run_pick, listen_run, export_run, data_status])
    return demo


def launch(ws: Workspace, host: str, port: int | None) -> None:
    demo = build(ws)
    # allowed_paths: the players and downloads serve files from the workspace, and nothing else
    demo.queue(default_concurrency_limit=2).launch(server_name=host, server_port=port, allowed_paths=[str(ws.root)],
                                                   inbrowser=False, show_error=False)
