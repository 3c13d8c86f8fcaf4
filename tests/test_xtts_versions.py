"""The other end of the tested transformers range: XTTS generation on transformers 5.23.

The lock pins transformers 5.24 (which passes the KV cache as ``cache=``; voicetune adapts coqui to
it in models/xtts/compat.py). This runs the generation tests and the train -> export -> say test
again with transformers 5.23.0 (which still passes ``past_key_values=``) placed in front of the
same environment. Slow and needs the package index: `pytest -m slow tests/test_xtts_versions.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

OTHER = "5.23.0"


@pytest.mark.slow
def test_xtts_generation_and_say_on_the_previous_transformers(tmp_path):
    pytest.importorskip("coqpit")
    overlay = tmp_path / f"transformers-{OTHER}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(overlay),
                    f"transformers=={OTHER}"], check=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(overlay), os.environ.get("PYTHONPATH", "")])}
    probe = subprocess.run([sys.executable, "-c", "import transformers; print(transformers.__version__)"],
                           env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == OTHER
    tests = Path(__file__).parent
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tests / "test_xtts_generate.py"),
                          str(tests / "test_xtts_finetune.py") + "::test_cli_train_resume_export_load_in_coqui_and_say"],
                         env=env, capture_output=True, text=True, cwd=tests.parent)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "3 passed" in res.stdout
