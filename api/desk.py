"""The process owner's desk (meja pemilik proses): model, check, deploy, compare, migrate.

Thin views over the service layer like api/ui.py, for process owners and admins only. The
modeler is camunda-bpmn-js (served from node_modules, no CDN) driven by
api/static/modeler.js; the checks and the deploy are the server's (`Alur.validate`,
`Alur.deploy`), so the browser never decides whether a diagram is good.
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import login_required
from flask_wtf.csrf import CSRFError

from api import services
from api.errors import status_of
from api.ui import _layout, actor
from engine.errors import AlurError, DiagramProblem, Forbidden, InvalidDiagram, NotFound
from engine.settings import ROOT

bp = Blueprint("desk", __name__, url_prefix="/meja")
bp.context_processor(_layout)  # the same navigation and user box as the rest of the UI

CAMUNDA_DIST = ROOT / "node_modules" / "camunda-bpmn-js" / "dist"
TEMPLATES_DIR = ROOT / "bpmn" / "templates"
NEW_PROCESS = TEMPLATES_DIR / "proses-baru.bpmn"
STATUS_CLASSES = {"added": "ditambah", "removed": "dihapus", "changed": "diubah"}
# camunda-bpmn-js builds parts of the properties panel and its menus from HTML with style attributes
# (e.g. the panel's container, the align icons). Only this page allows style *attributes*; style
# elements, scripts and everything else stay as strict as the rest of the app. Its icon font is a data: URL.
MODELER_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
               "form-action 'self'; frame-ancestors 'none'")


@bp.before_request
@login_required
def _owners_only() -> None:
    """Every page of the desk is for process owners and admins (others: 403)."""
    who = actor()
    if not (who.is_process_owner or who.is_admin):
        raise Forbidden("meja pemilik proses hanya untuk pemilik proses dan admin")


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.errorhandler(AlurError)
def _domain_error(exc: AlurError) -> Any:
    if _wants_json():
        return jsonify({"error": exc.message, "code": exc.code}), status_of(exc)
    return render_template("error.html", message=exc.message, code=status_of(exc)), status_of(exc)


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> Any:
    message = "Formulir kedaluwarsa atau tidak sah. Muat ulang halaman lalu coba lagi."
    if _wants_json():
        return jsonify({"error": message, "code": "csrf"}), 400
    return render_template("error.html", message=message, code=400), 400


def _problem(problem: DiagramProblem) -> dict[str, Any]:
    return {"message": problem.message, "line": problem.line, "element_id": problem.element_id}


def _uploaded() -> tuple[bytes, str]:
    """The diagram of a check or deploy: the multipart `file` (from the modeler or a desktop file)."""
    file = request.files.get("file")
    if file is None or not file.filename:
        raise InvalidDiagram([DiagramProblem("pilih berkas .bpmn terlebih dahulu")])
    return file.read(), file.filename


# ---- the desk and the modeler ----------------------------------------------------------------

@bp.get("/")
def home() -> str:
    latest: dict[str, Any] = {}
    for definition in services().definitions():
        if definition.key not in latest or definition.version > latest[definition.key].version:
            latest[definition.key] = definition
    return render_template("desk.html", definitions=sorted(latest.values(), key=lambda d: d.name))


@bp.get("/modeler")
def modeler() -> Response:
    """Open a version of a process in the modeler (`?proses=KEY&versi=N`), or a new process."""
    key = request.args.get("proses")
    definition = services().definition(key, request.args.get("versi", type=int)) if key else None
    xml_url = (url_for("ui.process_diagram", key=definition.key, versi=definition.version) if definition
               else url_for("desk.new_process"))
    filename = f"{definition.key}.bpmn" if definition else "proses_baru.bpmn"
    response = Response(render_template("modeler.html", definition=definition, xml_url=xml_url,
                                         filename=filename))
    response.headers["Content-Security-Policy"] = MODELER_CSP
    return response


@bp.get("/proses-baru.bpmn")
def new_process() -> Response:
    return Response(NEW_PROCESS.read_bytes(), mimetype="application/xml")


@bp.get("/templates.json")
def element_templates() -> Response:
    """The element templates in bpmn/templates/*.json (a process owner edits or replaces these files);
    a file that is not valid JSON is named in `errors` and left out, the others still load."""
    templates: list[Any] = []
    errors: list[str] = []
    for path in sorted(TEMPLATES_DIR.glob("*.json")):
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            errors.append(f"template {path.name} tidak dapat dibaca: {exc}")
            continue
        templates.extend(loaded if isinstance(loaded, list) else [loaded])
    return jsonify({"templates": templates, "errors": errors})


@bp.post("/periksa")
def check() -> Any:
    """Dry run: the server's errors and warnings for a diagram, nothing stored."""
    try:
        xml, filename = _uploaded()
        result = services().validate(xml, filename)
    except InvalidDiagram as exc:
        return jsonify({"errors": [_problem(p) for p in exc.problems], "warnings": []})
    return jsonify({"errors": [_problem(p) for p in result.errors],
                    "warnings": [_problem(p) for p in result.warnings]})


@bp.post("/deploy")
def deploy() -> Any:
    """Store the diagram as the next version: JSON for the modeler, a redirect for the upload form."""
    wants_json = _wants_json()
    try:
        xml, filename = _uploaded()
        result = services().deploy(xml, actor(), filename)
    except InvalidDiagram as exc:
        if wants_json:
            return jsonify({"errors": [_problem(p) for p in exc.problems], "warnings": []}), 422
        return render_template("upload_refused.html", problems=exc.problems), 422
    definition = result.definition
    target = url_for("desk.versions", key=definition.key)
    if result.created:
        message = f"Versi {definition.version} proses \u201c{definition.name}\u201d tersimpan."
    else:
        message = f"Diagram sama dengan versi {definition.version}: tidak ada versi baru."
    flash(message, "ok")
    warnings = [_problem(p) for p in result.warnings]
    for w in warnings:
        flash(f"Peringatan: {w['message']}" + (f" (elemen {w['element_id']})" if w["element_id"] else ""), "info")
    if wants_json:
        return jsonify({"key": definition.key, "version": definition.version, "created": result.created,
                        "warnings": warnings, "url": target})
    return redirect(target)


@bp.get("/vendor/<path:filename>")
def vendor(filename: str) -> Response:
    """camunda-bpmn-js's built files from node_modules (nothing is loaded from the internet)."""
    return send_from_directory(CAMUNDA_DIST, filename, max_age=3600)


# ---- versions, differences, migration ---------------------------------------------------------

def _mapping(text: str) -> dict[str, str]:
    """`lama=baru` one per line (or comma-separated) into a mapping of task ids."""
    mapping: dict[str, str] = {}
    for part in text.replace(",", "\n").splitlines():
        if not part.strip():
            continue
        old, sep, new = part.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InvalidDiagram([DiagramProblem(f"pemetaan '{part.strip()}' harus berbentuk id_lama=id_baru")])
        mapping[old.strip()] = new.strip()
    return mapping


@bp.get("/proses/<key>/versi")
def versions(key: str) -> str:
    alur = services()
    found = alur.versions(key)
    if not found:
        raise NotFound(f"proses '{key}' tidak ditemukan")
    numbers = [v.version for v in found]
    plan, plan_error, mapping_text = None, None, request.args.get("pemetaan", "")
    move_from = request.args.get("pindah_dari", type=int)
    move_to = request.args.get("pindah_ke", type=int)
    if move_from and move_to:
        try:
            plan = alur.plan_migration(key, move_from, move_to, _mapping(mapping_text) or None)
        except AlurError as exc:
            plan_error = exc.message
    latest = alur.definition(key)
    return render_template(
        "versions.html", key=key, name=latest.name, versions=list(reversed(found)), numbers=numbers,
        latest=latest.version, plan=plan, plan_error=plan_error, move_from=move_from, move_to=move_to,
        mapping_text=mapping_text)


@bp.post("/proses/<key>/pindahkan")
def migrate(key: str) -> Any:
    """Move every running request of one version that can move to another version."""
    move_from = request.form.get("pindah_dari", type=int)
    move_to = request.form.get("pindah_ke", type=int)
    if not move_from or not move_to:
        abort(400)
    mapping_text = request.form.get("pemetaan", "")
    try:
        result = services().migrate_all(key, move_from, move_to, actor(), _mapping(mapping_text) or None)
    except AlurError as exc:
        flash(f"Pemindahan gagal: {exc.message}", "error")
        return redirect(url_for("desk.versions", key=key, pindah_dari=move_from, pindah_ke=move_to,
                                pemetaan=mapping_text or None))
    moved = ", ".join(f"#{m.instance_id}" for m in result.moved) or "tidak ada"
    flash(f"Permohonan dipindahkan dari versi {move_from} ke versi {move_to}: {moved}.", "ok")
    for check in result.refused:
        flash(f"Permohonan #{check.instance_id} tidak dipindah: {'; '.join(check.reasons)}", "error")
    return redirect(url_for("desk.versions", key=key))


def _shown(value: Any) -> str:
    """A before/after value of a change in words: lists joined, options as "id (nama)", yes/no."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_shown(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(" = ".join(map(str, v)) if isinstance(v, (list, tuple)) else _shown(v) for v in value)
    return str(value)


@bp.get("/proses/<key>/versi/<int:version>/diagram")
def diagram(key: str, version: int) -> str:
    definition = services().definition(key, version)
    return render_template("version_diagram.html", definition=definition)


@bp.get("/proses/<key>/beda")
def diff(key: str) -> Any:
    alur = services()
    old = request.args.get("dari", type=int)
    new = request.args.get("ke", type=int)
    if not old or not new:
        latest = alur.definition(key).version
        return redirect(url_for("desk.diff", key=key, dari=max(latest - 1, 1), ke=latest))
    before, after = alur.definition(key, old), alur.definition(key, new)
    result = alur.diff(key, old, new)
    status = result.element_status
    return render_template(
        "diff.html", key=key, before=before, after=after, changes=result.changes,
        numbers=[v.version for v in alur.versions(key)],
        added=[e for e, s in status.items() if s == "added"],
        removed=[e for e, s in status.items() if s == "removed"],
        changed=[e for e, s in status.items() if s == "changed"], status_classes=STATUS_CLASSES, shown=_shown)
