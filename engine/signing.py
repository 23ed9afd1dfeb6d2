"""The signature in Alur and the numbered final letter, with a verification code.

A step whose task property `tanda_tangan` allows `elektronik` (e.g. `elektronik,basah`) and is
approved without an upload of its first output signs the newest DOCX of its first input: the
signature block gets the signer's name, jabatan and NIP (the acting user's full name looked
up among the officials of the speaker registry) and a verification code. With `basah` the
step also accepts an uploaded scan of a wet-ink signature, as before. A step with the task
property `cap_nomor` (a document type) stamps the letter's number and date into the newest
DOCX of that type and stores the PDF LibreOffice makes of it; the code's page then shows the
number, date, signer and the PDF's sha256.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from sqlalchemy import select

from engine import generated, initials, pdf, speakers
from engine.actors import Actor
from engine.diagram import Step
from engine.errors import NotFound
from engine.models import DocumentContent, DocumentVersion, Instance, LetterVerification, User
from engine.settings import Settings
from engine.uow import UnitOfWork

SIGN, STAMP = "tanda_tangan", "cap_nomor"
ELECTRONIC, WET = "elektronik", "basah"
DOCX = generated.DOCX
Attach = Callable[[str, str, bytes, str], DocumentVersion]   # (doc_type, filename, content, note)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def modes(step: Step) -> set[str]:
    return {x.strip() for x in (step.prop(SIGN) or "").split(",") if x.strip()}


def signs_electronically(step: Step) -> str | None:
    """The document type an approval of this step signs in Alur, if the step allows it."""
    return step.outputs[0] if ELECTRONIC in modes(step) and step.outputs else None


def accepts_upload(step: Step, doc_type: str) -> bool:
    """A step that signs only in Alur (`tanda_tangan=elektronik`) takes no uploaded scan of the signed letter."""
    return not (signs_electronically(step) == doc_type and WET not in modes(step))


def verify_line(settings: Settings, code: str) -> str:
    return f"Kode verifikasi {code}: {settings.public_url}/v/{code}"


def sign(uow: UnitOfWork, settings: Settings, instance: Instance, step: Step, actor: Actor, lane: str,
         now: dt.datetime, attach: Attach) -> bool:
    """Sign the newest DOCX draft in Alur; False (nothing done) if there is none to sign."""
    doc_type = signs_electronically(step)
    source = next((v for v in (initials.latest(uow.session, instance.id, t) for t in step.inputs)
                   if v is not None and v.media_type == DOCX), None) if doc_type else None
    if doc_type is None or source is None:
        return False
    user = uow.session.scalars(select(User).where(User.username == actor.username)).first()
    name = (user.full_name if user and user.full_name else actor.username)
    official = speakers.resolve(uow.session, name)
    signer = {"nama": official.name if official else name,
              "jabatan": (official.jabatan if official and official.jabatan else lane),
              "nip": (official.nip if official and official.nip else "-"),
              "tanda_tangan": "Ditandatangani secara elektronik"}
    code = "".join(secrets.choice(ALPHABET) for _ in range(10))
    content = uow.session.get_one(DocumentContent, source.id).content
    signed = generated.render(content, {"penandatangan": signer, "verifikasi": verify_line(settings, code),
                                        "surat": generated.LATE["surat"]})
    version = attach(doc_type, "surat_ditandatangani.docx", signed,
                     f"ditandatangani secara elektronik oleh {signer['nama']} (kode {code}), "
                     f"dari {source.filename} versi {source.version}")
    uow.session.add(LetterVerification(code=code, instance_id=instance.id, signer_name=signer["nama"],
                                       signer_jabatan=signer["jabatan"], signer_nip=signer["nip"],
                                       signed_by=actor.username, signed_at=now))
    uow.audit(actor.username, "signed", now, instance.id, code=code, version=version.version,
              sha256=version.sha256, signer=signer["nama"])
    return True


def stamp(uow: UnitOfWork, settings: Settings, instance: Instance, step: Step, actor: Actor, number: str | None,
          letter_date: str | None, attach: Attach, now: dt.datetime) -> DocumentVersion | None:
    """Stamp number and date into the newest DOCX of the step's `cap_nomor` type and store its PDF."""
    doc_type = (step.prop(STAMP) or "").strip()
    if not doc_type or not number:
        return None
    source = initials.latest(uow.session, instance.id, doc_type)
    if source is None or source.media_type != DOCX:
        return None   # a scan of a wet-ink signature: numbered in the register, stamped by hand as before
    content = uow.session.get_one(DocumentContent, source.id).content
    stamped = generated.render(content, {"surat": {"nomor": number,
                                                   "tanggal": generated.date_text(letter_date or "")}})
    letter = pdf.docx_to_pdf(stamped, settings.soffice)
    version = attach(doc_type, "surat_final.pdf", letter,
                     f"nomor {number} dan tanggal dicap, PDF dari versi {source.version}")
    record = uow.session.scalars(select(LetterVerification).where(LetterVerification.instance_id == instance.id)
                                 .order_by(LetterVerification.signed_at.desc()).limit(1)).first()
    if record is not None:
        record.number, record.letter_date = number, letter_date
        record.version_id, record.sha256 = version.id, version.sha256
    return version


def verification(uow: UnitOfWork, code: str) -> LetterVerification:
    found = uow.session.get(LetterVerification, code.strip().upper()[:16])
    if found is None:
        raise NotFound("kode verifikasi tidak dikenal")
    return found
