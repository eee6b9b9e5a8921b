"""What every ``fexlab`` command shares: printing, errors, output folders and the exit status of a
command that went on past bad inputs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from fexlab.registry import FexlabError, InputError
from fexlab.registry.paths import printable


def print_json(payload: Any) -> None:
    json.dump(_printable(payload), sys.stdout, indent=2)
    sys.stdout.write("\n")


def _printable(value: Any) -> Any:
    """``value`` with every text in it :func:`printable` (file names that are not UTF-8)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_printable(key): _printable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(item) for item in value]
    return value


def say(message: str) -> None:
    """Print ``message`` on stdout, with the names in it :func:`printable`."""
    print(printable(message))


def err(message: str) -> None:
    print(f"fexlab: {printable(message)}", file=sys.stderr)


def check_output_dir(path: str | Path) -> Path:
    """Fail now, before any work, when ``path`` (a folder to write into) cannot be made or written
    to; nothing is made yet, so a usage error found later leaves no folder behind. The command
    makes it with :func:`make_output_dir` (or its library call does) when it writes."""
    path = Path(path)
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        problem = "it is a file" if existing == path.absolute() else f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    else:
        return path
    raise InputError(f"cannot write to the output folder {path}: {problem}")


def make_output_dir(path: str | Path) -> Path:
    """Make the output folder ``path`` checked by :func:`check_output_dir`, once every check has passed."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot write to the output folder {path}: {error.strerror or error}") from None
    return path


def skipped(failed: int, total: int, what: str) -> int:
    """The exit status of a command that went on past bad inputs (README, "Exit status"): 0 when
    none failed; else 1, after a last line on stderr saying how many were skipped."""
    if not failed:
        return 0
    err(f"skipped {failed} of {total} {what}{'s' if total != 1 else ''} that could not be read (see above); "
         "exit status 1")
    return 1


def input_failed(error: FexlabError) -> int:
    """The exit status of a command of one input that could not be read: 1, as for ``predict``'s bad
    files (README, "Exit status"), after the error and the count of skipped inputs on stderr."""
    err(str(error))
    return skipped(1, 1, "input")
