"""`voicetune ui`: a Gradio page over the same functions and processes the CLI uses.

workspace.py  the path rules (everything read or written lies inside one workspace folder)
data.py       Data tab: uploads, prepare, clip review and transcript edits
runs.py       Train tab: `voicetune train` subprocesses, the one-run lock, the run's state
listen.py     Listen/Export tabs: samples, `say` through voicetune.synth, export + zip
app.py        the Gradio Blocks wiring these together
"""
