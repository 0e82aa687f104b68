"""What the command lines share: an argument parser whose errors are one line (exit status 2), not the
whole usage text."""

from __future__ import annotations

import argparse
import sys


class OneLineParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose :meth:`error` prints ``<name>: error: <message>`` and exits 2;
    ``name`` defaults to ``prog``."""

    def __init__(self, *args, name: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = name or self.prog

    def error(self, message):
        print(f"{self.name}: error: {message}", file=sys.stderr)
        raise SystemExit(2)
