"""Plugins tab: every installed plugin, its status and source package, what to do when it needs
weights, and how to add one from your own package."""

from __future__ import annotations

import gradio as gr

from fexlab.registry import Registry

from .common import app_detail, clear_on_error, user_errors

__all__ = ["COLUMNS", "GUIDE", "build", "plugin_table"]

GUIDE = """
### Add a model from your own package

fexlab finds models through Python entry points, so a plugin lives in *your* package and needs
no edit here.

1. **Write the class.** Subclass one of the four kinds and give it a config dataclass:

   | kind | base class | you implement | entry-point group |
   |---|---|---|---|
   | classifier | `registry.Classifier` | `torch_module()`; config: `input_size`, `grayscale` | `fexlab.classifiers` |
   | generator | `registry.Generator` | `generate(emotions, seed, **options)`; `interpolate` | `fexlab.generators` |
   | detector | `registry.FaceDetector` | `detect(image) -> list[Face]` | `fexlab.detectors` |
   | analyzer | `registry.FaceAnalyzer` | `analyze(image, faces) -> list[dict]` (per face: `mesh`, `blendshapes`, `action_units`, `head_pose`, ...) | `fexlab.analyzers` |

   ```python
   from dataclasses import dataclass
   from fexlab.registry import Classifier

   @dataclass
   class MyConfig:
       input_size: int = 64
       grayscale: bool = False

   class MyModel(Classifier):
       description = "my emotion classifier"
       config_class = MyConfig
       pretrained = {"default": "my-org/my-model"}   # a hub id or folder; first tag is the default
       weights_hint = "train one with `fexlab train classifier --plugin my_model`"

       def __init__(self, config=None, **kwargs):
           super().__init__(config, **kwargs)
           self.net = build_my_network(self.config)

       def torch_module(self):
           return self.net
   ```
   Batching, the mapping of your labels onto the seven emotions, checkpoints (`config.json` +
   `model.safetensors`), hub downloads and `status()` come from the base class. Import heavy
   libraries inside methods, not at the top of the module, so the app starts fast.
2. **Declare the entry point** in your package's `pyproject.toml`:

   ```toml
   [project.entry-points."fexlab.classifiers"]
   my_model = "my_package.plugin:MyModel"
   ```
3. **Install it** next to fexlab (`pip install -e .`). It shows up in this table, in
   `fexlab plugins`, and in every tab, the CLI, the trainers and the evaluation.

A plugin that fails to import is listed here as **broken** with its error while the others keep
working. One whose weights are not on this machine is **needs weights**, with what to run; it
is left out of the other tabs' choices until its weights are there.
"""

COLUMNS = ["kind", "name", "status", "about", "details and what to do", "package"]


def plugin_table(registry: Registry) -> list[list[str]]:
    """Rows of (kind, name, status, description, detail in the app's terms, package) for every plugin."""
    return [[i.kind, i.name, i.status, i.description, app_detail(i.kind, i.detail), i.package]
            for i in registry.infos()]


def build(registry: Registry) -> None:
    """Lay out the Plugins tab inside the current ``gr.Blocks`` context."""
    rows = plugin_table(registry)
    ready = sum(row[2] == "ready" for row in rows)
    gr.Markdown(f"**{ready} of {len(rows)} plugins are ready.** Plugins that need weights are listed with what "
                "to do; the other tabs offer only the ready ones.")
    table = gr.Dataframe(rows, headers=COLUMNS, label="Installed plugins", interactive=False, wrap=True,
                         column_widths=["9%", "11%", "9%", "22%", "37%", "12%"], max_height=900,
                         datatype=["str", "str", "str", "str", "markdown", "str"],
                         elem_id="plugins-table", elem_classes=["fexlab-table"])
    refresh = gr.Button("Check again")
    gr.Markdown(GUIDE)
    clear_on_error(refresh.click(user_errors(lambda: plugin_table(registry)), None, table, api_name="plugins"), [table])
