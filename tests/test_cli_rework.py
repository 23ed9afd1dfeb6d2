"""`alur tasks` marks a returned task; `alur complete --attach` of an input document is refused."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_cli import run  # noqa: F401  (fixture)


def test_tasks_mark_a_return_and_an_input_document_is_read_only(run, tmp_path: Path) -> None:  # noqa: F811
    run("init", "--demo")
    started = run("start", "fasilitasi_narasumber", "--as", "pemohon")
    task_id = re.search(r"tugas siap: (\S+)", started.output).group(1)
    pdf = tmp_path / "surat.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    data = '{"perihal": "Narasumber UMKM", "nama_kegiatan": "Pelatihan", "tanggal_kegiatan": "2026-12-10"}'
    done = run("complete", task_id, "--as", "pemohon", "--data", data, "--attach", f"surat_pd={pdf}")
    assert done.exit_code == 0, done.output
    desk = re.search(r"^(\S+)\s+permohonan", run("tasks", "--as", "petugas-informasi-tu").output, re.M).group(1)
    refused = run("complete", desk, "--as", "petugas-informasi-tu", "--data", '{"keputusan": "setuju"}',
                  "--attach", f"surat_pd={pdf}")
    assert refused.exit_code == 1 and "dokumen masukan hanya dapat dibaca" in refused.output, refused.output
    back = run("complete", desk, "--as", "petugas-informasi-tu",
               "--data", '{"keputusan": "tidak_setuju", "catatan": "Lampirkan jadwal"}')
    assert back.exit_code == 0, back.output
    assert "(dikembalikan)" in run("tasks", "--as", "pemohon").output
