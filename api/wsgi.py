"""The WSGI entry point for gunicorn: `gunicorn api.wsgi:app`."""

import gc

from api import create_app

app = create_app()
# What the worker holds for its life (modules, the app, parsed diagrams) leaves the collector's view: a
# collection of the old generation then walks only what requests made, not ~100 MB of the app (a pause
# of tens of ms in some request otherwise).
gc.collect()
gc.freeze()
