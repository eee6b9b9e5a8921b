"""What every tab shares: turning errors into messages, plugin choices, status notes."""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from registry import FexlabError, Registry

__all__ = ["OUTPUT_DIR", "image_file", "plugin_choices", "unavailable_note", "upload_name", "upload_path", "user_errors"]

log = logging.getLogger("fexlab.app")

#: Where :func:`image_file` writes the images the app shows.
OUTPUT_DIR = Path(tempfile.gettempdir()) / "fexlab-app"
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Show a :class:`FexlabError` as a one-line message in the app; log anything else and say so
    briefly, so a broken plugin or bad input never shows a traceback nor stops the app."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except FexlabError as err:
            raise gr.Error(str(err), print_exception=False) from None
        except Exception as err:  # an unexpected failure: keep serving, tell the user what broke
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"{type(err).__name__}: {err}", print_exception=False) from None

    return wrapper  # type: ignore[return-value]


def plugin_choices(registry: Registry, kind: str) -> list[str]:
    """Names of the plugins of ``kind`` that are ready to use."""
    return registry.ready_names(kind)


def unavailable_note(registry: Registry, kind: str) -> str:
    """Markdown listing the plugins of ``kind`` that cannot be used now, and why."""
    rows = [info for info in registry.infos(kind) if info.status != "ready"]
    if not rows:
        return ""
    lines = [f"- **{info.name}** ({info.status}): {info.detail}" for info in rows]
    return f"Unavailable {kind}s:\n" + "\n".join(lines)


def upload_path(value: Any) -> str | None:
    """The file path of an upload as an event with ``preprocess=False`` receives it.

    Events that take files skip Gradio's own preprocessing so that fexlab's loader, not PIL's
    first guess, decides whether a file is usable and says why not.
    """
    if value is None or value == "":
        return None
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        return str(value)
    if isinstance(value, dict):
        return value.get("path") or None
    return getattr(value, "path", None)


def upload_name(value: Any) -> str:
    """The name the user gave an uploaded file, for messages (not Gradio's temporary path)."""
    name = value.get("orig_name") if isinstance(value, dict) else getattr(value, "orig_name", None)
    path = upload_path(value)
    return str(name or (os.path.basename(path) if path else "the upload"))


def image_file(image: Any) -> str:
    """A PNG file holding the RGB array ``image``, for a Gallery or Image output.

    Gradio caches an array under a name made from its content and rewrites that file in place on
    every request, so when two users get the same image at once (both clicked the same example)
    one browser can fetch a half-written file. A path is copied into Gradio's cache atomically
    instead; this file too is written under its content's hash through a rename.
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    data = buffer.getvalue()
    path = OUTPUT_DIR / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    if not path.is_file():
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(dir=OUTPUT_DIR, prefix=".staging-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(staging, path)
    return str(path)
