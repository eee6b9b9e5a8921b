"""What every ``fexlab`` command shares: printing, errors, output folders and the exit status of a
command that went on past bad inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fexlab.registry import InputError


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


def err(message: str) -> None:
    print(f"fexlab: {message}", file=sys.stderr)


def check_output_dir(path: str | Path) -> Path:
    """Create ``path`` (a folder to write into) or fail before any work is done."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".fexlab-write-test"
        probe.write_bytes(b"")
        probe.unlink()
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
