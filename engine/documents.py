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


LABELS = {
    "surat_pd": "Surat PD",
    "disposisi": "Disposisi",
    "draft_surat": "Draft surat",
    "surat_ditandatangani": "Surat yang telah ditandatangani",
}
MEDIA_WORDS = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "dokumen Word (.docx)",
    "application/vnd.oasis.opendocument.text": "dokumen OpenDocument (.odt)",
    "image/jpeg": "gambar JPEG",
    "image/png": "gambar PNG",
    "application/x-msdownload": "berkas Windows (.exe)",
    "application/x-executable": "program Linux",
    "application/zip": "arsip ZIP",
    "application/x-rar-compressed": "arsip RAR",
    "application/gzip": "arsip gzip",
    "application/msword": "dokumen Word lama (.doc)",
    "image/gif": "gambar GIF",
    "image/webp": "gambar WebP",
    "text/html": "halaman HTML",
}


def doc_label(doc_type: str) -> str:
    """A document type's name for people ("Draft surat"), never its key."""
    return LABELS.get(doc_type, doc_type.replace("_", " ").capitalize())


def media_words(media_type: str | None) -> str:
    return MEDIA_WORDS.get(media_type or "", media_type or "berkas yang tidak dikenal")


def size_text(size: int) -> str:
    """Bytes as people read them: "850 KB", "20 MB"."""
    if size >= 1024 * 1024:
        mb = size / (1024 * 1024)
        return f"{mb:.0f} MB" if mb == int(mb) else f"{mb:.1f} MB".replace(".", ",")
    return f"{max(1, round(size / 1024))} KB"


class TooLarge(InvalidData):
    """The upload is over the configured size limit (HTTP 413)."""

    code = "too_large"


def sniff(content: bytes) -> str:
    """The media type from the content; refuse anything outside the allow-list."""
    kind = filetype.guess(content[:8192])
    media = kind.mime if kind else None
    if media not in ALLOWED:
        raise InvalidData("jenis berkas tidak diizinkan (hanya PDF, dokumen Word .docx, OpenDocument .odt, "
                          "gambar JPEG atau PNG)" + (f"; terdeteksi: {media_words(media)}" if media else ""),
                          "file", reason="bad_type", params={"detected": media, "allowed": sorted(ALLOWED)})
    return media


def safe_filename(name: str, media_type: str) -> str:
    """A plain file name: no directories, no control characters, the extension of its real type."""
    base = unicodedata.normalize("NFKC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[^\w.\- ()]+", "_", base).strip(" ._") or "dokumen"
    stem = base.rsplit(".", 1)[0][:120] or "dokumen"
    return f"{stem}.{ALLOWED[media_type]}"
