"""The production entry point (`gunicorn api.wsgi:app`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine.settings import ROOT


def test_the_worker_keeps_its_long_lived_objects_out_of_the_collector(tmp_path: Path) -> None:
    """After the app is made, what it holds is frozen: a full collection walks only what requests made."""
    probe = ("import gc\nimport api.wsgi\nfrozen = gc.get_freeze_count()\n"
             "print(frozen, len(gc.get_objects()))\n")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'alur.sqlite'}", "ALUR_SECRET_KEY": "k" * 64,
           "ALUR_SCHEDULER": "0"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    frozen, tracked = int(out[0]), int(out[1])
    assert frozen > 50_000  # modules, the app, SQLAlchemy's and SpiffWorkflow's classes
    assert tracked < frozen / 2  # left for the collector: what was made after the freeze
