"""``bulksend completion bash|zsh``: print a shell completion script (made by shtab)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

SHELLS = ("bash", "zsh", "tcsh")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "completion", help="print a shell completion script (bash or zsh)",
        description="Print a completion script for every command and option. Install it with\n"
                    "  bulksend completion bash > ~/.local/share/bash-completion/completions/bulksend\n"
                    "  bulksend completion zsh > \"${fpath[1]}/_bulksend\"   (then restart the shell)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shell", choices=SHELLS, help="the shell to complete for")
    p.set_defaults(func=run)


def script(shell: str) -> str:
    import shtab

    from bulksend.cli import build_parser

    return str(shtab.complete(build_parser(full=True), shell=shell))


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return 0
