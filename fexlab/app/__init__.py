"""The Gradio web app: :func:`build_demo` assembles it over a registry, :func:`launch` serves it.

One module per tab (``predict``, ``live``, ``video``, ``generate``, ``evaluate``, ``train``,
``plugins``), each with plain handler functions (the tests call them directly) and a
``build(registry)`` that lays out the tab's components and wires its events; ``common`` holds
what the tabs share.
"""

from .demo import CSS, build_demo, ensure_space_weights, launch

__all__ = ["CSS", "build_demo", "ensure_space_weights", "launch"]
