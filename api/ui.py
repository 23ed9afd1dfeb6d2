"""Server-rendered UI in Bahasa Indonesia (filled in by the UI work)."""

from flask import Blueprint

bp = Blueprint("ui", __name__)


@bp.get("/login")
def login() -> str:
    return "login"
