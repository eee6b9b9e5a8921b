"""Paths a user types into the app (or a served API): resolved inside the allowed folders only.

The app's Evaluate and Train tabs take folder and file names as text. On a shared server such a
name must not reach the rest of the disk: ``../../etc/passwd``, ``/root/.ssh``, or a symbolic
link inside the data folder that points elsewhere. :func:`resolve_user_path` resolves the text
(symbolic links included) and accepts it only inside one of the allowed roots, by default the
configured data, results and runs folders (:func:`allowed_roots`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError

__all__ = ["ROOT_VARIABLES", "allowed_roots", "printable", "resolve_user_path"]

#: Environment variable -> default folder (relative to the working directory) of each allowed root.
ROOT_VARIABLES = {"FEXLAB_DATA_DIR": "data", "FEXLAB_RESULTS_DIR": "results", "FEXLAB_RUNS_DIR": "runs"}


def allowed_roots() -> list[Path]:
    """The folders typed paths may point into: ``$FEXLAB_DATA_DIR`` (default ``data``),
    ``$FEXLAB_RESULTS_DIR`` (``results``) and ``$FEXLAB_RUNS_DIR`` (``runs``), resolved."""
    return [Path(os.environ.get(name) or default).expanduser().resolve() for name, default in ROOT_VARIABLES.items()]


def resolve_user_path(text: str | os.PathLike, roots: Sequence[str | os.PathLike] | None = None, *,
                      must_exist: bool = False) -> Path:
    """The real path ``text`` names, if it lies inside one of ``roots`` (default :func:`allowed_roots`).

    A relative path names the first of ``./text``, ``root/text`` for each root, that exists
    (``fer2013.csv`` -> ``data/fer2013.csv``); a new path is ``./text`` when that lies in a root
    (``results/run1``), else ``first root/text``. Symbolic links and ``..`` are resolved before
    the check, so neither can lead out; ``~`` is not expanded. Raises :class:`InputError` saying
    which folders are allowed; with ``must_exist``, also when nothing is there.
    """
    raw = os.fspath(text).strip() if text is not None else ""
    if not raw:
        raise InputError("type a path first")
    if "\x00" in raw:
        raise InputError("the path contains a NUL character")
    bases = [Path(root).expanduser().resolve() for root in (roots if roots is not None else allowed_roots())]
    if not bases:
        raise InputError("no folder is allowed for paths here")
    given = Path(raw)
    candidates = [given] if given.is_absolute() else [given, *(base / given for base in bases)]
    resolved = [path.resolve() for path in candidates]
    existing = [path for original, path in zip(candidates, resolved) if original.exists() or original.is_symlink()]
    if existing:
        chosen = existing[0]
    elif given.is_absolute() or _within(resolved[0], bases):
        chosen = resolved[0]
    else:
        chosen = resolved[1]
    if not _within(chosen, bases):
        names = ", ".join(str(base) for base in bases)
        raise InputError(f"'{raw}' is outside the folders this app may read and write ({names}); "
                         "give a path inside one of them", typed=raw)
    if must_exist and not chosen.exists():
        raise InputError(f"'{raw}': no such file or folder", typed=raw)
    return chosen


def printable(text: str | os.PathLike) -> str:
    """``text`` (a path, or a message that names one) with the bytes of a file name that are not
    UTF-8 (``caf\xe9.jpg``, which Python holds as lone surrogates) shown as U+FFFD, so it can be
    printed, drawn and written as JSON."""
    text = os.fspath(text)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that no file name decoding made
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _within(path: Path, bases: Sequence[Path]) -> bool:
    return any(path == base or path.is_relative_to(base) for base in bases)
