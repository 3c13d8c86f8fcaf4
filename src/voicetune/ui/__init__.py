"""`voicetune ui`: a Gradio page over the same functions and processes the CLI uses.

workspace.py  the path rules (everything read or written lies inside one workspace folder)
data.py       Data tab: uploads, prepare, clip review, transcript edits, remove/restore (data.manage)
runs.py       Train tab: `voicetune train` subprocesses, the one-run lock, the run's state, Estimate
monitor.py    Train tab: loss/LR/gradient-norm plots, the monitor's events, the diagnosis
listen.py     Listen/Export tabs: samples, the eval row, `say` and A/B through voicetune.synth, export
app.py        the Gradio Blocks wiring these together
"""
