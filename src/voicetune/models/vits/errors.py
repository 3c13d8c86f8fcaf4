"""Errors for voice files (import, export, loading); each message names the file and the fix."""

from __future__ import annotations

from voicetune.errors import VoicetuneError


class VoiceError(VoicetuneError):
    """A voice file is missing, is not a Piper/VITS voice, or does not match its config."""
