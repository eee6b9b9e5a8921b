"""``fexlab serve``: the web app."""

from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="launch the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fexlab import app
    app.launch(host=args.host, port=args.port, share=args.share)
    return 0
