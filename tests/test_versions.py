"""Backends check the packages whose internals they drive against pyproject.toml's tested ranges."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from voicetune import versions
from voicetune.cli import app
from voicetune.errors import VoicetuneError


def test_ranges_come_from_pyproject_and_the_installed_set_is_inside_them():
    assert versions.supported_range("transformers", "xtts") == ">=4.57,<5.25"
    assert versions.supported_range("coqui-tts", "xtts") == ">=0.27,<0.29"
    assert versions.supported_range("piper-tts", "vits") == ">=1.3,<2"
    for backend in ("vits", "mms", "xtts"):
        checks = versions.check_backend(backend)
        assert checks and all(c.ok for c in checks), [c.describe() for c in checks]
    versions.require_tested("xtts")  # the locked environment passes


def _fake(monkeypatch, **installed):
    real = versions._installed
    monkeypatch.setattr(versions, "_installed", lambda p: installed.get(p.replace("-", "_"), real(p)))


def test_an_untested_release_is_one_line_with_versions_and_the_fix(monkeypatch):
    _fake(monkeypatch, transformers="5.30.1")
    with pytest.raises(VoicetuneError) as err:
        versions.require_tested("xtts")
    msg = str(err.value)
    assert "\n" not in msg
    assert "transformers 5.30.1 is installed" in msg and ">=4.57,<5.25" in msg
    assert "pip install 'transformers>=4.57,<5.25'" in msg
    monkeypatch.setenv(versions.OVERRIDE_ENV, "1")
    versions.require_tested("xtts")


def test_xtts_entry_point_and_doctor_report_it(monkeypatch, tmp_path):
    pytest.importorskip("coqpit")  # coqui-tts installed
    _fake(monkeypatch, coqui_tts="0.30.0")
    from voicetune.models.xtts.compat import import_coqui

    with pytest.raises(VoicetuneError, match=r"coqui-tts 0.30.0 is installed.*pip install 'coqui-tts>=0.27,<0.29'"):
        import_coqui()
    from voicetune.doctor import version_checks

    row = next(c for c in version_checks() if c.name == "xtts versions")
    assert not row.ok and "coqui-tts 0.30.0 (outside the tested range" in row.detail
    assert "Fix: pip install 'coqui-tts>=0.27,<0.29'" in row.detail
    res = CliRunner().invoke(app, ["doctor"])
    assert "xtts versions" in res.output


def test_not_installed_is_not_a_range_error(monkeypatch):
    monkeypatch.setattr(versions, "_installed", lambda p: None)
    versions.require_tested("xtts")  # a missing package is reported by the import, not as a version
    assert not versions.check_backend("mms")[0].ok
