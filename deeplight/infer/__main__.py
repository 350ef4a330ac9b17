"""``python -m deeplight.infer ...`` runs ``deeplight predict ...`` (a ``__main__``-guarded entry, as
Dask's LocalCluster with worker processes requires)."""

from __future__ import annotations

import sys

from deeplight.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["predict", *sys.argv[1:]]))
