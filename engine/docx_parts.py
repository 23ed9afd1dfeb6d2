"""A DOCX template rendered from the parts kept of it: what docxtpl does at every render, less what depends
only on the template.

docxtpl parses the whole package with python-docx (the bundled letters carry ~800 KB of styles), prepares
the XML of the parts it renders (`patch_xml`), renders them, serializes every part again and deflates it
into a new zip: ~14 ms of CPU a letter, most of it the same each time. Here a template is read once per
process (kept by sha256, a few at a time): the parts docxtpl renders are kept prepared, every other member
as python-docx writes it, already deflated. A render runs only docxtpl's own steps that depend on the
context (the Jinja templates, `render_xml_part`, `fix_tables`, `fix_docpr_ids`, the properties) and writes
the zip in python-docx's order, copying the kept members.

A template that python-docx would complete at save (no core properties: python-docx makes them with the
current time) is rendered by docxtpl itself (`kept` gives None).
"""

from __future__ import annotations

import copy
import hashlib
import io
import struct
import threading
import time
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment

KEPT = 8  # templates kept per process: a process has a few, each ~40 KB kept (and its compiled Jinja)
LEVEL = 6  # zlib level of the rendered parts (python-docx's, zipfile's default): a few KB each
FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


@dataclass(frozen=True)
class _Member:
    """A zip member, deflated: the kept ones once per template, the rendered ones at each render."""

    name: bytes
    crc: int
    size: int
    data: bytes

    @classmethod
    def of(cls, name: str, content: bytes, level: int) -> _Member:
        packer = zlib.compressobj(level, zlib.DEFLATED, -15)
        return cls(name.encode(), zlib.crc32(content), len(content), packer.compress(content) + packer.flush())


@dataclass(frozen=True)
class Kept:
    """What a template's renders share (text and bytes only: no python-docx object, ~MBs of parsed styles)."""

    members: tuple[_Member | str, ...]  # python-docx's order; a name is a part rendered here
    document: tuple[str, str, bytes]  # the main part: member name, docxtpl's prepared body, itself emptied of it
    headers: tuple[tuple[str, str], ...]  # (member name, prepared XML): headers, then footers, as docxtpl goes
    core: tuple[str, str, str, bytes]  # core properties: member name, part name, content type, as saved
    footnotes: tuple[str, str, bytes] | None  # (member name, prepared XML, as saved)

    def render(self, ctx: dict[str, Any], env: Environment) -> bytes:
        """`DocxTemplate.render` and `save`, in their order (the first error is the one docxtpl raises)."""
        from docx.opc.oxml import serialize_part_xml
        from docx.opc.packuri import PackURI
        from docx.opc.parts.coreprops import CorePropertiesPart
        from docx.oxml.parser import parse_xml
        from docxtpl import DocxTemplate

        steps = DocxTemplate(None)  # docxtpl's methods, with the state `render_init` sets
        steps.current_rendering_part = None
        steps.docx_ids_index = 1000
        name, body, skeleton = self.document
        tree = steps.fix_tables(steps.render_xml_part(body, None, ctx, env))
        steps.fix_docpr_ids(tree)
        root = parse_xml(skeleton)
        root.replace(root.body, tree)  # `map_tree`
        rendered = {name: serialize_part_xml(root)}
        for name, xml in self.headers:  # `map_headers_footers_xml`: the part python-docx saves is parsed again
            rendered[name] = serialize_part_xml(parse_xml(steps.render_xml_part(xml, None, ctx, env).encode()))
        name, partname, content_type, blob = self.core
        core = CorePropertiesPart.load(PackURI(partname), content_type, blob, None)  # type: ignore[arg-type]
        steps.docx = _Properties(core.core_properties)
        steps.render_properties(ctx, env)
        rendered[name] = core.blob
        if self.footnotes is not None:  # `render_footnotes` renders them again for each section of the rendered body
            name, xml, saved = self.footnotes
            sections = len(root.sectPr_lst)
            for i in range(sections):
                xml = steps.render_xml_part(xml if i == 0 else steps.patch_xml(xml), None, ctx, env)
            rendered[name] = xml.encode("utf-8") if sections else saved
        return _zip([m if isinstance(m, _Member) else _Member.of(m, rendered[m], LEVEL) for m in self.members])


@dataclass
class _Properties:
    """What `DocxTemplate.render_properties` reads of a document."""

    core_properties: Any


def prepare(content: bytes) -> Kept | None:
    """Read a template as docxtpl does and keep what its renders share; None if docxtpl must render it."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.oxml import serialize_part_xml
    from docxtpl import DocxTemplate

    template = DocxTemplate(io.BytesIO(content))
    template.init_docx()
    document = template.docx
    package = document.part.package
    if not any(rel.reltype == RT.CORE_PROPERTIES for rel in package.rels.values()):
        return None  # python-docx would make them at each render, with that moment's time
    footnotes = [part for part in package.parts if part.content_type == FOOTNOTES]
    if len(footnotes) > 1:
        return None
    headers = tuple((part.partname.membername, template.patch_xml(template.get_part_xml(part)))
                    for uri in (template.HEADER_URI, template.FOOTER_URI)
                    for _, part in template.get_headers_footers(uri))
    skeleton = copy.deepcopy(document.element)
    for child in list(skeleton.body):
        skeleton.body.remove(child)
    core = package.part_related_by(RT.CORE_PROPERTIES)
    notes = (footnotes[0].partname.membername, template.patch_xml(footnotes[0].blob.decode("utf-8")),
             footnotes[0].blob) if footnotes else None
    main = document.part.partname.membername
    rendered = {main, core.partname.membername, *(name for name, _ in headers), *([notes[0]] if notes else [])}
    saved = io.BytesIO()
    document.save(saved)
    with zipfile.ZipFile(saved) as packed:  # the smallest deflate: done once, and stored with every letter
        members = tuple(item.filename if item.filename in rendered
                        else _Member.of(item.filename, packed.read(item), 9) for item in packed.infolist())
    return Kept(members=members,
                document=(main, template.patch_xml(template.get_xml()), serialize_part_xml(skeleton)),
                headers=headers, core=(core.partname.membername, str(core.partname), core.content_type, core.blob),
                footnotes=notes)


_KEPT: OrderedDict[bytes, Kept | None] = OrderedDict()
_LOCK = threading.Lock()


def kept(content: bytes) -> Kept | None:
    """The template's kept parts, read on first use (least recently used dropped past KEPT)."""
    key = hashlib.sha256(content).digest()
    with _LOCK:
        if key in _KEPT:
            _KEPT.move_to_end(key)
            return _KEPT[key]
    found = prepare(content)
    with _LOCK:
        _KEPT[key] = found
        while len(_KEPT) > KEPT:
            _KEPT.popitem(last=False)
    return found


_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


def _zip(members: Sequence[_Member]) -> bytes:
    """The members as zipfile writes them (deflated, this minute's time, no zip64: a letter is small)."""
    now = time.localtime()
    clock = now.tm_hour << 11 | now.tm_min << 5 | now.tm_sec // 2
    day = (now.tm_year - 1980) << 9 | now.tm_mon << 5 | now.tm_mday
    chunks: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    for m in members:
        local = _LOCAL.pack(0x04034B50, 20, 0, zipfile.ZIP_DEFLATED, clock, day, m.crc, len(m.data), m.size,
                            len(m.name), 0) + m.name
        directory.append(_CENTRAL.pack(0x02014B50, 3 << 8 | 20, 20, 0, zipfile.ZIP_DEFLATED, clock, day, m.crc,
                                       len(m.data), m.size, len(m.name), 0, 0, 0, 0, 0o600 << 16, offset) + m.name)
        chunks += (local, m.data)
        offset += len(local) + len(m.data)
    central = b"".join(directory)
    return b"".join(chunks) + central + _END.pack(0x06054B50, 0, 0, len(members), len(members), len(central),
                                                  offset, 0)
