"""Pages of the speaker registry and each speaker's calendar (staff read; admins and process owners edit).

Thin views over `Alur` (engine/speakers.py does the work); errors are shown next to the field.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from api import services
from api.ui import _domain_error, _layout, actor
from engine.errors import AlurError, Forbidden, InvalidData
from engine.speakers import STATUS_LABEL

bp = Blueprint("speakers_ui", __name__)
FIELDS = ("name", "nip", "jabatan", "unit", "topics")
bp.register_error_handler(AlurError, _domain_error)
bp.context_processor(_layout)  # the header (who is logged in, the menu) as on every page


def _staff() -> None:
    if not actor().is_staff:
        raise Forbidden("daftar narasumber hanya untuk pegawai")


def _values() -> dict[str, Any]:
    values: dict[str, Any] = {k: request.form.get(k, "") for k in FIELDS}
    values["active"] = request.form.get("active") == "true"
    return values


@bp.get("/narasumber")
@login_required
def speakers() -> Any:
    _staff()
    return render_template("speakers.html", speakers=services().speaker_list(), values={}, error=None,
                           can_manage=_can_manage())


def _can_manage() -> bool:
    who = actor()
    return who.is_admin or who.is_process_owner


@bp.post("/narasumber")
@login_required
def add_speaker() -> Any:
    _staff()
    values = _values()
    try:
        speaker = services().save_speaker(actor(), values)
    except InvalidData as exc:
        return render_template("speakers.html", speakers=services().speaker_list(), values=values, error=exc,
                               can_manage=_can_manage()), 422
    flash(f"Narasumber {speaker.name} ditambahkan.", "ok")
    return redirect(url_for("speakers_ui.speaker", speaker_id=speaker.id))


def _render(speaker_id: int, values: dict[str, Any] | None = None, error: InvalidData | None = None,
            entry: dict[str, Any] | None = None, entry_error: InvalidData | None = None, status: int = 200) -> Any:
    _staff()
    alur = services()
    speaker = alur.speaker(speaker_id)
    first = request.args.get("dari", type=date.fromisoformat) or date.today() - timedelta(days=30)
    last = request.args.get("sampai", type=date.fromisoformat) or first + timedelta(days=180)
    entries = alur.speaker_calendar(speaker_id, first, last, include_released=True)
    return render_template("speaker.html", speaker=speaker, entries=entries, first=first, last=last,
                           values=values or {k: getattr(speaker, k) or "" for k in FIELDS},
                           error=error, entry=entry or {}, entry_error=entry_error, status_label=STATUS_LABEL,
                           can_manage=_can_manage()), status


@bp.get("/narasumber/<int:speaker_id>")
@login_required
def speaker(speaker_id: int) -> Any:
    return _render(speaker_id)


@bp.post("/narasumber/<int:speaker_id>")
@login_required
def edit_speaker(speaker_id: int) -> Any:
    _staff()
    values = _values()
    try:
        services().save_speaker(actor(), values, speaker_id)
    except InvalidData as exc:
        return _render(speaker_id, values=values, error=exc, status=422)
    flash("Data narasumber disimpan.", "ok")
    return redirect(url_for("speakers_ui.speaker", speaker_id=speaker_id))


@bp.post("/narasumber/<int:speaker_id>/jadwal")
@login_required
def add_entry(speaker_id: int) -> Any:
    _staff()
    entry = {k: request.form.get(k, "") for k in ("title", "place", "starts_at", "ends_at")}
    try:
        services().add_engagement(actor(), speaker_id, entry)
    except InvalidData as exc:
        return _render(speaker_id, entry=entry, entry_error=exc, status=422)
    flash("Jadwal ditambahkan.", "ok")
    return redirect(url_for("speakers_ui.speaker", speaker_id=speaker_id))


@bp.post("/narasumber/<int:speaker_id>/jadwal/<int:entry_id>/lepas")
@login_required
def remove_entry(speaker_id: int, entry_id: int) -> Any:
    _staff()
    services().remove_engagement(actor(), speaker_id, entry_id)
    flash("Jadwal dilepas.", "ok")
    return redirect(url_for("speakers_ui.speaker", speaker_id=speaker_id))
