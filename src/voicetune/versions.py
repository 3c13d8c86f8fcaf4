"""Is each backend's key package inside the range voicetune was tested with?

The ranges are not repeated here: they are the extras declared in pyproject.toml, read back from
voicetune's installed metadata, so the install and this check cannot disagree. A backend that
drives another package's internals (coqui's GPT/DVAE, transformers' VITS and GPT-2 generation)
checks before it starts, so a release we never saw gives one line with the fix instead of a
crash deep inside that package.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from dataclasses import dataclass
from functools import cache

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from voicetune.errors import VoicetuneError

# backend -> (extra in pyproject.toml, the packages whose internals that backend drives)
KEY_PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "vits": ("", ("piper-tts", "onnxruntime")),
    "mms": ("mms", ("transformers",)),
    "xtts": ("xtts", ("coqui-tts", "transformers")),
    "ui": ("ui", ("gradio",)),
}
OVERRIDE_ENV = "VOICETUNE_IGNORE_VERSIONS"


@dataclass(frozen=True)
class PackageCheck:
    package: str
    installed: str | None  # None: not installed
    supported: str  # a PEP 440 specifier, e.g. ">=4.57,<5.25"; "" when any version is accepted

    @property
    def ok(self) -> bool:
        if self.installed is None:
            return False
        try:
            return Version(self.installed) in Requirement(f"{self.package}{self.supported}").specifier
        except InvalidVersion:
            return False

    @property
    def fix(self) -> str:
        return f"pip install '{self.package}{self.supported}'"

    def describe(self) -> str:
        if self.installed is None:
            return f"{self.package} is not installed (needs {self.supported or 'any version'}): {self.fix}"
        state = "ok" if self.ok else "outside the tested range"
        return f"{self.package} {self.installed} ({state}; tested {self.supported or 'any'})"


@cache
def _declared() -> dict[tuple[str, str], str]:
    """(extra, normalised package name) -> specifier, from voicetune's own metadata."""
    try:
        lines = md.requires("voicetune") or []
    except md.PackageNotFoundError:  # running from a source tree that was never installed
        return {}
    out: dict[tuple[str, str], str] = {}
    for line in lines:
        req = Requirement(line)
        extra = ""
        if req.marker is not None:
            for candidate in KEY_PACKAGES.values():
                if candidate[0] and req.marker.evaluate({"extra": candidate[0]}):
                    extra = candidate[0]
                    break
            else:
                continue
        # lower bound first, as people write ranges (packaging keeps its own order)
        out[(extra, _norm(req.name))] = ",".join(sorted(map(str, req.specifier), key=lambda s: s[0] != ">"))
    return out


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _installed(package: str) -> str | None:
    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return None


def supported_range(package: str, backend: str) -> str:
    """The specifier pyproject.toml declares for ``package`` in ``backend``'s extra (or core deps)."""
    extra, _ = KEY_PACKAGES[backend]
    declared = _declared()
    return declared.get((extra, _norm(package)), declared.get(("", _norm(package)), ""))


def check_backend(backend: str) -> list[PackageCheck]:
    _, packages = KEY_PACKAGES[backend]
    return [PackageCheck(p, _installed(p), supported_range(p, backend)) for p in packages]


def require_tested(backend: str) -> None:
    """Raise one line naming installed vs supported versions and the fix, unless overridden."""
    if os.environ.get(OVERRIDE_ENV):
        return
    bad = [c for c in check_backend(backend) if c.installed is not None and not c.ok]
    if bad:
        parts = "; ".join(f"{c.package} {c.installed} is installed, voicetune's {backend} backend is tested with "
                          f"{c.supported}" for c in bad)
        fixes = " ".join(c.fix for c in bad)
        raise VoicetuneError(f"{parts}. Fix: {fixes} (or set {OVERRIDE_ENV}=1 to try anyway)")
