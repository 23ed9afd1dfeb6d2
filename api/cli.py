"""The `alur` command: a thin translation of command-line words into service calls."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from engine import timeline
from engine.actors import SYSTEM, Actor, Upload
from engine.bootstrap import build, init
from engine.clock import local
from engine.errors import AlurError, InvalidDiagram
from engine.services import Alur
from engine.settings import load
from engine.users import DEMO_PASSWORD, actor_of, change_password, create_user, get_user, set_active


def _alur() -> Alur:
    ctx = click.get_current_context()
    if "alur" not in ctx.meta:
        ctx.meta["alur"] = build(load())
    return ctx.meta["alur"]


def _errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Domain errors become a clear message and a non-zero exit, never a traceback."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InvalidDiagram as exc:
            click.echo("Diagram ditolak:", err=True)
            for problem in exc.problems:
                click.echo(f"  - {problem}", err=True)
            sys.exit(2)
        except AlurError as exc:
            field = exc.details.get("field") or exc.details.get("document_type")
            click.echo(f"Gagal ({exc.code}): {exc.message}" + (f" [field: {field}]" if field else ""), err=True)
            sys.exit(1)
        except (LookupError, ValueError, RuntimeError) as exc:
            click.echo(f"Gagal: {exc}", err=True)
            sys.exit(1)
    return wrapper


def _actor(username: str | None) -> Actor:
    return SYSTEM if username is None else actor_of(get_user(_alur(), username))


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--data bukan JSON yang valid: {exc.msg} (kolom {exc.colno})") from None
    if not isinstance(value, dict):
        raise ValueError("--data harus objek JSON, mis. '{\"keputusan\": \"setuju\"}'")
    return value


@click.group()
def main() -> None:
    """Alur: SOP pemerintah sebagai proses BPMN yang berjalan dan tercatat."""


@main.command("init")
@click.option("--demo/--no-demo", default=False, help="Buat satu pengguna demo per lane, pemilik proses, admin.")
@_errors
def init_cmd(demo: bool) -> None:
    """Migrasi basis data, deploy diagram bawaan, (opsional) pengguna demo."""
    report = init(_alur(), demo)
    for key, version, created in report.deployed:
        click.echo(f"Proses {key}: versi {version} {'di-deploy' if created else '(tidak berubah)'}")
    for username, role in report.demo_users:
        click.echo(f"Pengguna demo: {username:<32} ({role}) kata sandi: {DEMO_PASSWORD}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "username", help="Pengguna (pemilik proses) yang men-deploy.")
@_errors
def deploy(file: Path, username: str | None) -> None:
    """Deploy diagram BPMN sebagai versi baru prosesnya."""
    result = _alur().deploy(file.read_bytes(), _actor(username), file.name)
    d = result.definition
    click.echo(f"Proses {d.key}: versi {d.version} {'di-deploy' if result.created else 'tidak berubah'}")
    _print_warnings(result.warnings)


def _print_warnings(warnings: list[Any]) -> None:
    for warning in warnings:
        click.echo(f"Peringatan: {warning}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_errors
def check(file: Path) -> None:
    """Periksa diagram tanpa menyimpannya: kesalahan dan peringatan, dengan baris dan id elemen."""
    result = _alur().validate(file.read_bytes(), file.name)
    for problem in result.errors:
        click.echo(f"Kesalahan: {problem}", err=True)
    _print_warnings(result.warnings)
    if result.errors:
        sys.exit(2)
    click.echo(f"Diagram {result.key} siap di-deploy" + (" (dengan peringatan)." if result.warnings else "."))


@main.command()
@click.argument("process")
@_errors
def versions(process: str) -> None:
    """Semua versi proses: siapa men-deploy, kapan, hash, jumlah permohonan."""
    alur = _alur()
    for v in alur.versions(process):
        click.echo(f"v{v.version:<3} {local(v.deployed_at, alur.settings.timezone):%Y-%m-%d %H:%M} "
                   f"{v.deployed_by:<20} {v.sha256[:12]}  berjalan {v.running}, selesai {v.completed}, "
                   f"batal {v.cancelled}")


@main.command()
@click.argument("process")
@click.argument("from_version", type=int)
@click.argument("to_version", type=int)
@_errors
def diff(process: str, from_version: int, to_version: int) -> None:
    """Perbedaan dua versi proses dalam istilah SOP."""
    result = _alur().diff(process, from_version, to_version)
    if not result.changes:
        click.echo("Tidak ada perbedaan.")
    for change in result.changes:
        click.echo(f"[{change.kind}] {change.element_id}: {change.message}")


def _mapping(items: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not (sep and old and new):
            raise ValueError(f"--map {item}: tulis sebagai id_langkah_lama=id_langkah_baru")
        mapping[old] = new
    return mapping


@main.command()
@click.argument("instance_id", type=int)
@click.option("--to", "to_version", type=int, required=True, help="Versi tujuan.")
@click.option("--map", "maps", multiple=True, metavar="LAMA=BARU", help="Petakan langkah siap ke langkah lain.")
@click.option("--as", "username", help="Pemilik proses yang memindahkan.")
@_errors
def migrate(instance_id: int, to_version: int, maps: tuple[str, ...], username: str | None) -> None:
    """Pindahkan satu permohonan berjalan ke versi lain prosesnya."""
    result = _alur().migrate(instance_id, to_version, _actor(username), _mapping(maps))
    click.echo(f"Permohonan {instance_id} dipindah dari versi {result.from_version} ke versi {result.to_version}.")


@main.command("migrate-all")
@click.argument("process")
@click.argument("from_version", type=int)
@click.argument("to_version", type=int)
@click.option("--map", "maps", multiple=True, metavar="LAMA=BARU", help="Petakan langkah siap ke langkah lain.")
@click.option("--dry-run", is_flag=True, help="Hanya periksa, jangan pindahkan.")
@click.option("--as", "username", help="Pemilik proses yang memindahkan.")
@_errors
def migrate_all(process: str, from_version: int, to_version: int, maps: tuple[str, ...], dry_run: bool,
                username: str | None) -> None:
    """Pindahkan semua permohonan berjalan dari satu versi ke versi lain (yang bisa)."""
    alur, mapping = _alur(), _mapping(maps)
    if dry_run:
        for c in alur.plan_migration(process, from_version, to_version, mapping):
            click.echo(f"Permohonan {c.instance_id}: " + ("bisa dipindah" if c.can_move else
                                                          "tidak bisa: " + "; ".join(c.reasons)))
        return
    result = alur.migrate_all(process, from_version, to_version, _actor(username), mapping)
    for m in result.moved:
        click.echo(f"Permohonan {m.instance_id}: dipindah ke versi {m.to_version}")
    for c in result.refused:
        click.echo(f"Permohonan {c.instance_id}: tidak dipindah: {'; '.join(c.reasons)}")


@main.command()
@click.argument("process")
@click.option("--as", "username", required=True)
@click.option("--data", help="Data awal (JSON).")
@_errors
def start(process: str, username: str, data: str | None) -> None:
    """Mulai permohonan baru."""
    alur = _alur()
    instance_id = alur.start(process, _actor(username), _json(data))
    click.echo(f"Permohonan {instance_id} dimulai.")
    for record in alur.instance(instance_id, SYSTEM).ready:
        click.echo(f"  tugas siap: {record.id}  {record.name} [{record.lane}]")


@main.command()
@click.option("--as", "username", help="Tugas di lane pengguna ini.")
@click.option("--lane", help="Hanya lane ini.")
@_errors
def tasks(username: str | None, lane: str | None) -> None:
    """Daftar tugas yang siap dikerjakan."""
    alur = _alur()
    actor = _actor(username) if username else Actor("system", frozenset([lane] if lane else []), is_admin=True)
    records = alur.ready_tasks(actor, lane)
    if not records:
        click.echo("Tidak ada tugas siap.")
    for r in records:
        marks = (" (dikembalikan)" if r.returned_by_task else "") + (f" (dikerjakan {r.claimed_by})"
                                                                      if r.claimed_by else "")
        click.echo(f"{r.id}  permohonan {r.instance_id:<5} {r.step_no or '-':>2}. {r.name} [{r.lane}]{marks}")


@main.command()
@click.argument("task_id")
@click.option("--as", "username", required=True)
@click.option("--data", help="Isian formulir (JSON).")
@click.option("--attach", multiple=True, metavar="JENIS=BERKAS", help="Lampirkan dokumen, mis. draft_surat=a.pdf")
@_errors
def complete(task_id: str, username: str, data: str | None, attach: tuple[str, ...]) -> None:
    """Selesaikan tugas (dengan isian formulir dan lampiran)."""
    alur, actor = _alur(), _actor(username)
    uploads = []
    for item in attach:
        doc_type, _, path = item.partition("=")
        file = Path(path)
        if not path or not file.is_file():
            raise ValueError(f"--attach {item}: berkas tidak ditemukan")
        uploads.append(Upload(doc_type, file.name, file.read_bytes()))
    instance_id = alur.complete(task_id, actor, _json(data), uploads)  # files and completion: one transaction
    detail = alur.instance(instance_id, SYSTEM)
    click.echo(f"Tugas selesai. Permohonan {instance_id}: {detail.instance.status}")
    for record in detail.ready:
        click.echo(f"  tugas siap: {record.id}  {record.name} [{record.lane}]")


@main.command()
@click.argument("instance_id", type=int)
@click.option("--as", "username", required=True)
@click.option("--alasan", default="", help="Alasan pembatalan.")
@_errors
def cancel(instance_id: int, username: str, alasan: str) -> None:
    """Batalkan permohonan."""
    _alur().cancel(instance_id, _actor(username), alasan)
    click.echo(f"Permohonan {instance_id} dibatalkan.")


def _print_instance(alur: Alur, instance_id: int) -> None:
    detail = alur.instance(instance_id, SYSTEM)
    inst = detail.instance
    click.echo(f"Permohonan {inst.id} — {inst.definition.name} v{inst.definition.version} — status: {inst.status}")
    click.echo(f"Perihal: {inst.perihal or '-'}   Pemohon: {inst.agency or '-'}   "
               f"Nomor surat: {inst.letter_number or '-'}   Dikembalikan: {detail.returns} kali")
    click.echo(timeline.text(detail.history, alur.settings.timezone, alur.calendar()))
    for doc in detail.documents:
        versions = ", ".join(f"v{v.version} {v.filename} ({v.size} B, {v.sha256[:12]})" for v in doc.versions)
        click.echo(f"Dokumen {doc.doc_type}: {versions}")


@main.command()
@click.argument("instance_id", type=int)
@_errors
def show(instance_id: int) -> None:
    """Linimasa permohonan: langkah, lane, siapa, kapan, durasi terhadap standar."""
    _print_instance(_alur(), instance_id)


@main.command()
@click.option("--process", default="fasilitasi_narasumber", show_default=True)
@_errors
def demo(process: str) -> None:
    """Jalankan satu permohonan utuh dengan dua pengembalian, lalu cetak linimasanya."""
    from engine.demo import run_instance

    alur = _alur()
    init(alur, demo=True)
    instance_id = run_instance(alur, process)
    _print_instance(alur, instance_id)


@main.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@_errors
def backup_cmd(target: Path) -> None:
    """Salin basis data (termasuk dokumen) secara konsisten, juga saat server berjalan."""
    from engine.backup import backup

    backup(load().database_url, target)
    click.echo(f"Cadangan ditulis ke {target} ({target.stat().st_size} byte).")


@main.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.confirmation_option(prompt="Isi basis data akan diganti dengan cadangan. Lanjutkan?")
@_errors
def restore_cmd(source: Path) -> None:
    """Pulihkan basis data dari cadangan (hentikan server lebih dulu)."""
    from engine.backup import restore

    restore(load().database_url, source)
    click.echo(f"Basis data dipulihkan dari {source}.")


@main.command("reports-rebuild")
@_errors
def reports_rebuild() -> None:
    """Hitung ulang ringkasan laporan dari tabel tugas (mis. setelah kalender kantor diubah)."""
    from engine import reports

    alur = _alur()
    with alur.unit_of_work() as uow:
        activations, requests = reports.rebuild(uow.session, alur.calendar(uow.session))
    click.echo(f"Ringkasan laporan dibangun ulang: {activations} langkah selesai, {requests} permohonan selesai.")


@main.command("user-add")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--lane", "lanes", multiple=True, help="Lane (nama pelaksana di diagram); boleh berulang.")
@click.option("--name", "full_name", default="")
@click.option("--agency", help="Instansi pemohon (pengguna eksternal hanya melihat permohonan instansinya).")
@click.option("--process-owner", is_flag=True)
@click.option("--admin", is_flag=True)
@click.option("--email", help="Alamat e-mail untuk pengingat tugas terlambat.")
@click.option("--head", "heads", multiple=True,
              help="Jadikan kepala lane ini (salah satu --lane): boleh mengalihkan tugas lane itu; boleh berulang.")
@_errors
def user_add(username: str, password: str, lanes: tuple[str, ...], full_name: str, agency: str | None,
             process_owner: bool, admin: bool, email: str | None, heads: tuple[str, ...]) -> None:
    """Tambah pengguna."""
    create_user(_alur(), username, password, lanes, full_name, agency, process_owner, admin, email=email,
                head_lanes=heads)
    click.echo(f"Pengguna {username} dibuat.")


@main.command("user-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@_errors
def user_password(username: str, password: str) -> None:
    """Ganti kata sandi pengguna (semua sesi dan token pengguna itu berakhir)."""
    change_password(_alur(), username, password)
    click.echo(f"Kata sandi {username} diganti; semua sesi dan tokennya berakhir.")


@main.command("user-disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Aktifkan kembali.")
@_errors
def user_disable(username: str, enable: bool) -> None:
    """Nonaktifkan pengguna (semua sesi dan tokennya berakhir), atau aktifkan kembali dengan --enable."""
    set_active(_alur(), SYSTEM, username, enable)
    click.echo(f"Pengguna {username} {'diaktifkan' if enable else 'dinonaktifkan; semua sesi dan tokennya berakhir'}.")


@main.command("scheduler")
@click.option("--once", is_flag=True, help="Satu putaran saja, lalu berhenti.")
@_errors
def scheduler_cmd(once: bool) -> None:
    """Jalankan penjadwal timer dan pengingat sebagai proses tersendiri (aman berjalan ganda)."""
    import signal

    from engine.scheduler import Scheduler

    scheduler = Scheduler(_alur())
    if once:
        click.echo(f"{scheduler.run_once()} timer dijalankan.")
        return
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    click.echo(f"Penjadwal {scheduler.owner} berjalan (tiap {scheduler.alur.settings.scheduler_poll_seconds:g} detik).")
    try:
        scheduler.run()
    except KeyboardInterrupt:
        scheduler.stop()


if __name__ == "__main__":
    main()
