"""The Gradio page: four tabs (Data, Train, Listen, Export) over voicetune.ui's small modules.

Every handler goes through ``_guard``: an error the user can cause (a VoicetuneError, a refused
path) becomes one line in the tab's status box, never a traceback in the browser.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from voicetune.errors import VoicetuneError
from voicetune.ui import data, listen, monitor, runs
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


def _clip_loader(fetch: Callable[[str], tuple[Any, str]]) -> tuple[Callable, Callable]:
    """(load by id, load the clicked table row) for a clip table: id, audio, text, status line."""

    @_guard(4)
    def load(cid):
        wav, text = fetch((cid or "").strip())
        return cid, wav, text, ""

    def on_select(evt: gr.SelectData, table):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return load(str(table.iloc[row, 0]))

    return load, on_select


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _markdown_table(header: list[str], rows: list[tuple]) -> str:
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])


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
            sort = gr.Radio(list(data.SORTS), value=next(iter(data.SORTS)), label="Sort clips", elem_id="clip-sort")
            clips = gr.Dataframe(headers=data.CLIP_COLUMNS, interactive=False, label="Clips (click a row to listen)",
                                 elem_id="clips", wrap=True)
            with gr.Row():
                clip_id = gr.Textbox(label="Clip", elem_id="clip-id", scale=1)
                load_clip = gr.Button("Load clip", elem_id="load-clip", scale=0)
            clip_player = gr.Audio(label="Clip audio", type="filepath", interactive=False, elem_id="clip-audio")
            transcript = gr.Textbox(label="Transcript (edit, then Save)", lines=2, elem_id="transcript")
            with gr.Row():
                save_btn = gr.Button("Save transcript", elem_id="save-transcript")
                remove_btn = gr.Button("Remove clip (to the quarantine, restorable)", variant="stop",
                                       elem_id="remove-clip")
            clip_status = gr.Markdown(elem_id="clip-status")
            gr.Markdown("### Quarantine\nClips a check (or you) took out, with the reason; click one to hear it.")
            quarantine = gr.Dataframe(headers=data.QUARANTINE_COLUMNS, interactive=False, elem_id="quarantine",
                                      wrap=True)
            with gr.Row():
                q_id = gr.Textbox(label="Quarantined clip", elem_id="q-id", scale=1)
                load_q = gr.Button("Load", elem_id="load-q", scale=0)
            q_player = gr.Audio(label="Quarantined clip audio", type="filepath", interactive=False, elem_id="q-audio")
            q_text = gr.Textbox(label="Transcript it gets back with", lines=2, elem_id="q-transcript")
            restore_btn = gr.Button("Restore to the dataset (train split)", elem_id="restore-clip")
            q_status = gr.Markdown(elem_id="q-status")

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
                estimate_btn = gr.Button("Estimate (times a step: ~1 min)", elem_id="estimate")
            estimate = gr.Markdown(elem_id="estimate-result")
            run_pick = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, elem_id="run")
            # what the last button did; the status line below is the run folder's state, re-read by the timer
            train_msg = gr.Markdown(elem_id="train-message")
            train_status = gr.Markdown(elem_id="train-status")
            with gr.Row():
                plot = gr.Plot(label="Loss", elem_id="loss-plot")
                lr_plot = gr.Plot(label="Learning rate", elem_id="lr-plot")
                grad_plot = gr.Plot(label="Gradient norm", elem_id="grad-plot")
            events_md = gr.Markdown(elem_id="train-events")
            diagnosis_md = gr.Markdown(elem_id="diagnosis")
            seen = gr.State(None)  # what the plots show: redrawn only when the run folder changed
            timer = gr.Timer(2.0)

        with gr.Tab("Listen"):
            with gr.Row():
                listen_run = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, elem_id="listen-run")
                step_pick = gr.Dropdown(label="Checkpoint", choices=[], allow_custom_value=True,
                                        elem_id="listen-step")
                refresh_listen = gr.Button("Refresh", elem_id="listen-refresh", scale=0)
            ckpt_row = gr.Markdown(elem_id="checkpoint-row")
            players = [gr.Audio(type="filepath", interactive=False, visible=False, elem_id=f"sample-{i}")
                       for i in range(MAX_SAMPLES)]
            say_text = gr.Textbox(label="Say a sentence with this checkpoint", value="Hello, this is my new voice.",
                                  elem_id="say-text")
            say_btn = gr.Button("Speak", elem_id="speak")
            said = gr.Audio(label="Spoken", type="filepath", interactive=False, elem_id="said")
            gr.Markdown("### A/B: the sentence above with two checkpoints (same seed)")
            with gr.Row():
                ab_a = gr.Dropdown(label="A", choices=[], allow_custom_value=True, elem_id="ab-a")
                ab_b = gr.Dropdown(label="B", choices=[], allow_custom_value=True, elem_id="ab-b")
                ab_btn = gr.Button("Speak A and B", elem_id="speak-ab", scale=0)
            with gr.Row():
                said_a = gr.Audio(label="A", type="filepath", interactive=False, elem_id="said-a")
                said_b = gr.Audio(label="B", type="filepath", interactive=False, elem_id="said-b")
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
        @_guard(5)
        def do_prepare(files, order, progress=gr.Progress()):
            audio, subs = data.split_uploads(ws, [f if isinstance(f, str) else f.name for f in files or []])
            summary = data.run_prepare(ws, audio, subs, log=lambda m: log.info("%s", m))
            return data.report_markdown(ws), data.clip_rows(ws, order), data.quarantine_rows(ws), gr.update(), summary

        prepare_btn.click(do_prepare, [uploads, sort], [report, clips, quarantine, clip_id, data_status])

        @_guard(2)
        def do_sort(order):
            return data.clip_rows(ws, order), ""

        sort.change(do_sort, sort, [clips, clip_status])

        do_load, on_select = _clip_loader(lambda cid: data.clip_audio(ws, cid))

        clips.select(on_select, clips, [clip_id, clip_player, transcript, clip_status])
        load_clip.click(do_load, clip_id, [clip_id, clip_player, transcript, clip_status])

        @_guard(2)
        def do_save(cid, text, order):
            msg = data.save_transcript(ws, (cid or "").strip(), text)
            return data.clip_rows(ws, order), msg

        save_btn.click(do_save, [clip_id, transcript, sort], [clips, clip_status])

        @_guard(5)
        def do_remove(cid, order):
            msg = data.remove_clip(ws, (cid or "").strip())
            return data.clip_rows(ws, order), data.quarantine_rows(ws), None, data.report_markdown(ws), msg

        remove_btn.click(do_remove, [clip_id, sort], [clips, quarantine, clip_player, report, clip_status])

        do_load_q, on_select_q = _clip_loader(lambda cid: data.quarantine_audio(ws, cid))

        quarantine.select(on_select_q, quarantine, [q_id, q_player, q_text, q_status])
        load_q.click(do_load_q, q_id, [q_id, q_player, q_text, q_status])

        @_guard(5)
        def do_restore(cid, text, order):
            msg = data.restore_clip(ws, (cid or "").strip(), text)
            return data.clip_rows(ws, order), data.quarantine_rows(ws), None, data.report_markdown(ws), msg

        restore_btn.click(do_restore, [q_id, q_text, sort], [clips, quarantine, q_player, report, q_status])

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

        @_guard(1)
        def do_estimate(*args):
            derived, message = runs.estimate(ws, settings(*args))
            table = _markdown_table(["setting", "value", "why"], derived) if derived else "_nothing derived_"
            return f"**estimate**: {message}\n\nSettings the advisor chose (set them yourself to override):\n\n{table}"

        start_btn.click(do_start, train_inputs, [run_pick, train_msg])
        resume_btn.click(do_resume, [run_pick, *train_inputs], [run_pick, train_msg])
        stop_btn.click(do_stop, None, train_msg)
        estimate_btn.click(do_estimate, train_inputs, estimate)

        @_guard(7)
        def refresh(name, shown):
            if not name:
                going = runs.active_run(ws)
                empty = monitor.loss_figure(None)
                return (empty, gr.skip(), gr.skip(), "", "", None,
                        f"run {going['run']} is training" if going else "no run yet")
            st = runs.run_state(ws, name)
            folder = runs.run_dir(ws, name)
            points = runs.loss_points(folder)
            total = f"/{st.total}" if st.total else ""
            text = (f"**{st.run}**: {st.status} · step {st.step}{total} · {len(points)} points · "
                    f"checkpoints: {', '.join(st.checkpoints) or 'none yet'}")
            if st.message:
                text += f"  \n{st.message}"
            key = [name, st.status, _mtime(folder / "metrics.jsonl"), _mtime(folder / "eval.jsonl")]
            if key == shown:
                return (*[gr.skip()] * 5, shown, text)
            events = runs.read_events(folder)
            lines = monitor.event_lines(events)
            events_text = ("**Monitor**\n\n" + "\n".join(f"- {ln}" for ln in lines)) if lines else \
                "**Monitor**: no warning so far"
            if st.status == "running":
                diag = "_the diagnosis (`voicetune runs RUN`) shows when the run stops_"
            else:
                found = monitor.diagnosis_lines(folder) if events else []
                diag = ("**Diagnosis**\n\n" + "\n".join(f"- {ln}" for ln in found)) if found else \
                    ("**Diagnosis**: nothing stands out" if events else "")
            return (monitor.loss_figure(folder), monitor.series_figure(events, "lr", "learning rate", True),
                    monitor.series_figure(events, "grad_norm", "gradient norm (before clipping)", True),
                    events_text, diag, key, text)

        refresh_outputs = [plot, lr_plot, grad_plot, events_md, diagnosis_md, seen, train_status]
        timer.tick(refresh, [run_pick, seen], refresh_outputs)
        run_pick.change(refresh, [run_pick, seen], refresh_outputs)

        # --- Listen -----------------------------------------------------------------------------
        @_guard(MAX_SAMPLES + 2)
        def show_samples(run, step):
            files = listen.samples(ws, run, step) if run else []
            updates = [gr.update(value=str(f), label=f.stem, visible=True) for f in files[:MAX_SAMPLES]]
            updates += [gr.update(value=None, visible=False)] * (MAX_SAMPLES - len(updates))
            summary = listen.checkpoint_summary(ws, run, step) if run else ""
            return (*updates, summary, f"{len(files)} sample(s) at {step}" if step else "no checkpoint yet")

        @_guard(4)
        def pick_run(run):
            choices = listen.steps(ws, run) if run else []
            oldest, newest = (choices[-1], choices[0]) if choices else (None, None)
            return (gr.update(choices=choices, value=listen.default_step(ws, run) if run else None),
                    gr.update(choices=choices, value=oldest), gr.update(choices=choices, value=newest), "")

        listen_run.change(pick_run, listen_run, [step_pick, ab_a, ab_b, listen_status])
        step_pick.change(show_samples, [listen_run, step_pick], [*players, ckpt_row, listen_status])

        @_guard(3)
        def refresh_runs(current):
            names = runs.list_runs(ws)
            value = current if current in names else (names[0] if names else None)
            return gr.update(choices=names, value=value), gr.update(choices=names, value=value), ""

        refresh_listen.click(refresh_runs, listen_run, [listen_run, export_run, listen_status]).then(
            pick_run, listen_run, [step_pick, ab_a, ab_b, listen_status])

        @_guard(2)
        def do_say(run, step, text):
            return listen.speak(ws, run, step, text), ""

        say_btn.click(do_say, [listen_run, step_pick, say_text], [said, listen_status])

        @_guard(3)
        def do_ab(run, a, b, text):
            wav_a, wav_b = listen.speak_ab(ws, run, a, b, text)
            return wav_a, wav_b, f"A: {a} · B: {b}"

        ab_btn.click(do_ab, [listen_run, ab_a, ab_b, say_text], [said_a, said_b, listen_status])

        # --- Export -----------------------------------------------------------------------------
        @_guard(3)
        def do_export(run, which_, ev, with_samples):
            folder, zip_path, model_card = listen.export(ws, run, which_ or "best", bool(ev), bool(with_samples),
                                                         log=lambda m: log.info("%s", m))
            return str(zip_path), model_card, f"exported {folder.relative_to(ws.root)} ({zip_path.name})"

        export_btn.click(do_export, [export_run, which, evaluate, speak_samples], [zip_file, card, export_status])

        # --- a reload shows the workspace as it is ------------------------------------------------
        @_guard(7)
        def on_load(order):
            names = runs.list_runs(ws)
            going = runs.active_run(ws)
            value = going["run"] if going else (names[0] if names else None)
            pick = gr.update(choices=names, value=value)
            return (data.report_markdown(ws), data.clip_rows(ws, order), data.quarantine_rows(ws), pick, pick, pick,
                    "")

        demo.load(on_load, sort, [report, clips, quarantine, run_pick, listen_run, export_run, data_status])
    return demo


def launch(ws: Workspace, host: str, port: int | None) -> None:
    demo = build(ws)
    # allowed_paths: the players and downloads serve files from the workspace, and nothing else
    demo.queue(default_concurrency_limit=2).launch(server_name=host, server_port=port, allowed_paths=[str(ws.root)],
                                                   inbrowser=False, show_error=False)
