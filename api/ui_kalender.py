"""The office calendar page (Kalender kerja): national holidays, the admin's extra days off and changes.

Routes live on the UI blueprint (same layout, login and error pages); this module only adds them.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from api import services
from api.ui import actor, bp
from engine.clock import local, utcnow
from engine.errors import AlurError
from engine.office import parse_day
from engine.worktime import HARI


@bp.get("/kalender")
@login_required
def calendar_page() -> str:
    year = request.args.get("tahun", type=int) or local(utcnow(), services().settings.timezone).year
    year = min(max(year, 2000), 2999)
    alur = services()
    hours = alur.office.hours
    office_hours = [(HARI[d], f"{hours[d][0]:%H:%M}-{hours[d][1]:%H:%M}" if d in hours else "libur")
                    for d in range(7)]
    return render_template("calendar.html", year=year, days=alur.calendar_days(year), office_hours=office_hours,
                           hari=HARI, timezone=alur.settings.timezone)


def _back(day_text: str | None) -> Any:
    year = (day_text or "")[:4]
    return redirect(url_for("ui.calendar_page", tahun=year if year.isdigit() else None))


@bp.post("/kalender/libur")
@login_required
def calendar_add() -> Any:
    text = request.form.get("tanggal")
    try:
        services().add_holiday(parse_day(text), request.form.get("nama", ""), actor())
        flash(f"Hari libur {text} ditambahkan.", "ok")
    except AlurError as exc:
        flash(exc.message, "error")
    return _back(text)


@bp.post("/kalender/<tanggal>/masuk")
@login_required
def calendar_work(tanggal: str) -> Any:
    try:
        services().work_on_holiday(parse_day(tanggal), actor())
        flash(f"{tanggal} menjadi hari kerja kantor.", "ok")
    except AlurError as exc:
        flash(exc.message, "error")
    return _back(tanggal)


@bp.post("/kalender/<tanggal>/hapus")
@login_required
def calendar_remove(tanggal: str) -> Any:
    try:
        services().remove_calendar_change(parse_day(tanggal), actor())
        flash(f"Perubahan kalender pada {tanggal} dihapus.", "ok")
    except AlurError as exc:
        flash(exc.message, "error")
    return _back(tanggal)
