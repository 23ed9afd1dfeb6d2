"""Configuration from the environment, read once; the only place that knows variable names."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _instance_path() -> Path:
    return Path(os.environ.get("ALUR_INSTANCE_PATH", ROOT / "instance"))


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: os.environ.get(
        "DATABASE_URL", f"sqlite:///{_instance_path() / 'alur.sqlite'}"))
    bpmn_dir: Path = field(default_factory=lambda: Path(os.environ.get("ALUR_BPMN_DIR", ROOT / "bpmn")))
    letter_format: str = field(default_factory=lambda: os.environ.get(
        "ALUR_LETTER_FORMAT", "{kode_klasifikasi}/{nomor:03d}/{kode_unit}/{tahun}"))
    kode_klasifikasi: str = field(default_factory=lambda: os.environ.get("ALUR_KODE_KLASIFIKASI", "000.1.2.3"))
    kode_unit: str = field(default_factory=lambda: os.environ.get("ALUR_KODE_UNIT", "DISKOP-UKM"))
    timezone: str = field(default_factory=lambda: os.environ.get("ALUR_TIMEZONE", "Asia/Pontianak"))
    max_upload_bytes: int = field(default_factory=lambda: int(os.environ.get("ALUR_MAX_UPLOAD_MB", "20"))
                                  * 1024 * 1024)
    # The address staff and applicants reach Alur at: in a signed letter's verification line
    # (`<public_url>/v/<code>`) and in reminder e-mails; empty: the path alone.
    public_url: str = field(default_factory=lambda: os.environ.get("ALUR_PUBLIC_URL", "").rstrip("/"))
    soffice: str = field(default_factory=lambda: os.environ.get("ALUR_SOFFICE", "soffice"))
    # The web app: where it keeps its files (the generated session key), the key itself, HTTPS-only cookies.
    instance_path: Path = field(default_factory=_instance_path)
    secret_key: str | None = field(default_factory=lambda: os.environ.get("ALUR_SECRET_KEY") or None)
    https: bool = field(default_factory=lambda: os.environ.get("ALUR_HTTPS", "") == "1")
    # Working time (issue 11): office hours per weekday in `timezone`, e.g. "Mon-Thu 07:30-16:00, Fri 07:30-16:30".
    office_hours: str = field(default_factory=lambda: os.environ.get(
        "ALUR_OFFICE_HOURS", "Mon-Thu 07:30-16:00, Fri 07:30-16:30"))
    # The timer scheduler runs inside the app's processes unless ALUR_SCHEDULER=0.
    scheduler: bool = field(default_factory=lambda: os.environ.get("ALUR_SCHEDULER", "1") != "0")
    scheduler_poll_seconds: float = field(default_factory=lambda: float(os.environ.get("ALUR_SCHEDULER_POLL", "15")))
    scheduler_lease_seconds: int = field(default_factory=lambda: int(os.environ.get("ALUR_SCHEDULER_LEASE", "120")))
    # Reminder e-mails: off unless ALUR_SMTP_HOST is set.
    smtp_host: str = field(default_factory=lambda: os.environ.get("ALUR_SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: int(os.environ.get("ALUR_SMTP_PORT", "25")))
    smtp_user: str = field(default_factory=lambda: os.environ.get("ALUR_SMTP_USER", ""))
    smtp_password: str = field(default_factory=lambda: os.environ.get("ALUR_SMTP_PASSWORD", ""))
    smtp_starttls: bool = field(default_factory=lambda: os.environ.get("ALUR_SMTP_STARTTLS", "") == "1")
    smtp_from: str = field(default_factory=lambda: os.environ.get("ALUR_SMTP_FROM", "alur@localhost"))

    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed; none by default,
    # so a client cannot pick the address its login attempts are counted under.
    trusted_proxies: tuple[str, ...] = field(default_factory=lambda: tuple(
        p.strip() for p in os.environ.get("ALUR_TRUSTED_PROXIES", "").split(",") if p.strip()))


def load() -> Settings:
    return Settings()
