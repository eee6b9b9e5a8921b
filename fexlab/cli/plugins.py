"""``fexlab plugins``: the installed plugins, whether each is ready, its tags and options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fexlab.registry import FexlabError, default_registry

from .common import print_json


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list installed plugins and whether they are ready")
    p.add_argument("--kind", choices=["classifier", "generator", "detector", "analyzer"], help="only this kind")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of {name, kind, status, detail, tags, options}")
    p.set_defaults(func=run)


def plugin_extras(registry: Any, kind: str, name: str) -> dict[str, Any]:
    """A plugin's pretrained tags (``NAME.TAG``, the default first) and its generator options."""
    from fexlab.registry.checkpoint import is_hub_id

    try:
        cls = registry.plugin_class(kind, name)
    except FexlabError:
        return {"tags": [], "options": {}}
    tags = []
    for number, (tag, source) in enumerate(getattr(cls, "pretrained", {}).items()):
        notes = ["default"] if number == 0 else []
        if not is_hub_id(source) and not Path(source).exists():
            notes.append("no weights here")
        tags.append(f"{name}.{tag}" + (f" ({', '.join(notes)})" if notes else ""))
    options = {key: value for key, value in getattr(cls, "options", {}).items() if key != "image"}
    return {"tags": tags, "options": options}


def run(args: argparse.Namespace) -> int:
    registry = default_registry()
    infos = registry.infos(args.kind)
    extras = [plugin_extras(registry, info.kind, info.name) for info in infos]
    if args.json:
        print_json([{**info.as_dict(), **extra} for info, extra in zip(infos, extras, strict=True)])
        return 0
    width = max((len(i.name) for i in infos), default=4)
    indent = " " * (10 + 2 + width + 2 + 13 + 2)
    for info, extra in zip(infos, extras, strict=True):
        print(f"{info.kind:<10}  {info.name:<{width}}  {info.status:<13}  {info.detail}")
        if extra["tags"]:
            print(f"{indent}tags: {', '.join(extra['tags'])}")
        if extra["options"]:
            options = ", ".join(f"{key}={value!r}" if isinstance(value, str) else f"{key}=(unset)" if value is None
                                else f"{key}={value}" for key, value in extra["options"].items())
            print(f"{indent}options (--option KEY=VALUE): {options}")
    return 0
