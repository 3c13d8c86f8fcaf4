"""Exit 1 unless the running environment holds exactly the packages of a lock file.

Usage: python tools/check_lock.py requirements.lock
Names are compared after PEP 503 normalisation; the project itself (installed editable) is not in
the lock and is ignored, as are pip and the installers pip leaves behind.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
from pathlib import Path

IGNORED = {"pip", "voicetune", "wheel"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        if not version:
            raise SystemExit(f"{path}: '{line}' is not an exact pin (name==version); regenerate it with `make lock`")
        pins[norm(name.split("[")[0])] = version.split(";")[0].strip()
    return pins


def main(argv: list[str]) -> int:
    lock = Path(argv[1] if len(argv) > 1 else "requirements.lock")
    want = read_lock(lock)
    have = {norm(d.metadata["Name"]): d.version for d in md.distributions()}
    problems = [f"{n}: lock {v}, installed {have.get(n, 'nothing')}" for n, v in sorted(want.items()) if have.get(n) != v]
    problems += [f"{n}: installed {v}, not in the lock" for n, v in sorted(have.items()) if n not in want and n not in IGNORED]
    if problems:
        print(f"the environment does not match {lock}:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print(f"environment matches {lock} ({len(want)} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
