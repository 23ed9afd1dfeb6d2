"""The WSGI entry point for gunicorn: `gunicorn api.wsgi:app`."""

import gc

from api import create_app
from engine.warmup import warm_up

app = create_app()
warm_up(app.extensions["alur"])  # each worker: its first requests as fast as the rest (engine/warmup.py)
# What the worker holds for its life (modules, the app, parsed diagrams) leaves the collector's view: a
# collection of the old generation then walks only what requests made, not ~100 MB of the app (a pause
# of tens of ms in some request otherwise).
gc.collect()
gc.freeze()
