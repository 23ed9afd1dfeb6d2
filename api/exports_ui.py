"""Downloads of the registers: the outgoing-letter register, the request list and a speaker's calendar,
as XLSX or CSV (engine/exports.py). Staff only, with the same filters as the pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, request
from flask_login import login_required

from api import services
from api.ui import STATUS_LABELS, _domain_error, actor
from engine import exports
from engine.actors import Filters
from engine.clock import local
from engine.errors import AlurError, Forbidden
from engine.speakers import STATUS_LABEL

bp = Blueprint("exports_ui", __name__)
bp.register_error_handler(AlurError, _domain_error)
MAX_ROWS = 10_000


def _file(fmt: str, name: str, title: str, headers: list[str], rows: list[list[Any]]) -> Response:
    if fmt not in exports.FORMATS:
        abort(404)
    body = exports.table(fmt, title, headers, rows)
    response = Response(body, mimetype=exports.FORMATS[fmt].split(";")[0])
    if fmt == "csv":
        response.headers["Content-Type"] = exports.CSV
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _staff() -> None:
    if not actor().is_staff:
        raise Forbidden("ekspor hanya untuk pegawai")


def _when(moment: Any) -> str:
    return local(moment, services().settings.timezone).strftime("%Y-%m-%d %H:%M") if moment else ""


@bp.get("/buku-agenda/ekspor.<fmt>")
@login_required
def register(fmt: str) -> Response:
    _staff()
    year = request.args.get("tahun", type=int)
    entries = services().register(actor(), year)
    rows = [[e.number, e.letter_date, e.recipient, e.subject, e.instance_id, e.created_by] for e in entries]
    return _file(fmt, f"buku-agenda-{year or 'semua'}", "Buku agenda surat keluar",
                 ["Nomor surat", "Tanggal", "Tujuan", "Perihal", "Permohonan", "Dicatat oleh"], rows)


@bp.get("/permohonan/ekspor.<fmt>")
@login_required
def requests(fmt: str) -> Response:
    _staff()
    status = request.args.get("status") or None
    found = services().instances(actor(), Filters(status=status if status in STATUS_LABELS else None,
                                                  process=request.args.get("proses") or None, limit=MAX_ROWS))
    ready = services().ready_of([i.id for i in found]) if found else {}
    rows = [[i.id, i.perihal, i.agency, STATUS_LABELS.get(i.status, i.status), _when(i.started_at),
             ", ".join(f"{r.step_no or '-'}. {r.name}" for r in ready.get(i.id, [])), i.letter_number,
             _when(i.ended_at)] for i in found]
    return _file(fmt, f"daftar-permohonan-{date.today().isoformat()}", "Daftar permohonan",
                 ["No", "Perihal", "Instansi", "Status", "Mulai", "Langkah sekarang", "Nomor surat", "Selesai"],
                 rows)


@bp.get("/narasumber/<int:speaker_id>/ekspor.<fmt>")
@login_required
def calendar(speaker_id: int, fmt: str) -> Response:
    _staff()
    speaker = services().speaker(speaker_id)
    entries = services().speaker_calendar(speaker_id, include_released=True)
    rows = [[e.starts_at.strftime("%Y-%m-%d %H:%M"), e.ends_at.strftime("%Y-%m-%d %H:%M"), e.title, e.place,
             STATUS_LABEL.get(e.status, e.status), f"permohonan {e.instance_id}" if e.instance_id else "manual"]
            for e in entries]
    return _file(fmt, f"jadwal-narasumber-{speaker_id}", f"Jadwal {speaker.name}",
                 ["Mulai", "Selesai", "Kegiatan", "Tempat", "Status", "Asal"], rows)
