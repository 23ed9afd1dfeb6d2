"""Step 10 signs in Alur (signer, jabatan, NIP, verification code), step 11 stamps number and date
and renders the PDF with LibreOffice; the PDF's text is read back with pdftotext."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.actors import SYSTEM, Upload
from engine.demo import SAMPLE_PDF, actor_for_lane
from engine.errors import InvalidData
from engine.models import User
from engine.services import Alur
from engine.testing import SOP_FILE
from tests.helpers import current, step
from tests.test_generated_documents import text_of
from tests.test_speakers import OWNER, assign, new_request

SEKDA = {"name": "Drs. Ahmad Yani, M.Si", "nip": "196501011990031001", "jabatan": "Sekretaris Daerah"}


def pdf_text(content: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "surat.pdf"
        path.write_bytes(content)
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True,
                              text=True).stdout


def officials(alur: Alur) -> None:
    alur.save_speaker(OWNER, {"name": "Dr. Siti Aminah", "nip": "197001012000032001", "jabatan": "Kepala Bidang"})
    alur.save_speaker(OWNER, {"name": "Budi Santoso", "nip": "198002022005011002", "jabatan": "Kepala Seksi"})
    alur.save_speaker(OWNER, {**SEKDA, "active": True})
    with alur.unit_of_work() as uow:
        uow.session.scalars(select(User).where(User.username == "sekda")).one().full_name = SEKDA["name"]


def signed_request_until_sekda(alur: Alur) -> int:
    officials(alur)
    iid = new_request(alur, "Dr. Siti Aminah")
    assign(alur, iid, "Budi Santoso", "usul_pengganti")
    record = current(alur, iid)
    kasubbag = actor_for_lane(alur, record.lane)
    alur.generate_document(record.id, kasubbag, "draft_surat")
    alur.complete(record.id, kasubbag, {})
    for _ in range(3):
        step(alur, iid)
    assert current(alur, iid).step_no == 10
    return iid


def signed_request(alur: Alur) -> int:
    iid = signed_request_until_sekda(alur)
    sekda = current(alur, iid)
    alur.complete(sekda.id, actor_for_lane(alur, sekda.lane), {"keputusan": "setuju"})   # no scan: e-signature
    return iid


def test_signature_in_alur_then_number_stamped_into_the_pdf(alur: Alur, client: FlaskClient) -> None:
    iid = signed_request(alur)
    signed = [d for d in alur.instance(iid, SYSTEM).documents if d.doc_type == "surat_ditandatangani"][0].versions
    [docx] = signed
    text = text_of(alur.document(docx.id, SYSTEM)[1])
    code = re.search(r"Kode verifikasi ([A-Z0-9]{10})", text).group(1)  # type: ignore[union-attr]
    assert "Sekretaris Daerah," in text and SEKDA["name"] in text and f"NIP {SEKDA['nip']}" in text
    assert "{{ surat.nomor }}" in text and "penandatangan" not in text
    assert docx.note.startswith(f"ditandatangani secara elektronik oleh {SEKDA['name']} (kode {code})")
    page = client.get(f"/v/{code}")
    assert page.status_code == 200 and "belum diberi nomor" in page.text

    step(alur, iid)                                                     # step 11: number, date, PDF
    detail = alur.instance(iid, SYSTEM)
    number = detail.instance.letter_number
    final = [d for d in detail.documents if d.doc_type == "surat_ditandatangani"][0].versions[-1]
    assert (final.version, final.media_type, final.filename) == (2, "application/pdf", "surat_final.pdf")
    content = alur.document(final.id, SYSTEM)[1]
    words = " ".join(pdf_text(content).split())
    assert f"Nomor : {number}" in words or f"Nomor: {number}" in words, words
    assert "sebagai pengganti kami tugaskan Budi Santoso (Kepala Seksi)" in words
    assert f"{SEKDA['name']} NIP {SEKDA['nip']}" in words and f"Kode verifikasi {code}" in words
    assert "{{" not in words
    page = client.get(f"/v/{code.lower()}")
    assert page.status_code == 200
    assert f'id="v_nomor">{number}<' in page.text and final.sha256 in page.text
    assert f"{SEKDA['name']}, Sekretaris Daerah (NIP {SEKDA['nip']})" in page.text
    assert client.get("/v/TIDAKADA00").status_code == 404


def test_a_step_that_signs_only_in_alur_refuses_a_scan(alur: Alur) -> None:
    text = SOP_FILE.read_text(encoding="utf-8")
    assert text.count('value="elektronik,basah"') == 1
    alur.deploy(text.replace('value="elektronik,basah"', 'value="elektronik"').encode(), SYSTEM)
    iid = signed_request_until_sekda(alur)
    sekda = current(alur, iid)
    with pytest.raises(InvalidData) as refused:
        alur.attach_document(sekda.id, actor_for_lane(alur, sekda.lane),
                             Upload("surat_ditandatangani", "scan.pdf", SAMPLE_PDF))
    assert refused.value.reason == "not_allowed" and "elektronik" in refused.value.message
    alur.complete(sekda.id, actor_for_lane(alur, sekda.lane), {"keputusan": "setuju"})
    [signed] = [d for d in alur.instance(iid, SYSTEM).documents if d.doc_type == "surat_ditandatangani"]
    assert signed.versions[-1].note.startswith("ditandatangani secara elektronik")
