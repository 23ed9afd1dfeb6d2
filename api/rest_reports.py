"""/api/v1/reports/{key} and /api/v1/eventlog: where the process is slow, and its event log.

Routes of the API blueprint (`api.rest.bp`), documented and checked by the same spectree
models (`api.schemas`). The event log is answered as a streamed werkzeug response, which
spectree passes through unread: a big log never sits in memory whole.
"""

from __future__ import annotations

from typing import Any

from flask import stream_with_context
from werkzeug.wrappers import Response as StreamedResponse

from api import rest, services
from api import schemas as s
from api.rest import answers, authenticated, bp, spec
from engine import reports
from engine.errors import NotFound
from engine.eventlog import FORMATS, EventLog

rest.EXTRAS[("eventLog", "200")] = {
    "description": "The event log as an attachment, streamed",
    "content": {"application/xml": {"schema": {"type": "string", "description": "IEEE 1849 XES"}},
                "text/csv": {"schema": {"type": "string"}}}}


def _month(value: int | None) -> str | None:
    return f"{value // 100:04d}-{value % 100:02d}" if value else None


def report_of(report: reports.Report, key: str) -> s.Report:
    steps = [s.ReportStep(
        spec_id=r.spec_id, step_no=r.step_no, name=r.name, lane=r.lane, standard_minutes=r.standard_minutes,
        done=r.done.n, median_seconds=r.done.median, p90_seconds=r.done.percentile(90),
        max_seconds=r.done.max_seconds if r.done.n else None, within_standard_share=r.within_share,
        backlog=r.backlog, overdue=r.overdue, returned=r.returned, heat=r.heat,
        return_flows=report.return_flows.get(r.spec_id, [])) for r in report.steps]

    def group(g: reports.GroupRow) -> s.ReportGroup:
        return s.ReportGroup(name=g.name, done=g.done.n, median_seconds=g.done.median, open=g.open,
                             overdue=g.overdue, lanes=list(g.lanes))

    weeks = [s.ReportWeek(week=w.monday, done=w.lead.n, median_seconds=w.lead.median,
                          p90_seconds=w.lead.percentile(90), returned=w.returned) for w in report.weeks]
    return s.Report(
        process=key, name=report.definition.name, versions=report.versions,
        diagram_version=report.definition.version, period_from=_month(report.period.first),
        period_to=_month(report.period.last), requests_done=report.requests_done,
        requests_returned=report.requests_returned, returned_share=report.returned_share, steps=steps,
        lanes=[group(g) for g in report.lanes], users=[group(g) for g in report.users], weeks=weeks,
        generated_at=report.generated_at)


def _check_key(key: str) -> None:
    if "\x00" in key or len(key) > 200:
        raise NotFound(f"proses '{key[:60]}' tidak ditemukan")


@bp.get("/reports/<key>")
@authenticated
@spec.validate(resp=answers(400, 403, 404, HTTP_200=(s.Report, "Where the process is slow")), tags=["reports"],
               operation_id="getReport", path_parameter_descriptions={"key": "process key"})
def get_report(key: str, query: s.ReportQuery) -> Any:
    """Per step, lane and person, rework and lead time per week, in office working time (process owners, admins)."""
    _check_key(key)
    period = reports.Period(reports.parse_month(query.from_, "from"), reports.parse_month(query.to, "to"))
    found = reports.report(services(), rest.actor(), key, query.version, period)
    return report_of(found, key)


@bp.get("/eventlog")
@authenticated
@spec.validate(resp=answers(400, 403, 404, HTTP_200=None), tags=["reports"], operation_id="eventLog")
def event_log(query: s.EventLogQuery) -> Any:
    """The process's event log, IEEE 1849 XES or CSV, streamed (process owners, admins)."""
    _check_key(query.process)
    log = EventLog(services(), rest.actor(), query.process, query.version)
    return StreamedResponse(
        stream_with_context(log.stream(query.format)), mimetype=FORMATS[query.format],
        headers={"Content-Disposition": f'attachment; filename="{log.filename(query.format)}"'})
