"""Registers as XLSX and CSV, the applicant's view of where the request is, and working time."""

from __future__ import annotations

import datetime as dt
import io

from flask.testing import FlaskClient
from openpyxl import load_workbook

from engine.actors import SYSTEM
from engine.models import TaskRecord
from engine.services import Alur
from engine.settings import Settings
from engine.testing import sop_model
from engine.worktime import OfficeCalendar, expected_end, parse_office_hours
from tests.helpers import drive_to, start
from tests.test_speakers import OWNER, new_request
from tests.test_ui import login


def test_the_expected_end_counts_office_hours_weekends_and_holidays() -> None:
    """From step 5 the SOP's standards add up to 115 minutes; the office calendar decides where they fall."""
    model = sop_model()
    hours = parse_office_hours(Settings().office_hours)
    friday_1530 = dt.datetime(2026, 11, 27, 8, 30)  # UTC; 15.30 in Pontianak, the office closes at 16.30
    ready = [TaskRecord(step_no=5, ready_at=friday_1530)]
    plain = OfficeCalendar(hours=hours, timezone="Asia/Pontianak")
    # 60 minutes on Friday, the other 55 from Monday 07.30: 08.25 in Pontianak
    assert expected_end(model, ready, plain) == dt.datetime(2026, 11, 30, 1, 25)
    monday_off = OfficeCalendar(hours=hours, timezone="Asia/Pontianak",
                                extra_holidays={dt.date(2026, 11, 30): "Libur daerah"})
    assert expected_end(model, ready, monday_off) == dt.datetime(2026, 12, 1, 1, 25)
    assert expected_end(model, [], plain) is None


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
