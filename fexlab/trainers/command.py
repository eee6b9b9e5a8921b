"""The command-line side every trainer shares: ``--config`` / ``--resume`` plus one flag per
config field, and the resolved config (defaults < config file < flags, or the saved config of the
run being resumed). A trainer's light ``config`` module calls these two functions from its
``add_arguments`` and ``main``. Imports no torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fexlab.registry.errors import FexlabError, InputError

from .run import RunDirectory, add_dataclass_arguments, resolve_config, resumed_config

__all__ = ["add_run_arguments", "config_from_args", "reproduce_command", "run_module"]

C = TypeVar("C")
_NOT_CONFIG = ("config", "resume", "func", "trainer", "trainer_module", "command")


def add_run_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """``--config FILE``, ``--resume`` and one flag per field of ``config_class``."""
    parser.add_argument("--config", metavar="FILE", help="JSON / YAML / TOML file of options; flags override it")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last saved state (after a kill or to add --epochs)")
    add_dataclass_arguments(parser, config_class)


def config_from_args(config_class: type[C], args: argparse.Namespace, *, may_change: Sequence[str] = ()) -> C:
    """The config to run: from defaults, ``--config`` and flags, or with ``--resume`` the saved
    config of the run in ``--out`` (only the fields in ``may_change`` may differ)."""
    given: dict[str, Any] = {k: v for k, v in vars(args).items() if k not in _NOT_CONFIG}
    if not getattr(args, "resume", False):
        return resolve_config(config_class, given, getattr(args, "config", None))
    if not given.get("out"):
        raise InputError("--resume needs --out RUN_DIR: the run folder to continue")
    if getattr(args, "config", None):
        raise InputError("--resume continues a run with its saved config; drop --config")
    run = RunDirectory(given["out"], resume=True, is_main_process=False)
    return resumed_config(config_class, run, given, may_change=may_change)


def run_module(module: str, help_text: str, add_arguments: Callable[[argparse.ArgumentParser], None],
               main: Callable[[argparse.Namespace], int], argv: Sequence[str] | None = None) -> int:
    """``python -m MODULE`` (and ``accelerate launch -m MODULE``): parse, run, and turn a
    :class:`FexlabError` into one line on stderr and exit status 2, as ``fexlab`` does."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=help_text)
    add_arguments(parser)
    try:
        return int(main(parser.parse_args(argv)) or 0)
    except FexlabError as err:
        print(f"fexlab: {err}", file=sys.stderr)
        return 2


def reproduce_command(trainer: str, config: Any) -> str:
    """``fexlab train TRAINER`` with a flag for every field of ``config`` that is not its default."""
    parts = ["fexlab", "train", trainer]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if value == default or (isinstance(value, (list, tuple)) and tuple(value) == tuple(default or ())):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, (list, tuple)):
            parts += [flag, *(str(v) for v in value)]
        elif isinstance(value, dict):
            for key, item in value.items():
                parts += [flag, shlex.quote(f"{key}={json.dumps(item)}")]
        else:
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)
