"""Plugins tab: every installed plugin, its status and source package, and how to add one."""

from __future__ import annotations

import gradio as gr

from registry import Registry

from .common import user_errors

__all__ = ["GUIDE", "build", "plugin_table"]

GUIDE = """
### Add a model from your own package

1. Subclass `registry.Classifier` (or `Generator`, `FaceDetector`). A classifier gives a config
   dataclass, its `torch_module()` and its `input_spec()` (size, gray or RGB, normalisation);
   batching, label mapping, checkpoints and status come from the base class.
2. Declare an entry point in your package's `pyproject.toml`:

   ```toml
   [project.entry-points."fexlab.classifiers"]
   my_model = "my_package.plugin:MyModel"
   ```
3. `pip install` your package next to fexlab. `fexlab plugins` lists it, and the app, the CLI,
   the trainers and the evaluation pick it up with no edit to fexlab.

A plugin that fails to import is listed here as **broken** with its error; the others keep
working. One that has no weights on this machine is **needs weights**, with what to run.
"""

COLUMNS = ["kind", "name", "status", "detail", "package"]


def plugin_table(registry: Registry) -> list[list[str]]:
    """Rows of (kind, name, status, detail, package) for every plugin."""
    return [[i.kind, i.name, i.status, i.detail, i.package] for i in registry.infos()]


def build(registry: Registry) -> None:
    """Lay out the Plugins tab inside the current ``gr.Blocks`` context."""
    table = gr.Dataframe(plugin_table(registry), headers=COLUMNS, label="Installed plugins", interactive=False,
                         wrap=True)
    refresh = gr.Button("Refresh")
    gr.Markdown(GUIDE)
    refresh.click(user_errors(lambda: plugin_table(registry)), None, table, api_name="plugins")
