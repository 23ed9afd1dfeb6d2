"""Writes the bundled default DOCX templates (run once by a developer; the .docx files are committed).

    .venv/bin/python -m engine.doc_templates.build_defaults

Placeholders are Jinja (docxtpl): the names a template may use are in docs/documents.md.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

HERE = Path(__file__).parent


def _base() -> Document:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Liberation Serif"
    style.font.size = Pt(12)
    for line in ("PEMERINTAH PROVINSI KALIMANTAN BARAT", "SEKRETARIAT DAERAH"):
        p = doc.add_paragraph(line)
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.runs[0].bold = True
    return doc


def disposition() -> Document:
    doc = _base()
    title = doc.add_paragraph("LEMBAR DISPOSISI")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.runs[0].bold = True
    rows = [
        ("Nomor agenda", "{{ permohonan.id }}"),
        ("Surat dari", "{{ permohonan.instansi }}"),
        ("Perihal", "{{ permohonan.perihal }}"),
        ("Kegiatan", "{{ acara.nama }}, {{ acara.tanggal_teks }} {{ acara.jam }} di {{ acara.tempat }}"),
        ("Narasumber diminta", "{{ narasumber_diminta.nama }}"),
        ("Diteruskan kepada", "Kepala Bagian Terkait"),
        ("Isi disposisi", "Cek jadwal narasumber dan siapkan surat balasan. {{ langkah.catatan }}"),
        ("Tanggal disposisi", "{{ hari_ini }}"),
        ("Oleh", "{{ langkah.oleh }}"),
    ]
    table = doc.add_table(rows=len(rows), cols=2)
    table.style = "Table Grid"
    for row, (label, value) in zip(table.rows, rows, strict=True):
        row.cells[0].text, row.cells[1].text = label, value
    return doc


def reply() -> Document:
    doc = _base()
    doc.add_paragraph("Nomor\t: {{ surat.nomor }}")
    doc.add_paragraph("Tanggal\t: {{ surat.tanggal }}")
    doc.add_paragraph("Perihal\t: Jawaban {{ permohonan.perihal }}")
    doc.add_paragraph("Kepada Yth. Kepala {{ permohonan.instansi }}")
    doc.add_paragraph("Menindaklanjuti surat Saudara perihal {{ permohonan.perihal }} untuk kegiatan "
                      "{{ acara.nama }} pada {{ acara.tanggal_teks }} pukul {{ acara.jam }} di {{ acara.tempat }}, "
                      "dengan hormat kami sampaikan bahwa:")
    doc.add_paragraph("{%p if jawaban == 'bersedia' %}")
    doc.add_paragraph("{{ narasumber.nama }} ({{ narasumber.jabatan }}) bersedia menjadi narasumber "
                      "pada kegiatan tersebut.")
    doc.add_paragraph("{%p elif jawaban == 'usul_pengganti' %}")
    doc.add_paragraph("{{ narasumber_diminta.nama }} berhalangan hadir; sebagai pengganti kami tugaskan "
                      "{{ narasumber.nama }} ({{ narasumber.jabatan }}) sebagai narasumber pada kegiatan tersebut.")
    doc.add_paragraph("{%p else %}")
    doc.add_paragraph("{{ narasumber_diminta.nama }} tidak dapat memenuhi permintaan sebagai narasumber "
                      "pada kegiatan tersebut.")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("Demikian disampaikan, atas perhatiannya diucapkan terima kasih.")
    doc.add_paragraph("{{ penandatangan.jabatan }},")
    doc.add_paragraph("{{ penandatangan.tanda_tangan }}")
    doc.add_paragraph("{{ penandatangan.nama }}")
    doc.add_paragraph("NIP {{ penandatangan.nip }}")
    doc.add_paragraph("{{ verifikasi }}")
    return doc


def main() -> None:
    disposition().save(str(HERE / "lembar_disposisi.docx"))
    reply().save(str(HERE / "surat_balasan.docx"))


if __name__ == "__main__":
    main()
