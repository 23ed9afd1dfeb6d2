"""What a stored document may be: the media type is sniffed from its bytes, never trusted from the client."""

from __future__ import annotations

import re
import unicodedata

import filetype

from engine.errors import InvalidData

ALLOWED = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.oasis.opendocument.text": "odt",
    "image/jpeg": "jpg",
    "image/png": "png",
}


class TooLarge(InvalidData):
    """The upload is over the configured size limit (HTTP 413)."""

    code = "too_large"


def sniff(content: bytes) -> str:
    """The media type from the content; refuse anything outside the allow-list."""
    kind = filetype.guess(content[:8192])
    media = kind.mime if kind else None
    if media not in ALLOWED:
        raise InvalidData("jenis berkas tidak diizinkan (hanya PDF, DOCX, ODT, JPEG, PNG)"
                          + (f"; terdeteksi {media}" if media else ""), "file", reason="bad_type",
                          params={"detected": media, "allowed": sorted(ALLOWED)})
    return media


def safe_filename(name: str, media_type: str) -> str:
    """A plain file name: no directories, no control characters, the extension of its real type."""
    base = unicodedata.normalize("NFKC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[^\w.\- ()]+", "_", base).strip(" ._") or "dokumen"
    stem = base.rsplit(".", 1)[0][:120] or "dokumen"
    return f"{stem}.{ALLOWED[media_type]}"
