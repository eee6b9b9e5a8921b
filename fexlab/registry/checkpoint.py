"""Checkpoint folders: ``config.json`` plus safetensors weights, written atomically, read safely.

A checkpoint is a directory holding ``config.json`` (plugin name and version, its config, labels,
training data and metrics) and weights in safetensors. Loading never unpickles. A source may be a
local folder or a Hugging Face hub id; the hub is reached through huggingface_hub, which honours
``HF_HUB_OFFLINE=1``: with no network a missing hub checkpoint raises :class:`NeedsWeightsError`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import CheckpointError, NeedsWeightsError
from .paths import ROOT_VARIABLES

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "atomic_directory",
    "atomic_write_text",
    "checkpoint_plugin",
    "hub_offline",
    "is_hub_id",
    "read_checkpoint_config",
    "recover_directory",
    "replace_directory",
    "resolve_source",
    "source_available",
    "write_checkpoint_config",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``target`` in one rename.

    A crash or kill while writing leaves ``target`` as it was (the previous checkpoint stays
    loadable) and at most a ``.tmp-*`` folder beside it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        yield tmp
        replace_directory(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def replace_directory(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move the finished folder ``source`` to ``target``, replacing what was there, by renames.

    ``target`` is never half-written: it is either the old folder or the new one.
    """
    source, target = Path(source), Path(target)
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
        os.replace(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(source, target)


def recover_directory(target: str | os.PathLike) -> bool:
    """Put the previous folder back when a kill between :func:`replace_directory`'s two renames
    left ``target`` missing and its ``.old-NAME-PID`` copy beside it; True if it did.

    A copy whose writing process is still alive is left alone (it is mid-replace, not killed).
    """
    target = Path(target)
    if target.exists() or not target.parent.is_dir():
        return False
    for old in sorted(target.parent.glob(f".old-{target.name}-*"), key=lambda p: p.stat().st_mtime, reverse=True):
        pid = old.name.rsplit("-", 1)[-1]
        if not old.is_dir() or (pid.isdigit() and _alive(int(pid))):
            continue
        try:
            os.replace(old, target)
        except OSError:
            return False
        return True
    return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_checkpoint_config(
    directory: str | os.PathLike,
    *,
    plugin: str,
    kind: str,
    plugin_version: str,
    config: dict[str, Any],
    labels: Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``config.json`` describing a checkpoint; ``metadata`` adds training data, metrics..."""
    from . import __version__

    payload: dict[str, Any] = {
        "plugin": plugin,
        "kind": kind,
        "plugin_version": plugin_version,
        "fexlab_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "labels": list(labels) if labels is not None else None,
        "training_data": None,
        "metrics": {},
    }
    payload.update(metadata or {})
    path = Path(directory) / CONFIG_NAME
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def read_checkpoint_config(directory: str | os.PathLike, *, plugin: str | None = None, kind: str | None = None,
                           name: str | None = None) -> dict[str, Any]:
    """Read a checkpoint's ``config.json``; when ``kind`` (classifier, generator) or ``plugin`` is
    given, check it was made for it. ``name`` is how messages call the folder (default: ``directory``)."""
    path = Path(directory) / CONFIG_NAME
    name = name or str(directory)
    if not path.is_file():
        raise CheckpointError(f"'{name}' is not a fexlab checkpoint: it has no {CONFIG_NAME}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(
            f"the {CONFIG_NAME} of '{name}' is not valid JSON ({err}); the checkpoint is damaged") from err
    if not isinstance(payload, dict) or "config" not in payload:
        raise CheckpointError(f"the {CONFIG_NAME} of '{name}' has no 'config' entry; it was not written by fexlab")
    if kind is not None and payload.get("kind") not in (None, kind):
        raise CheckpointError(f"'{name}' is a {payload['kind']} checkpoint, not a {kind}")
    if plugin is not None and payload.get("plugin") not in (None, plugin):
        raise CheckpointError(
            f"'{name}' is a checkpoint of plugin '{payload.get('plugin')}', not '{plugin}'; "
            f"name it as {payload.get('plugin')}:{name}"
        )
    return payload


def checkpoint_plugin(source: str | os.PathLike) -> str | None:
    """The plugin name of a local checkpoint or training-run folder; None when ``source`` is neither."""
    path = Path(str(source)).expanduser()
    for folder in (path, path / "best"):
        if (folder / CONFIG_NAME).is_file():
            try:
                return read_checkpoint_config(folder).get("plugin") or None
            except CheckpointError:
                return None
    return None


def is_hub_id(source: str | os.PathLike) -> bool:
    """True for an ``owner/name`` string that is not a local path.

    A path that exists, starts with ``.``, ``/`` or ``~``, or whose first part is a folder here or
    one of fexlab's own folders (``runs/convnext``) is local, even when it does not exist.
    """
    text = str(source)
    if Path(text).exists() or text.startswith((".", "/", "~")) or "\\" in text:
        return False
    parts = text.split("/")
    local_first = parts[0] in set(ROOT_VARIABLES.values()) or Path(parts[0]).is_dir()
    return len(parts) == 2 and all(parts) and not local_first


def hub_offline() -> bool:
    """Whether huggingface_hub is told not to reach the network."""
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() in {"1", "true", "yes", "on"}


def resolve_source(source: str | os.PathLike, *, allow_patterns: Sequence[str] | None = None) -> Path:
    """A local checkpoint folder for ``source``: the folder itself, or a hub snapshot.

    Raises :class:`NeedsWeightsError` when a hub id is not cached and the hub cannot be reached,
    and :class:`CheckpointError` when a local path does not exist.
    """
    path = Path(source).expanduser()
    recover_directory(path)  # a kill mid-replace may have left only the previous copy beside it
    if path.is_dir() and not (path / CONFIG_NAME).exists():
        recover_directory(path / "best")
        if (path / "best" / CONFIG_NAME).exists():
            return path / "best"  # a training run folder: use its best checkpoint
    if path.exists():
        return path
    if not is_hub_id(source):
        raise CheckpointError(f"no checkpoint at '{source}': the path does not exist")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(source), allow_patterns=list(allow_patterns) if allow_patterns else None))
    except Exception as err:  # offline mode, no network, missing repo: all mean "no weights here"
        reason = "HF_HUB_OFFLINE=1 is set" if hub_offline() else f"{type(err).__name__}: {err}"
        raise NeedsWeightsError(
            f"'{source}' is not in the local Hugging Face cache and cannot be downloaded ({reason}); "
            "run once with network access, or pass a local checkpoint folder"
        ) from None


def source_available(source: str | os.PathLike) -> tuple[bool, str]:
    """Whether ``source`` can be loaded now without side effects, and why (for ``status()``)."""
    path = Path(source).expanduser()
    if path.exists():
        return True, f"weights at {path}"
    if not is_hub_id(source):
        return False, f"no checkpoint at '{source}'"
    from huggingface_hub import snapshot_download

    with contextlib.suppress(Exception):
        snapshot_download(str(source), local_files_only=True)
        return True, f"'{source}' from the local Hugging Face cache"
    if hub_offline():
        return False, f"'{source}' is not cached and HF_HUB_OFFLINE=1; run once with network to download it"
    reachable, reason = hub_reachable(str(source))
    if not reachable:
        return False, f"'{source}' is not cached and the Hugging Face hub cannot be reached ({reason})"
    return True, f"downloads '{source}' from the Hugging Face hub on first use"


def hub_reachable(repo_id: str, timeout: float = 5.0) -> tuple[bool, str]:
    """Whether the hub answers for model ``repo_id`` now (a few seconds at most), and why not."""
    from huggingface_hub import HfApi

    try:
        HfApi().model_info(repo_id, timeout=timeout)
    except Exception as err:  # no network, no such repo, a gated one: it would not download
        return False, str(err).splitlines()[0][:120] or type(err).__name__
    return True, ""
