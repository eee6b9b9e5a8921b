"""Errors fexlab raises on purpose: each message says what was wrong and what to do.

The CLI and the app print ``str(error)`` of a :class:`FexlabError` as one line, never a traceback.
"""

from __future__ import annotations

__all__ = [
    "FexlabError",
    "InputError",
    "NoFaceError",
    "PluginError",
    "UnknownPluginError",
    "BrokenPluginError",
    "NeedsWeightsError",
    "CheckpointError",
]


class FexlabError(Exception):
    """Base of the errors a user can act on."""


class InputError(FexlabError, ValueError):
    """Bad user input: a file that is no image, an empty upload, a huge image, a bad option.

    ``typed`` is the text the user typed, when the message quotes it: the app shows it as typed,
    where it shortens the server's own paths."""

    def __init__(self, *args: object, typed: str | None = None) -> None:
        super().__init__(*args)
        self.typed = typed


class NoFaceError(InputError):
    """A photo or video was read, but it has no face where one is needed (an edit, an avatar).
    The CLI says so and exits 0: media without a face are not an error."""


class PluginError(FexlabError):
    """A plugin cannot be found, imported or used."""


class UnknownPluginError(PluginError, LookupError):
    """No plugin of that kind has that name."""


class BrokenPluginError(PluginError):
    """The plugin's entry point failed to import or does not implement its interface."""


class NeedsWeightsError(PluginError):
    """The plugin exists but its weights are not on this machine."""


class CheckpointError(FexlabError):
    """A checkpoint folder is missing, incomplete or made for another plugin."""
