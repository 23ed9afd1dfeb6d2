"""DOCX to PDF with LibreOffice headless (Debian: libreoffice-writer-nogui), one private profile per call."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from engine.errors import AlurError

TIMEOUT_SECONDS = 120


class PdfFailed(AlurError):
    code = "pdf_failed"


def docx_to_pdf(content: bytes, soffice: str = "soffice") -> bytes:
    """The PDF LibreOffice renders from a DOCX; PdfFailed (saying why) if it cannot."""
    with tempfile.TemporaryDirectory(prefix="alur-pdf-") as tmp:
        folder = Path(tmp)
        source = folder / "surat.docx"
        source.write_bytes(content)
        command = [soffice, f"-env:UserInstallation={(folder / 'profil').as_uri()}", "--headless", "--norestore",
                   "--convert-to", "pdf", "--outdir", str(folder), str(source)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
        except FileNotFoundError:
            raise PdfFailed("LibreOffice (soffice) tidak terpasang: apt-get install libreoffice-writer-nogui") from None
        except subprocess.TimeoutExpired:
            raise PdfFailed(f"LibreOffice tidak selesai dalam {TIMEOUT_SECONDS} detik") from None
        result = folder / "surat.pdf"
        if done.returncode != 0 or not result.is_file():
            raise PdfFailed(f"LibreOffice gagal membuat PDF: {done.stderr.decode(errors='replace')[-300:]}")
        return result.read_bytes()
