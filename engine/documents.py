"""What a stored document may be: the media type is sniffed from its bytes, never trusted from the client."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile

import filetype
from lxml import etree

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


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
MAX_ENTRIES = 2_000
MAX_RATIO = 100                       # unpacked bytes per stored byte, over the whole package
MAX_UNPACKED = 200 * 1024 * 1024
EXECUTABLE_EXTENSIONS = {
    "exe", "dll", "com", "bat", "cmd", "scr", "msi", "cpl", "js", "jse", "vbs", "vbe", "wsf", "wsh", "ps1",
    "sh", "jar", "hta", "lnk", "pif", "apk", "elf", "so", "dylib",
}
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")


def sniff(content: bytes) -> str:
    """The media type from the content; refuse anything outside the allow-list."""
    kind = filetype.guess(content[:8192])
    media = kind.mime if kind else None
    if media not in ALLOWED:
        raise InvalidData("jenis berkas tidak diizinkan (hanya PDF, dokumen Word .docx, OpenDocument .odt, "
                          "gambar JPEG atau PNG)" + (f"; terdeteksi: {media_words(media)}" if media else ""),
                          "file", reason="bad_type", params={"detected": media, "allowed": sorted(ALLOWED)})
    if media in (DOCX, ODT):
        _check_package(content, media)
    return media


def _refuse(why: str) -> InvalidData:
    return InvalidData(f"berkas dokumen ditolak: {why}", "file", reason="unsafe_document")


def _check_package(content: bytes, media: str) -> None:
    """A DOCX/ODT is a ZIP: check that it is really a text document, without macros or programs inside."""
    try:
        package = zipfile.ZipFile(io.BytesIO(content))
        entries = package.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _refuse("bukan paket ZIP yang utuh") from None
    if len(entries) > MAX_ENTRIES:
        raise _refuse(f"lebih dari {MAX_ENTRIES} bagian di dalamnya")
    unpacked = sum(e.file_size for e in entries)
    if unpacked > MAX_UNPACKED or unpacked > MAX_RATIO * max(len(content), 1):
        raise _refuse(f"isinya mengembang {unpacked // max(len(content), 1)} kali saat dibuka (batas {MAX_RATIO})")
    names = {e.filename for e in entries}
    for entry in entries:
        name = entry.filename
        lower = name.lower()
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise _refuse(f"nama bagian '{name[:80]}' tidak sah")
        if lower.rsplit("/", 1)[-1].startswith("vba") or lower.startswith(("basic/", "scripts/")):
            raise _refuse(f"memuat makro ('{name[:80]}')")
        if lower.rsplit(".", 1)[-1] in EXECUTABLE_EXTENSIONS and "." in lower.rsplit("/", 1)[-1]:
            raise _refuse(f"memuat program ('{name[:80]}'), bukan dokumen")
        if not name.endswith("/"):
            try:
                with package.open(entry) as fh:
                    head = fh.read(4)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError):
                raise _refuse(f"bagian '{name[:80]}' tidak dapat dibaca") from None
            if head.startswith(EXECUTABLE_MAGIC):
                raise _refuse(f"memuat program ('{name[:80]}'), bukan dokumen")
    if media == DOCX:
        _check_docx(package, names)
    else:
        _check_odt(package, names)


def _xml(package: zipfile.ZipFile, name: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(package.read(name), parser)
    except (etree.XMLSyntaxError, KeyError, ValueError):
        raise _refuse(f"'{name}' rusak") from None


def _check_docx(package: zipfile.ZipFile, names: set[str]) -> None:
    for required in ("[Content_Types].xml", "_rels/.rels", "word/document.xml"):
        if required not in names:
            raise _refuse(f"bukan dokumen Word: '{required}' tidak ada")
    types = _xml(package, "[Content_Types].xml")
    declared = [(el.get("PartName") or el.get("Extension") or "", el.get("ContentType") or "") for el in types]
    for _part, content_type in declared:
        lowered = content_type.lower()
        if "macroenabled" in lowered or "vba" in lowered:
            raise _refuse(f"memuat makro (jenis isi {content_type[:80]})")
    main = next((t for p, t in declared if p == "/word/document.xml"), None)
    if main != DOCX_MAIN:
        raise _refuse("bagian utama bukan dokumen Word biasa (.docx)")


def _check_odt(package: zipfile.ZipFile, names: set[str]) -> None:
    if package.infolist()[0].filename != "mimetype" or package.read("mimetype").strip() != ODT.encode():
        raise _refuse("bukan dokumen teks OpenDocument: 'mimetype' tidak sesuai")
    for required in ("content.xml", "META-INF/manifest.xml"):
        if required not in names:
            raise _refuse(f"bukan dokumen teks OpenDocument: '{required}' tidak ada")
    manifest = _xml(package, "META-INF/manifest.xml")
    for entry in manifest.iter("{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}file-entry"):
        media_type = (entry.get("{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}media-type") or "").lower()
        if "basic" in media_type or "script" in media_type:
            raise _refuse(f"memuat makro (jenis isi {media_type[:80]})")


def safe_filename(name: str, media_type: str) -> str:
    """A plain file name: no directories, no control characters, the extension of its real type."""
    base = unicodedata.normalize("NFKC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[^\w.\- ()]+", "_", base).strip(" ._") or "dokumen"
    stem = base.rsplit(".", 1)[0][:120] or "dokumen"
    return f"{stem}.{ALLOWED[media_type]}"
