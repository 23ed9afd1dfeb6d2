"""Registers as XLSX and CSV, the applicant's view of where the request is, and working time."""

from __future__ import annotations

import datetime as dt
import io

from flask.testing import FlaskClient
from openpyxl import load_workbook

from engine.actors import SYSTEM
from engine.services import Alur
from engine.worktime import add_working_minutes
from tests.helpers import drive_to, start
from tests.test_speakers import OWNER, new_request
from tests.test_ui import login


def test_working_minutes_skip_nights_and_weekends() -> None:
    friday = dt.datetime(2026, 11, 27, 15, 30)
    assert add_working_minutes(friday, 20) == dt.datetime(2026, 11, 27, 15, 50)
    assert add_working_minutes(friday, 60) == dt.datetime(2026, 11, 30, 8, 30)        # Monday
    assert add_working_minutes(dt.datetime(2026, 11, 28, 10, 0), 5) == dt.datetime(2026, 11, 30, 8, 5)
    assert add_working_minutes(dt.datetime(2026, 11, 30, 6, 0), 480 + 15) == dt.datetime(2026, 12, 1, 8, 15)


def test_register_requests_and_calendar_export_to_xlsx_and_csv(alur: Alur, client: FlaskClient) -> None:
    iid = start(alur)
    drive_to(alur, iid, 12)
    number = alur.instance(iid, SYSTEM).instance.letter_number
    speaker = alur.save_speaker(OWNER, {"name": "Dr. Siti Aminah"})
    alur.add_engagement(OWNER, speaker.id, {"title": "=HYPERLINK(\"x\")", "starts_at": "2026-12-10T08:00",
                                            "ends_at": "2026-12-10T10:00"})
    new_request(alur, "Dr. Siti Aminah")
    login(client, "pemohon")
    assert client.get("/buku-agenda/ekspor.xlsx").status_code == 403
    client.post("/logout")
    login(client, "petugas-informasi-tu")
    assert 'href="/buku-agenda/ekspor.xlsx"' in client.get("/buku-agenda").text
    xlsx = client.get("/buku-agenda/ekspor.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:3] == ["Nomor surat", "Tanggal", "Tujuan"] and rows[1][0] == number and rows[1][4] == iid
    assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4  # A4
    csv_text = client.get("/buku-agenda/ekspor.csv").data.decode("utf-8")
    assert csv_text.startswith("\ufeffNomor surat,Tanggal") and number in csv_text
    listed = client.get("/permohonan/ekspor.csv").data.decode("utf-8").splitlines()
    assert listed[0].lstrip("\ufeff").startswith("No,Perihal,Instansi,Status") and len(listed) == 3
    calendar = client.get(f"/narasumber/{speaker.id}/ekspor.csv").data.decode("utf-8")
    assert "'=HYPERLINK" in calendar and "Bimtek koperasi sekolah" in calendar and "sementara" in calendar
    book = load_workbook(io.BytesIO(client.get(f"/narasumber/{speaker.id}/ekspor.xlsx").data)).active
    assert book.title == "Jadwal Dr. Siti Aminah" and book.max_row == 3
    assert client.get("/buku-agenda/ekspor.pdf").status_code == 404


def test_the_applicant_sees_the_step_since_when_and_the_expected_end(alur: Alur, client: FlaskClient) -> None:
    iid = start(alur)
    drive_to(alur, iid, 5)
    login(client, "pemohon")
    page = client.get(f"/permohonan/{iid}").text
    assert "Langkah 5: Cek jadwal narasumber" in page and "sejak" in page
    assert 'id="perkiraan-selesai"' in page and "jam kerja" in page
