"""The Train tab: a base (any backend's: ``ui.bases``) with that backend's own `voicetune train`
options, Start/Stop/Resume/Estimate (``ui.runs``: the CLI in a subprocess) and the live monitor
(``ui.monitor``), all re-read from the run folder every 2 s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from voicetune.ui import bases, monitor, runs
from voicetune.ui.widgets import guard, markdown_table, mtime
from voicetune.ui.workspace import Workspace


def _option_widget(o: bases.Option, visible: bool):
    common = dict(label=o.flag, info=o.help(), visible=visible, elem_id=o.elem_id)
    if o.kind == "bool":
        return gr.Checkbox(value=False, **common)
    if o.kind == "number":
        return gr.Number(value=None, precision=0, **common)
    if o.kind == "choice":
        return gr.Dropdown(choices=[("default", ""), *[(c, c) for c in o.choices]], value="", **common)
    return gr.Textbox(value="", placeholder="comma-separated groups" if o.kind == "list" else "", **common)


def _option_value(o: bases.Option, value: Any) -> object:
    """A widget's value as the flag takes it; None when it is left at the default."""
    if o.kind == "list":
        return bases.split_list(value) or None
    if o.kind == "bool":
        return True if value else None
    if o.kind == "number":
        return int(value) if value not in (None, "", 0) else None
    return (str(value).strip() or None) if value is not None else None


def num(v):
    """A number box's value; empty or 0 means not given."""
    return v if v not in (None, 0, "") else None


def build(ws: Workspace) -> gr.Dropdown:
    """The tab's layout and handlers (inside the page's gr.Blocks); returns its run chooser."""
    with gr.Tab("Train", id="train"):
        with gr.Row():
            base = gr.Dropdown(choices=bases.find_bases(ws), value="joe", allow_custom_value=True,
                               label="Base", elem_id="base", scale=3,
                               info="joe, a base under bases/ (upload one below), any .onnx/.ckpt/folder in "
                                    "the workspace, or a hub id (facebook/mms-tts-spa, coqui/XTTS-v2)")
            refresh_bases = gr.Button("Refresh bases", elem_id="refresh-bases", scale=0)
            config = gr.Textbox(label="Config YAML in the workspace (optional)", elem_id="config", scale=2)
        base_info = gr.Markdown(bases.describe(ws, "joe")[0], elem_id="base-info")
        with gr.Accordion("Upload a base (a Piper .onnx + .onnx.json or .ckpt, or every file of an MMS or "
                          "XTTS folder)", open=False):
            with gr.Row():
                base_files = gr.File(file_count="multiple", label="Base files", elem_id="base-upload", scale=3)
                base_name = gr.Textbox(label="Folder name under bases/ (default: the voice file's name)",
                                       elem_id="base-name", scale=1)
            add_base = gr.Button("Add base", elem_id="add-base")
            base_status = gr.Markdown(elem_id="base-status")
        with gr.Row():
            max_minutes = gr.Number(label="Max minutes (0: no limit)", value=None, elem_id="max-minutes")
            max_steps = gr.Number(label="Max steps (0: no limit)", value=None, precision=0, elem_id="max-steps")
            eval_every = gr.Number(label="Eval every (steps)", value=None, precision=0, elem_id="eval-every")
            batch_size = gr.Number(label="Batch size", value=None, precision=0, elem_id="batch-size")
        gr.Markdown("Options of this base's backend (`voicetune train`'s flags; empty: the default). "
                    "Those another backend reads are hidden.")
        options = bases.options()
        shown = bases.describe(ws, "joe")[1]
        with gr.Row(equal_height=False):
            option_widgets = [_option_widget(o, o.flag in shown) for o in options]
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

    def settings(b, cfg, mins, steps_, ev, bs, *values) -> runs.TrainSettings:
        takes = bases.backend_of(ws, b).train_flags  # hidden options (another backend's) stay out
        flags = {o.flag: _option_value(o, v) for o, v in zip(options, values, strict=True) if o.flag in takes}
        return runs.TrainSettings(base=b or "joe", config=cfg or "", max_minutes=num(mins),
                                  max_steps=num(steps_) and int(steps_), eval_every=num(ev),
                                  batch_size=num(bs), flags=flags)

    train_inputs = [base, config, max_minutes, max_steps, eval_every, batch_size, *option_widgets]

    @guard(len(options) + 1)
    def on_base(b):
        line, takes = bases.describe(ws, b)
        return (*[gr.update(visible=o.flag in takes) for o in options], line)

    base.change(on_base, base, [*option_widgets, base_info])

    @guard(2)
    def do_refresh_bases(current):
        return gr.update(choices=bases.find_bases(ws), value=current), ""

    refresh_bases.click(do_refresh_bases, base, [base, base_info])

    @guard(3)
    def do_add_base(files, name):
        paths = [f if isinstance(f, str) else f.name for f in files or []]  # gradio keeps the file's name
        value, msg = bases.add_base(ws, [(p, Path(p).name) for p in paths], name)
        return gr.update(choices=bases.find_bases(ws), value=value), None, msg

    add_base.click(do_add_base, [base_files, base_name], [base, base_files, base_status])

    def run_choices(selected: str | None = None):
        names = runs.list_runs(ws)
        going = runs.active_run(ws)
        value = selected or (going["run"] if going else (names[0] if names else None))
        return gr.update(choices=names, value=value)

    @guard(2)
    def do_start(*args):
        name = runs.start_run(ws, settings(*args))
        return run_choices(name), f"started {name}"

    @guard(2)
    def do_resume(name, _base, _cfg, mins, steps_, *_rest):  # a resume takes only the budget (the CLI's rule)
        runs.resume_run(ws, name, runs.TrainSettings(max_minutes=num(mins), max_steps=num(steps_) and int(steps_)))
        return run_choices(name), f"resumed {name}"

    @guard(1)
    def do_stop():
        return runs.stop_run(ws)

    @guard(1)
    def do_estimate(*args):
        derived, message = runs.estimate(ws, settings(*args))
        table = markdown_table(["setting", "value", "why"], derived) if derived else "_nothing derived_"
        return f"**estimate**: {message}\n\nSettings the advisor chose (set them yourself to override):\n\n{table}"

    start_btn.click(do_start, train_inputs, [run_pick, train_msg])
    resume_btn.click(do_resume, [run_pick, *train_inputs], [run_pick, train_msg])
    stop_btn.click(do_stop, None, train_msg)
    estimate_btn.click(do_estimate, train_inputs, estimate)

    @guard(7)
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
        key = [name, st.status, mtime(folder / "metrics.jsonl"), mtime(folder / "eval.jsonl")]
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
    return run_pick
