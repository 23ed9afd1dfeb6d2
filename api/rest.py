"""JSON API under /api/v1 (filled in by the REST API work)."""

from flask import Blueprint

bp = Blueprint("rest", __name__, url_prefix="/api/v1")
