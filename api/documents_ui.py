"""Pages for generated documents: a process's DOCX templates (process owners replace them) and the
task page's "make it from the template" button. Thin views over `Alur` (engine/generated.py)."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import login_required

from api import services
from api.ui import _domain_error, _layout, actor, doc_label
from engine.errors import AlurError, Forbidden, InvalidData

bp = Blueprint("documents_ui", __name__)
bp.register_error_handler(AlurError, _domain_error)
bp.context_processor(_layout)  # the header (who is logged in, the menu) as on every page
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _staff() -> None:
    if not actor().is_staff:
        raise Forbidden("templat hanya untuk pegawai")


def _render(key: str, error: InvalidData | None = None, failed: str | None = None, status: int = 200) -> Any:
    _staff()
    alur = services()
    definition = alur.definition(key)
    history = alur.templates(key)
    newest: dict[str, Any] = {}
    for row in history:
        newest.setdefault(row.name, row)
    who = actor()
    return render_template("templates.html", definition=definition, names=alur.template_names(key), newest=newest,
                           history=history, error=error, failed=failed,
                           can_manage=who.is_admin or who.is_process_owner), status


@bp.get("/proses/<key>/templat")
@login_required
def templates(key: str) -> Any:
    return _render(key)


@bp.get("/proses/<key>/templat/<name>.docx")
@login_required
def template_file(key: str, name: str) -> Any:
    _staff()
    content, _ = services().template_content(key, name)
    return send_file(io.BytesIO(content), mimetype=DOCX, as_attachment=True, download_name=f"{name}.docx")


@bp.post("/proses/<key>/templat/<name>")
@login_required
def replace_template(key: str, name: str) -> Any:
    _staff()
    upload = request.files.get("berkas")
    content = upload.read() if upload else b""
    try:
        row = services().replace_template(actor(), key, name, content, upload.filename if upload else "",
                                          request.form.get("catatan", ""))
    except InvalidData as exc:
        return _render(key, exc, name, 422)
    flash(f"Templat {name} diganti (versi {row.version}); dokumen berikutnya memakainya.", "ok")
    return redirect(url_for("documents_ui.templates", key=key))


@bp.post("/tugas/<task_id>/buat/<doc_type>")
@login_required
def generate(task_id: str, doc_type: str) -> Any:
    version = services().generate_document(task_id, actor(), doc_type)
    flash(f"{doc_label(doc_type)} dibuat dari templat (versi {version.version}). Periksa, lalu selesaikan "
          f"langkah ini, atau unggah versi yang sudah diedit.", "ok")
    return redirect(url_for("ui.task", task_id=task_id))


@bp.get("/v/<code>")
def verify(code: str) -> Any:
    """Public: anyone holding the letter checks its number, date, signer and the PDF's sha256."""
    return render_template("verify.html", v=services().verification(code))
