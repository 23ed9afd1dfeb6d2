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
