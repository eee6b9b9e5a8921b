"""Model cards and ``--push-to-hub``: a trained checkpoint folder published to a hub repo.

The card says which data the model was trained on, plainly marking synthetic data, and gives the
run's metrics; huggingface_hub writes its metadata header. Pushing happens after the run is saved
locally, so a failure (no network, ``HF_HUB_OFFLINE=1``, no token) loses nothing: the error says
where the run is and the command that pushes it later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fexlab.registry.checkpoint import hub_offline
from fexlab.registry.errors import FexlabError

__all__ = ["PushError", "model_card", "push_folder", "write_checkpoint_card", "write_model_card"]

CARD_NAME = "README.md"


class PushError(FexlabError):
    """The local run is saved but could not be uploaded to the hub."""


def _edits(plugin: str) -> bool:
    """Whether the generator plugin ``plugin`` edits a given face (its card then shows ``--image``)."""
    from fexlab.registry import default_registry

    try:
        return default_registry().plugin_class("generator", plugin).edits()
    except FexlabError:  # not installed here: the card shows the plain command
        return False


def _metrics_table(metrics: Mapping[str, Any]) -> str:
    rows = [f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |"
            for key, value in metrics.items()]
    return "| metric | value |\n|---|---|\n" + "\n".join(rows) if rows else "No metrics were recorded."


def model_card(*, plugin: str, kind: str, training_data: str, synthetic: bool, metrics: Mapping[str, Any],
               config: Mapping[str, Any], base_model: str | None = None, tags: list[str] | None = None,
               extra: str = "") -> str:
    """The text of a model card (YAML header + Markdown) for a fexlab checkpoint; ``extra`` is
    Markdown appended at the end (e.g. the command that reproduces the run)."""
    from huggingface_hub import ModelCard, ModelCardData

    data = ModelCardData(
        library_name="fexlab",
        tags=["fexlab", kind, "facial-expression", *(["synthetic-data"] if synthetic else []), *(tags or [])],
        base_model=base_model,
        pipeline_tag="image-classification" if kind == "classifier" else None,
    )
    warning = (
        "\n> **Trained on synthetic faces** drawn by fexlab's FACS-style renderer, not on photographs. "
        "Its figures below say how well it separates rendered expressions; they are not comparable with "
        "results on real-face data sets such as FER2013 or RAF-DB.\n"
        if synthetic else ""
    )
    edits = kind == "generator" and _edits(plugin)
    command = (f"fexlab generate --plugin {plugin} --checkpoint <this repo or folder> --emotion happy "
               f"{'--image photo.jpg ' if edits else ''}--out faces/"
               if kind == "generator" else
               f"fexlab predict --classifier {plugin} --checkpoint <this repo or folder> photo.jpg")
    body = f"""
# fexlab {kind}: {plugin}

A `{plugin}` {kind} checkpoint for fexlab (facial expression lab). Load it with
`{command}`, or in Python with
`fexlab.registry.default_registry().load("{kind}", "{plugin}:<this repo or folder>")`.
{warning}
## Training data

{training_data}

## Metrics

{_metrics_table(metrics)}

## Training configuration

```json
{json.dumps(dict(config), indent=2, default=str)}
```
{extra}"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}").content


def write_model_card(folder: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as the folder's ``README.md`` (the card the hub shows)."""
    path = Path(folder) / CARD_NAME
    path.write_text(text, encoding="utf-8")
    return path


def write_checkpoint_card(folder: str | os.PathLike, *, kind: str, config: Mapping[str, Any],
                          command: str | None = None, base_model: str | None = None) -> Path:
    """Write the model card of a saved checkpoint from its own ``config.json`` (plugin, training
    data, metrics); ``command`` is the command line that reproduces the run."""
    from fexlab.registry.checkpoint import read_checkpoint_config

    saved = read_checkpoint_config(folder)
    extra = f"\n## Reproduce\n\n```bash\n{command}\n```\n" if command else ""
    card = model_card(plugin=saved["plugin"], kind=kind, training_data=str(saved.get("training_data")),
                      synthetic=bool(saved.get("synthetic")), metrics=saved.get("metrics") or {}, config=config,
                      base_model=base_model, extra=extra)
    return write_model_card(folder, card)


def push_folder(folder: str | os.PathLike, repo_id: str, *, run_dir: str | os.PathLike | None = None,
                private: bool = False, commit_message: str = "Upload fexlab checkpoint") -> str:
    """Create ``repo_id`` if needed and upload ``folder``; returns the commit URL.

    Any failure becomes a :class:`PushError` that says the local run is safe and how to retry.
    """
    from huggingface_hub import HfApi

    where = Path(run_dir) if run_dir is not None else Path(folder)
    try:
        api = HfApi()
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message=commit_message)
    except Exception as err:  # offline, no token, no permission, bad name: all leave the run intact
        reason = "HF_HUB_OFFLINE=1 is set" if hub_offline() else f"{type(err).__name__}: {str(err)[:200]}"
        raise PushError(
            f"could not push to the hub repo '{repo_id}' ({reason}); the run is saved in {where}. "
            f"Push it later with `hf upload {repo_id} {folder}`"
        ) from None
    return str(getattr(info, "commit_url", info))
