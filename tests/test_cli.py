"""The `alur` command line on a real SQLite file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from engine.bootstrap import build
from engine.errors import NotFound
from engine.testing import settings_for
from engine.users import get_user
from tests.conftest import SOP_FILE


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)
    return invoke


def test_demo_prints_a_timeline_with_two_returns_and_a_letter_number(run) -> None:
    result = run("demo")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "status: completed" in out
    assert re.search(r"Nomor surat: 000\.1\.2\.3/001/DISKOP-UKM/\d{4}", out)
    assert "Dikembalikan: 2 kali" in out
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\. ", line)]
    assert len(rows) == 17
    assert sum("Dikembalikan" in r for r in rows) == 2
    assert "/ 20 mnt" in out and "surat_ditandatangani" in out


def test_init_start_tasks_complete_show(run, tmp_path: Path) -> None:
    assert "versi 1 di-deploy" in run("init", "--demo").output
    assert "tidak berubah" in run("init").output
    again = run("init", "--demo").output  # `make run` lists the demo accounts every time
    assert "Pengguna demo: sekda" in again and "Pengguna demo: pemohon" in again
    started = run("start", "fasilitasi_narasumber", "--as", "pemohon", "--data", '{"perihal": "Narasumber UMKM"}')
    assert started.exit_code == 0
    task_id = re.search(r"tugas siap: (\S+)", started.output).group(1)
    listed = run("tasks", "--as", "pemohon")
    assert task_id in listed.output and "Sampaikan berkas" in listed.output
    pdf = tmp_path / "surat.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    data = ('{"instansi_pemohon": "x", "perihal": "Narasumber UMKM", "nama_kegiatan": "Pelatihan",'
            ' "tanggal_kegiatan": "2026-12-10"}')
    missing = run("complete", task_id, "--as", "pemohon", "--data", data)
    assert missing.exit_code == 1 and "surat_pd" in missing.output
    wrong = run("complete", task_id, "--as", "sekda", "--data", data, "--attach", f"surat_pd={pdf}")
    assert wrong.exit_code == 1 and "lane" in wrong.output
    refused = run("complete", task_id, "--as", "pemohon", "--data", data.replace('"Pelatihan"', '""'),
                  "--attach", f"surat_pd={pdf}")
    assert refused.exit_code == 1 and "Nama kegiatan" in refused.output
    assert "surat.pdf" not in run("show", "1").output  # attach and complete are one transaction
    done = run("complete", task_id, "--as", "pemohon", "--data", data, "--attach", f"surat_pd={pdf}")
    assert done.exit_code == 0, done.output
    assert "Catat dan cek" in done.output
    shown = run("show", "1")
    assert "Narasumber UMKM" in shown.output and "surat.pdf" in shown.output
    bad_json = run("complete", task_id, "--as", "pemohon", "--data", "{oops")
    assert bad_json.exit_code == 1 and "JSON" in bad_json.output


def test_deploy_of_a_broken_diagram_names_line_and_element(run, tmp_path: Path) -> None:
    run("init")
    broken = tmp_path / "rusak.bpmn"
    broken.write_text(SOP_FILE.read_text().replace('targetRef="langkah_03_teruskan_surat"',
                                                   'targetRef="tidak_ada"', 1))
    result = run("deploy", str(broken))
    assert result.exit_code == 2
    assert re.search(r"baris \d+, elemen flow_02_setuju: targetRef 'tidak_ada'", result.output)
    assert "tidak berubah" in run("deploy", str(SOP_FILE)).output


def test_password_change_and_disable_from_the_command_line(run) -> None:
    from engine.bootstrap import build
    from engine.settings import load
    from engine.users import DEMO_PASSWORD, authenticate, get_user, issue_token, user_for_token

    run("init", "--demo")
    alur = build(load())
    token = issue_token(alur, get_user(alur, "sekda"))
    result = run("user-password", "sekda", "--password", "kata-sandi-baru-1")
    assert result.exit_code == 0 and "berakhir" in result.output
    assert user_for_token(alur, token) is None
    assert authenticate(alur, "sekda", DEMO_PASSWORD) is None
    assert authenticate(alur, "sekda", "kata-sandi-baru-1") is not None
    assert run("user-disable", "sekda").exit_code == 0
    assert authenticate(alur, "sekda", "kata-sandi-baru-1") is None
    assert run("user-disable", "sekda", "--enable").exit_code == 0
    assert authenticate(alur, "sekda", "kata-sandi-baru-1") is not None
    missing = CliRunner().invoke(main, ["user-disable", "tidak-ada"])
    assert missing.exit_code == 1 and "tidak ditemukan" in missing.output
    alur.db.engine.dispose()



def test_user_add_makes_the_head_of_one_of_the_users_lanes(run, tmp_path: Path) -> None:
    run("init")
    made = run("user-add", "kabag-dua", "--password", "rahasia-123", "--lane", "Kepala Bagian Terkait",
               "--head", "Kepala Bagian Terkait")
    assert made.exit_code == 0, made.output
    refused = run("user-add", "kabag-tiga", "--password", "rahasia-123", "--lane", "Sekda", "--head", "Kepala Biro")
    assert refused.exit_code != 0 and "hanya anggota lane yang dapat menjadi kepalanya" in refused.output
    alur = build(settings_for(f"sqlite:///{tmp_path / 'cli.sqlite'}"))
    try:
        assert get_user(alur, "kabag-dua").head_lanes == {"Kepala Bagian Terkait"}
        with pytest.raises(NotFound):
            get_user(alur, "kabag-tiga")  # nothing stored
    finally:
        alur.db.engine.dispose()
