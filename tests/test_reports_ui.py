"""The reports page and the event-log download through the Flask test client (real app, real database)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from flask.testing import FlaskClient

from engine.services import Alur
from engine.users import DEMO_PASSWORD
from tests.helpers import PROCESS
from tests.test_reports import History, make_history


@pytest.fixture
def history(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> History:
    return make_history(alur, monkeypatch)


def login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.data[:300]


def test_reports_page_for_the_process_owner(client: FlaskClient, history: History) -> None:
    login(client, "pemilik-proses")
    response = client.get("/laporan", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Di mana proses melambat" in html and 'id="report-steps"' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in html  # no inline script (CSP)
    heat = json.loads(re.search(r'data-heat="([^"]*)"', html).group(1).replace("&#34;", '"')
                      .replace("&quot;", '"').replace("&amp;", "&"))
    assert len(heat["tasks"]) == 13
    assert heat["flows"]["flow_07_tidak_setuju"] == 1 and heat["flows"]["flow_02_tidak_setuju"] == 0
    rows = re.findall(r'<tr class="heat-row[^"]*" data-step="([^"]+)">', html)
    assert len(rows) == 13
    assert ">50%<" in html  # one of two finished requests was returned
    for asset in ("/vendor/chart.js/chart.umd.min.js", "/static/reports.js", "/static/reports.css"):
        assert asset in html
        assert client.get(asset).status_code == 200


def test_filters_are_checked_and_kept(client: FlaskClient, history: History) -> None:
    login(client, "admin")
    response = client.get(f"/laporan/{PROCESS}?dari=2026-3&sampai=2026-04&versi=1")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Dari: bulan &#39;2026-3&#39; tidak valid (format TTTT-BB" in html
    assert 'value="2026-04"' in html and '<option value="1" selected>' in html
    assert client.get(f"/laporan/{PROCESS}?versi=7").status_code == 404


def test_only_owners_and_admins_see_reports(client: FlaskClient, history: History) -> None:
    login(client, "kepala-bagian-terkait")
    assert client.get(f"/laporan/{PROCESS}").status_code == 403
    assert client.get(f"/laporan/{PROCESS}/log.xes").status_code == 403
    assert "Laporan</a>" not in client.get("/").get_data(as_text=True)


def test_event_log_downloads(client: FlaskClient, history: History) -> None:
    login(client, "pemilik-proses")
    response = client.get(f"/laporan/{PROCESS}/log.csv")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"] == f'attachment; filename="eventlog-{PROCESS}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2 * len(history.done) + len(history.waiting)
    xes = client.get(f"/laporan/{PROCESS}/log.xes?versi=1")
    assert xes.status_code == 200 and xes.mimetype == "application/xml"
    assert xes.get_data(as_text=True).count("<trace>") == 3
    assert client.get(f"/laporan/{PROCESS}/log.pdf").status_code == 422


# ---- the JSON API ------------------------------------------------------------------------


def token(client: FlaskClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def test_report_over_the_api(client: FlaskClient, history: History) -> None:
    from engine import reports
    from tests.test_reports import OWNER

    auth = token(client, "pemilik-proses")
    response = client.get(f"/api/v1/reports/{PROCESS}?from=2026-03&to=2026-03", headers=auth)
    assert response.status_code == 200, response.json
    body = response.json
    expected = reports.report(client.application.extensions["alur"], OWNER, PROCESS,
                              period=reports.Period(202603, 202603))
    assert (body["period_from"], body["period_to"]) == ("2026-03", "2026-03")
    assert body["requests_done"] == 2 and body["requests_returned"] == 1 and body["returned_share"] == 0.5
    assert len(body["steps"]) == 13
    for got, row in zip(body["steps"], expected.steps, strict=True):
        assert (got["spec_id"], got["done"], got["median_seconds"], got["p90_seconds"], got["returned"]) == \
            (row.spec_id, row.done.n, row.done.median, row.done.percentile(90), row.returned)
    step7 = next(x for x in body["steps"] if x["step_no"] == 7)
    assert step7["return_flows"] == ["flow_07_tidak_setuju"] and step7["returned"] == 1
    assert sum(x["backlog"] for x in body["steps"]) == 1
    assert [w["week"] for w in body["weeks"]] == ["2026-03-02"] and body["weeks"][0]["done"] == 2
    assert {g["name"] for g in body["lanes"]} >= {"Pemohon", "Sekda"}
    assert body["generated_at"].endswith("Z")


def test_report_api_refusals(client: FlaskClient, history: History) -> None:
    auth = token(client, "pemilik-proses")
    bad = client.get(f"/api/v1/reports/{PROCESS}?from=2026-13", headers=auth)
    assert bad.status_code == 400 and bad.json["field"] == "from", bad.json
    assert client.get(f"/api/v1/reports/{PROCESS}?version=9", headers=auth).status_code == 404
    assert client.get("/api/v1/reports/tidak_ada", headers=auth).status_code == 404
    assert client.get(f"/api/v1/reports/{PROCESS}").status_code == 401
    staff = token(client, "sekda")
    assert client.get(f"/api/v1/reports/{PROCESS}", headers=staff).status_code == 403
    assert client.get(f"/api/v1/eventlog?process={PROCESS}", headers=staff).status_code == 403


def test_event_log_over_the_api(client: FlaskClient, history: History) -> None:
    auth = token(client, "admin")
    xes = client.get(f"/api/v1/eventlog?process={PROCESS}&format=xes", headers=auth)
    assert xes.status_code == 200 and xes.is_streamed and xes.mimetype == "application/xml"
    text = xes.get_data(as_text=True)
    assert text.count("<trace>") == 3 and text.rstrip().endswith("</log>")
    assert text.count("<event>") == 2 * len(history.done) + len(history.waiting)
    csv_ = client.get(f"/api/v1/eventlog?process={PROCESS}&format=csv&version=1", headers=auth)
    assert csv_.status_code == 200 and csv_.mimetype == "text/csv"
    assert csv_.headers["Content-Disposition"] == f'attachment; filename="eventlog-{PROCESS}-v1.csv"'
    assert len(list(csv.DictReader(io.StringIO(csv_.get_data(as_text=True))))) == text.count("<event>")
    bad = client.get(f"/api/v1/eventlog?process={PROCESS}&format=pdf", headers=auth)
    assert bad.status_code == 400 and bad.json["field"] == "format"
    assert client.get("/api/v1/eventlog", headers=auth).status_code == 400
    assert client.get("/api/v1/eventlog?process=tidak_ada", headers=auth).status_code == 404
