"""The process owner's desk on the command line: check, deploy with warnings, versions, diff, migrate, init."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from tests.owner_diagrams import renamed_step_sop, revised_sop


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)
    return invoke


def test_owner_workflow_on_the_command_line(run, tmp_path: Path) -> None:
    assert run("init", "--demo").exit_code == 0
    started = run("start", "fasilitasi_narasumber", "--as", "pemohon")
    instance_id = re.search(r"Permohonan (\d+) dimulai", started.output).group(1)
    revised = tmp_path / "revisi.bpmn"
    revised.write_bytes(revised_sop())
    checked = run("check", str(revised))
    assert checked.exit_code == 0
    assert re.search(r"Peringatan: baris \d+, elemen lane_bagian_hukum: lane 'Bagian Hukum' belum punya anggota",
                     checked.output)
    broken = tmp_path / "rusak.bpmn"
    broken.write_text(revised.read_text().replace('targetRef="langkah_03_teruskan_surat"', 'targetRef="x"', 1))
    refused = run("check", str(broken))
    assert refused.exit_code == 2 and "elemen flow_02_setuju" in refused.output
    assert "versi 1 (tidak berubah)" in run("init").output
    deployed = run("deploy", str(revised), "--as", "pemilik-proses")
    assert "versi 2 di-deploy" in deployed.output and "Peringatan:" in deployed.output
    again = run("init")
    assert "versi 2 (tidak berubah)" in again.output, "a restart must not replace the revision"
    listed = run("versions", "fasilitasi_narasumber").output
    assert re.search(r"v1 .* system .* berjalan 1, selesai 0", listed)
    assert re.search(r"v2 .* pemilik-proses .* berjalan 0", listed)
    changes = run("diff", "fasilitasi_narasumber", "1", "2").output
    assert "dari 20 menit menjadi 30 menit" in changes and "Telaah hukum draft surat" in changes
    planned = run("migrate-all", "fasilitasi_narasumber", "1", "2", "--dry-run").output
    assert f"Permohonan {instance_id}: bisa dipindah" in planned
    denied = run("migrate", instance_id, "--to", "2", "--as", "sekda")
    assert denied.exit_code == 1 and "pemilik proses" in denied.output
    moved = run("migrate", instance_id, "--to", "2", "--as", "pemilik-proses")
    assert moved.exit_code == 0 and "dari versi 1 ke versi 2" in moved.output
    assert "v2" in run("show", instance_id).output


def test_migrate_refusal_and_mapping_on_the_command_line(run, tmp_path: Path) -> None:
    run("init", "--demo")
    started = run("start", "fasilitasi_narasumber", "--as", "pemohon")
    instance_id = re.search(r"Permohonan (\d+) dimulai", started.output).group(1)
    renamed = tmp_path / "ganti.bpmn"
    renamed.write_bytes(renamed_step_sop("langkah_01_sampaikan_berkas", "langkah_01_kirim_berkas"))
    run("deploy", str(renamed))
    refused = run("migrate", instance_id, "--to", "2")
    assert refused.exit_code == 1 and "langkah_01_sampaikan_berkas" in refused.output
    bad = run("migrate", instance_id, "--to", "2", "--map", "tanpa-sama-dengan")
    assert bad.exit_code == 1 and "--map" in bad.output
    moved = run("migrate", instance_id, "--to", "2", "--map", "langkah_01_sampaikan_berkas=langkah_01_kirim_berkas")
    assert moved.exit_code == 0, moved.output
