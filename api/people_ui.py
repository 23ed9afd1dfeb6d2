"""Pages for the people of the SOP: accounts (admins), lanes (owners and admins), cancelling a request.

Thin views over `engine.people`; the rules (who may, which lane names) live there.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from api import services, ui
from engine.errors import AlurError, Forbidden, InvalidData
from engine.people import UserChange, change_user, deployed_lanes, lanes_overview, search_users
from engine.users import add_user

bp = Blueprint("people", __name__)
bp.context_processor(ui._layout)
bp.errorhandler(AlurError)(ui._domain_error)


def link(endpoint: str, **values: Any) -> str | None:
    """The URL of a page if this installation has it (pages of other features are optional)."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


@bp.app_context_processor
def _links() -> dict[str, Any]:
    return {"link": link}


def _render_users(errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                  status: int = 200) -> tuple[str, int]:
    query = request.args.get("q", "").strip()[:200]
    found = search_users(services(), ui.actor(), query)
    return render_template("users.html", users=found, query=query, diagram_lanes=deployed_lanes(services()),
                           errors=errors or {}, values=values or {}), status


@bp.get("/pengguna")
@login_required
def users() -> Any:
    return _render_users()


@bp.post("/pengguna")
@login_required
def user_add() -> Any:
    """An administrator adds an account, its lane chosen from the diagrams (or typed and confirmed)."""
    form = request.form
    values = {k: form.get(k, "") for k in ("username", "full_name", "agency", "lane", "lane_lain")}
    lane = values["lane_lain"].strip() or values["lane"].strip()
    try:
        user = add_user(services(), ui.actor(), values["username"].strip(), form.get("password", ""),
                        [lane] if lane else [], values["full_name"].strip(), values["agency"].strip() or None,
                        bool(form.get("pemilik")), False, bool(form.get("konfirmasi")))
    except InvalidData as exc:
        return _render_users({exc.field or "umum": exc.message}, values, 422)
    flash(f"Pengguna {user.username} ditambahkan.", "ok")
    return redirect(url_for("people.user", username=user.username))


def _render_user(username: str, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                 status: int = 200) -> tuple[str, int]:
    who = ui.actor()
    [user] = [u for u in search_users(services(), who, "") if u.username == username] or [None]
    if user is None:
        return render_template("error.html", message=f"Pengguna '{username}' tidak ditemukan.", code=404), 404
    lanes = deployed_lanes(services())
    return render_template("user.html", user=user, diagram_lanes=[n for n in lanes if n not in user.lane_names],
                           unknown_lanes=sorted(user.lane_names - set(lanes)), errors=errors or {},
                           values=values or {}), status


@bp.get("/pengguna/<username>")
@login_required
def user(username: str) -> Any:
    return _render_user(username)


ACTIONS = {"tambah_lane", "hapus_lane", "jadikan_kepala", "cabut_kepala", "nonaktifkan", "aktifkan",
           "jadikan_pemilik", "cabut_pemilik", "sandi"}


@bp.post("/pengguna/<username>")
@login_required
def user_change(username: str) -> Any:
    action = request.form.get("aksi", "")
    if action not in ACTIONS:
        return _render_user(username, {"umum": "Aksi tidak dikenal."}, status=400)
    form = request.form
    change = UserChange()
    if action == "tambah_lane":
        lane = (form.get("lane_lain", "").strip() or form.get("lane", "")).strip()
        if not lane:
            return _render_user(username, {"add_lanes": "Pilih lane dari diagram atau tulis nama lane."}, status=422)
        change.add_lanes, change.confirm = [lane], bool(form.get("konfirmasi"))
    elif action == "hapus_lane":
        change.remove_lanes = [form.get("lane", "")]
    elif action == "jadikan_kepala":
        change.add_head_lanes = [form.get("lane", "")]
    elif action == "cabut_kepala":
        change.remove_head_lanes = [form.get("lane", "")]
    elif action in ("nonaktifkan", "aktifkan"):
        change.active = action == "aktifkan"
    elif action in ("jadikan_pemilik", "cabut_pemilik"):
        change.is_process_owner = action == "jadikan_pemilik"
    else:
        change.password = form.get("sandi", "")
    try:
        change_user(services(), ui.actor(), username, change)
    except InvalidData as exc:
        field = exc.field or "umum"
        return _render_user(username, {field: exc.message}, {"lane_lain": form.get("lane_lain", "")}, 422)
    done = {"tambah_lane": f"Lane \u201c{(change.add_lanes or [''])[0]}\u201d ditambahkan",
            "hapus_lane": f"Lane \u201c{(change.remove_lanes or [''])[0]}\u201d dihapus",
            "jadikan_kepala": f"Sekarang kepala lane \u201c{(change.add_head_lanes or [''])[0]}\u201d",
            "cabut_kepala": f"Bukan lagi kepala lane \u201c{(change.remove_head_lanes or [''])[0]}\u201d",
            "nonaktifkan": "Akun dinonaktifkan; sesi dan token API-nya berakhir",
            "aktifkan": "Akun diaktifkan kembali",
            "jadikan_pemilik": "Sekarang pemilik proses", "cabut_pemilik": "Bukan lagi pemilik proses",
            "sandi": "Kata sandi diganti; sesi dan token API-nya berakhir"}[action]
    flash(f"{username}: {done}.", "ok")
    return redirect(url_for("people.user", username=username))


@bp.get("/lane")
@login_required
def lanes() -> str:
    views = lanes_overview(services(), ui.actor())
    processes: dict[str, list[Any]] = {}
    for view in views:
        processes.setdefault(view.process_name, []).append(view)
    return render_template("lanes.html", processes=processes)


@bp.post("/permohonan/<int:instance_id>/batal")
@login_required
def cancel(instance_id: int) -> Any:
    who = ui.actor()
    if not (who.is_admin or who.is_process_owner):
        raise Forbidden("hanya admin atau pemilik proses yang boleh membatalkan permohonan")
    reason = request.form.get("alasan", "").strip()
    if not reason:
        flash("Alasan pembatalan wajib diisi.", "error")
        return redirect(url_for("ui.instance", instance_id=instance_id) + "#batal")
    if len(reason) > 1000:
        flash("Alasan pembatalan paling banyak 1000 karakter.", "error")
        return redirect(url_for("ui.instance", instance_id=instance_id) + "#batal")
    services().cancel(instance_id, who, reason)
    flash(f"Permohonan #{instance_id} dibatalkan.", "ok")
    return redirect(url_for("ui.instance", instance_id=instance_id))
