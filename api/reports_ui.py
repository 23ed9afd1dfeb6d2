"""The reports page (where the process is slow) and the event-log download, for process owners and admins.

A thin view over engine.reports and engine.eventlog. The heatmap and the charts are drawn by
api/static/reports.js from data- attributes (no inline script: CSP), with bpmn-js and
Chart.js served from node_modules.
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    send_from_directory,
    stream_with_context,
    url_for,
)
from flask_login import login_required

from api import services
from api.ui import _domain_error, _latest_definitions, _layout, actor
from engine import reports, timeline
from engine.errors import AlurError, InvalidData
from engine.eventlog import FORMATS, EventLog
from engine.settings import ROOT

bp = Blueprint("laporan", __name__)
bp.register_error_handler(AlurError, _domain_error)
bp.context_processor(_layout)  # the menu and who is logged in, as on every other page

CHART_JS_DIST = ROOT / "node_modules" / "chart.js" / "dist"
HEAT_LABELS = {"ok": "Median dalam standar", "warn": "Median sampai 1,5× standar",
               "bad": "Median lebih dari 1,5× standar", "none": "Belum ada data / tanpa standar"}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]


def duration(seconds: int | None) -> str:
    """A duration as people say it: seconds only under a minute, then minutes, hours, days."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds} dtk"
    if seconds < 3600:
        return f"{seconds // 60} mnt"
    return timeline.duration_text(seconds // 60 * 60)


def share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%".replace(".", ",")


def _month_text(value: int | None) -> str:
    return f"{value // 100:04d}-{value % 100:02d}" if value else ""


def heat_data(report: reports.Report) -> dict[str, Any]:
    """What reports.js draws on the diagram: per task its class and numbers, per return flow its count."""
    tasks = {s.spec_id: {"heat": s.heat, "n": s.done.n, "median": duration(s.done.median),
                         "standard": f"{s.standard_minutes} mnt" if s.standard_minutes is not None else "-",
                         "backlog": s.backlog, "overdue": s.overdue} for s in report.steps}
    flows = {flow: (report.step(spec_id).returned if report.step(spec_id) else 0)  # type: ignore[union-attr]
             for spec_id, ids in report.return_flows.items() for flow in ids}
    return {"tasks": tasks, "flows": flows}


def chart_data(report: reports.Report) -> dict[str, Any]:
    weeks = [{"label": f"{w.monday.day} {MONTHS[w.monday.month - 1]} {w.monday.year % 100:02d}",
              "hours": round((w.lead.median or 0) / 3600, 2), "n": w.lead.n} for w in report.weeks]
    steps = [{"label": f"{s.step_no or '-'}. {s.name}", "overdue": s.overdue, "backlog": s.backlog}
             for s in report.steps]
    return {"weeks": weeks, "steps": steps}


@bp.get("/laporan")
@login_required
def index() -> Any:
    reports.require_reader(actor())
    definitions = _latest_definitions()
    if len(definitions) == 1:
        return redirect(url_for("laporan.process", key=definitions[0].key))
    return render_template("reports_index.html", definitions=definitions)


@bp.get("/laporan/<key>")
@login_required
def process(key: str) -> Any:
    who = actor()
    reports.require_reader(who)
    version = request.args.get("versi", type=int)
    problems: list[str] = []
    months: list[int | None] = []
    for name in ("dari", "sampai"):
        try:
            months.append(reports.parse_month(request.args.get(name), name))
        except InvalidData as exc:
            problems.append(exc.message[:1].upper() + exc.message[1:] + ".")
            months.append(None)
    period = reports.Period(*months)
    report = reports.report(services(), who, key, version, period)
    all_versions = [d.version for d in services().definitions() if d.key == key]
    decisions = [s for s in report.steps if s.is_decision]
    args = {k: v for k, v in {"versi": version, "dari": _month_text(period.first),
                              "sampai": _month_text(period.last)}.items() if v}
    return render_template(
        "reports.html", report=report, key=key, version=version, all_versions=all_versions, problems=problems,
        month_from=_month_text(period.first), month_to=_month_text(period.last), decisions=decisions,
        duration=duration, share=share, heat_labels=HEAT_LABELS, args=args,
        heat_json=json.dumps(heat_data(report), ensure_ascii=False),
        chart_json=json.dumps(chart_data(report), ensure_ascii=False))


@bp.get("/laporan/<key>/log.<fmt>")
@login_required
def download(key: str, fmt: str) -> Response:
    if fmt not in FORMATS:
        raise InvalidData(f"format '{fmt}' tidak dikenal (pilih xes atau csv)", "format")
    log = EventLog(services(), actor(), key, request.args.get("versi", type=int))
    return Response(stream_with_context(log.stream(fmt)), mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{log.filename(fmt)}"'})


@bp.get("/vendor/chart.js/<path:filename>")
def vendor_chart(filename: str) -> Response:
    """Chart.js's built files from node_modules (nothing is loaded from the internet)."""
    return send_from_directory(CHART_JS_DIST, filename, max_age=3600)
