"""Command group (filled in by the package that owns it)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's sub-commands to the ``deeplight`` parser."""
