"""The Gradio page: four tabs (Data, Train, Listen, Export) over voicetune.ui's small modules.

Every handler goes through ``widgets.guard``: an error the user can cause (a VoicetuneError, a refused
path) becomes one line in the tab's status box, never a traceback in the browser.
"""

from __future__ import annotations

import gradio as gr

from voicetune.ui import data, listen, runs, train_tab
from voicetune.ui.widgets import clip_loader, guard, log
from voicetune.ui.workspace import Workspace

MAX_SAMPLES = 6  # audio players on the Listen tab (a run speaks 1-4 samples per checkpoint)


def build(ws: Workspace) -> gr.Blocks:
    with gr.Blocks(title="voicetune") as demo:
        gr.Markdown(f"# voicetune\nWorkspace: `{ws.root}` (every file this page reads or writes is in it)")
        with gr.Tabs() as tabs:
            with gr.Tab("Data", id="data"):
                uploads = gr.File(label="Recordings (+ optional .srt/.vtt with the same name)", file_count="multiple",
                                  elem_id="upload")
                in_folder = gr.Textbox(label="... or a folder of recordings inside the workspace (read in place)",
                                       elem_id="in-folder")
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

            run_pick = train_tab.build(ws)

            with gr.Tab("Listen", id="listen"):
                with gr.Row():
                    listen_run = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, elem_id="listen-run")
                    step_pick = gr.Dropdown(label="Checkpoint", choices=[], allow_custom_value=True,
                                            elem_id="listen-step")
                    refresh_listen = gr.Button("Refresh", elem_id="listen-refresh", scale=0)
                ckpt_row = gr.Markdown(elem_id="checkpoint-row")
                with gr.Row():
                    use_ckpt = gr.Button("Use this checkpoint for export", elem_id="use-for-export", scale=0)
                    score_base = gr.Button("Score the base beside it (`voicetune evaluate BASE`: ~30 s)",
                                           elem_id="score-base", scale=0)
                    real = gr.Audio(label="A real recording of the dataset", type="filepath", interactive=False,
                                    elem_id="real-audio")
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

            with gr.Tab("Export", id="export"):
                with gr.Row():
                    export_run = gr.Dropdown(label="Run", choices=[], allow_custom_value=True, elem_id="export-run")
                    which = gr.Dropdown(label="Checkpoint", choices=["best", "last"], value="best",
                                        allow_custom_value=True, elem_id="export-which")
                    evaluate = gr.Checkbox(value=True, label="Evaluate it first if the run has no score (~25 s)",
                                           elem_id="export-evaluate")
                    speak_samples = gr.Checkbox(value=True, label="Spoken samples by length in the folder",
                                                elem_id="export-samples")
                    export_fmt = gr.Dropdown(label="Format (the first: the run's default)", choices=[],
                                             allow_custom_value=True, elem_id="export-format")
                export_btn = gr.Button("Export", variant="primary", elem_id="export")
                export_status = gr.Markdown(elem_id="export-status")
                with gr.Row():
                    zip_file = gr.File(label="Voice folder (zip)", interactive=False, elem_id="export-zip")
                    report_file = gr.File(label="report.html (curves, evaluation, diagnosis)", interactive=False,
                                          elem_id="export-report")
                card = gr.Markdown(elem_id="model-card")

        # --- Data -------------------------------------------------------------------------------
        @guard(5)
        def do_prepare(files, folder, order, progress=gr.Progress()):
            audio, subs = data.split_uploads(ws, [f if isinstance(f, str) else f.name for f in files or []])
            if (folder or "").strip():
                more_audio, more_subs = data.folder_inputs(ws, folder.strip())
                audio, subs = audio + more_audio, subs + more_subs
            summary = data.run_prepare(ws, audio, subs, log=lambda m: log.info("%s", m),
                                       progress=data.PrepareProgress(progress))
            return data.report_markdown(ws), data.clip_rows(ws, order), data.quarantine_rows(ws), gr.update(), summary

        prepare_btn.click(do_prepare, [uploads, in_folder, sort], [report, clips, quarantine, clip_id, data_status])

        @guard(2)
        def do_sort(order):
            return data.clip_rows(ws, order), ""

        sort.change(do_sort, sort, [clips, clip_status])

        do_load, on_select = clip_loader(lambda cid: data.clip_audio(ws, cid))

        clips.select(on_select, clips, [clip_id, clip_player, transcript, clip_status])
        load_clip.click(do_load, clip_id, [clip_id, clip_player, transcript, clip_status])

        @guard(2)
        def do_save(cid, text, order):
            msg = data.save_transcript(ws, (cid or "").strip(), text)
            return data.clip_rows(ws, order), msg

        save_btn.click(do_save, [clip_id, transcript, sort], [clips, clip_status])

        @guard(5)
        def do_remove(cid, order):
            msg = data.remove_clip(ws, (cid or "").strip())
            return data.clip_rows(ws, order), data.quarantine_rows(ws), None, data.report_markdown(ws), msg

        remove_btn.click(do_remove, [clip_id, sort], [clips, quarantine, clip_player, report, clip_status])

        do_load_q, on_select_q = clip_loader(lambda cid: data.quarantine_audio(ws, cid))

        quarantine.select(on_select_q, quarantine, [q_id, q_player, q_text, q_status])
        load_q.click(do_load_q, q_id, [q_id, q_player, q_text, q_status])

        @guard(5)
        def do_restore(cid, text, order):
            msg = data.restore_clip(ws, (cid or "").strip(), text)
            return data.clip_rows(ws, order), data.quarantine_rows(ws), None, data.report_markdown(ws), msg

        restore_btn.click(do_restore, [q_id, q_text, sort], [clips, quarantine, q_player, report, q_status])


        # --- Listen -----------------------------------------------------------------------------
        @guard(MAX_SAMPLES + 2)
        def show_samples(run, step):
            files = listen.samples(ws, run, step) if run else []
            updates = [gr.update(value=str(f), label=f.stem, visible=True) for f in files[:MAX_SAMPLES]]
            updates += [gr.update(value=None, visible=False)] * (MAX_SAMPLES - len(updates))
            summary = listen.checkpoint_summary(ws, run, step) if run else ""
            if not step:
                said_line = "no checkpoint yet"
            elif files:
                said_line = f"{len(files)} sample(s) at {step}"
            else:  # XTTS runs speak none while they train (a sample there costs a full generation)
                said_line = f"no samples were spoken at {step} while training: use Speak below"
            return (*updates, summary, said_line)

        @guard(5)
        def pick_run(run):
            choices = listen.steps(ws, run) if run else []
            ab = [listen.BASE, *choices] if run else []  # A/B: the base against the newest by default
            return (gr.update(choices=choices, value=listen.default_step(ws, run) if run else None),
                    gr.update(choices=ab, value=listen.BASE if run else None),
                    gr.update(choices=ab, value=choices[0] if choices else None), listen.real_recording(ws), "")

        listen_run.change(pick_run, listen_run, [step_pick, ab_a, ab_b, real, listen_status])

        @guard(2)
        def do_score_base(run, step):
            if not run:
                return gr.skip(), "no run chosen"
            listen.score_base(ws, run)
            return listen.checkpoint_summary(ws, run, step), "scored the base (kept in the workspace)"

        score_base.click(do_score_base, [listen_run, step_pick], [ckpt_row, listen_status])
        step_pick.change(show_samples, [listen_run, step_pick], [*players, ckpt_row, listen_status])

        @guard(3)
        def refresh_runs(current):
            names = runs.list_runs(ws)
            value = current if current in names else (names[0] if names else None)
            return gr.update(choices=names, value=value), gr.update(choices=names, value=value), ""

        refresh_listen.click(refresh_runs, listen_run, [listen_run, export_run, listen_status]).then(
            pick_run, listen_run, [step_pick, ab_a, ab_b, real, listen_status])

        @guard(2)
        def do_say(run, step, text):
            return listen.speak(ws, run, step, text), ""

        say_btn.click(do_say, [listen_run, step_pick, say_text], [said, listen_status])

        @guard(3)
        def do_ab(run, a, b, text):
            wav_a, wav_b = listen.speak_ab(ws, run, a, b, text)
            return wav_a, wav_b, f"A: {a} · B: {b}"

        ab_btn.click(do_ab, [listen_run, ab_a, ab_b, say_text], [said_a, said_b, listen_status])

        # --- Export -----------------------------------------------------------------------------
        @guard(3)
        def pick_export_run(run, current):
            formats = listen.formats(ws, run)
            picks = ["best", "last", *(listen.steps(ws, run) if run else [])]
            return (gr.update(choices=formats, value=formats[0] if formats else None),
                    gr.update(choices=picks, value=current if current in picks else "best"), "")

        export_run.change(pick_export_run, [export_run, which], [export_fmt, which, export_status])

        @guard(4)
        def do_use(run, step):
            if not run or not step:
                return gr.skip(), gr.skip(), gr.skip(), "pick a run and a checkpoint first"
            picks = ["best", "last", *listen.steps(ws, run)]
            return (gr.update(value=run), gr.update(choices=picks, value=step), gr.Tabs(selected="export"),
                    f"{step} is chosen on the Export tab")

        use_ckpt.click(do_use, [listen_run, step_pick], [export_run, which, tabs, listen_status])

        @guard(4)
        def do_export(run, which_, ev, with_samples, fmt):
            folder, zip_path, model_card, report_path = listen.export(
                ws, run, which_ or "best", bool(ev), bool(with_samples), fmt or None, log=lambda m: log.info("%s", m))
            return (str(zip_path), str(report_path) if report_path else None, model_card,
                    f"exported {folder.relative_to(ws.root)} ({zip_path.name})")

        export_btn.click(do_export, [export_run, which, evaluate, speak_samples, export_fmt],
                         [zip_file, report_file, card, export_status])

        # --- a reload shows the workspace as it is ------------------------------------------------
        @guard(7)
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
