"""The holes found by attacking a running server, each closed, through the app or the service layer."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select, update

from api import create_app
from engine.actors import SYSTEM, Actor, Upload
from engine.bootstrap import build
from engine.clock import utcnow
from engine.demo import SAMPLE_PDF, actor_for_lane
from engine.diagram import MAX_ELEMENTS, MAX_FLOW_NODES, MAX_FORM_FIELDS, parse_diagram
from engine.documents import sniff
from engine.errors import InvalidData, InvalidDiagram, NotFound, Throttled
from engine.models import ApiToken, LoginThrottle
from engine.services import Alur
from engine.settings import Settings
from engine.users import (
    DEMO_PASSWORD,
    MAX_FAILURES,
    TOKEN_LIFETIME,
    authenticate,
    change_password,
    delay_after,
    get_user,
    issue_token,
    set_active,
    user_for_token,
)
from handlers import REGISTRY
from tests.conftest import PROCESS, SOP_FILE
from tests.helpers import current, start, step

SOP = SOP_FILE.read_text(encoding="utf-8")


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def bearer(client: FlaskClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


# ---- login throttling -------------------------------------------------------------------


def test_guesses_from_elsewhere_do_not_lock_out_the_user_at_their_desk(app: Flask) -> None:
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    desk = app.test_client()
    desk.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    for _ in range(MAX_FAILURES):
        assert login(attacker, "sekda", "tebakan-salah").status_code == 401
    assert login(attacker, "sekda").status_code == 429
    assert attacker.post("/api/v1/auth/token", json={"username": "sekda", "password": DEMO_PASSWORD}
                         ).status_code == 429
    assert login(desk, "sekda").status_code == 302
    assert desk.post("/api/v1/auth/token", json={"username": "sekda", "password": DEMO_PASSWORD}).status_code == 200


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(db_url: str) -> None:
    plain = build(Settings(database_url=db_url))
    behind = build(Settings(database_url=db_url, trusted_proxies=("10.0.0.5", "10.1.0.0/16")))
    direct = create_app(plain.settings, plain, TESTING=True, WTF_CSRF_ENABLED=False).test_client()
    direct.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    for i in range(MAX_FAILURES):  # a client that writes its own header does not get fresh counters
        direct.environ_base["HTTP_X_FORWARDED_FOR"] = f"192.0.2.{i}"
        assert login(direct, "kepala-biro", "tebakan-salah").status_code == 401
    direct.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.99"
    assert login(direct, "kepala-biro").status_code == 429

    proxied = create_app(behind.settings, behind, TESTING=True, WTF_CSRF_ENABLED=False).test_client()
    proxied.environ_base["REMOTE_ADDR"] = "10.0.0.5"
    proxied.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7, 10.1.2.3"  # attacker, then an inner proxy
    for _ in range(MAX_FAILURES):
        assert login(proxied, "sekda", "tebakan-salah").status_code == 401
    assert login(proxied, "sekda").status_code == 429
    proxied.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.4"  # the real user behind the same proxy
    assert login(proxied, "sekda").status_code == 302
    with behind.unit_of_work(write=False) as uow:
        clients = set(uow.session.scalars(select(LoginThrottle.client).where(LoginThrottle.username == "sekda")))
    assert clients == {"203.0.113.7"}
    plain.db.engine.dispose()
    behind.db.engine.dispose()


def test_delays_grow_with_each_further_failure(alur: Alur) -> None:
    delays = [delay_after(n) for n in range(1, MAX_FAILURES + 6)]
    assert delays[: MAX_FAILURES - 1] == [None] * (MAX_FAILURES - 1)
    waits = [d.total_seconds() for d in delays[MAX_FAILURES - 1:] if d is not None]
    assert waits == sorted(waits) and waits[0] < waits[-1]
    for _ in range(MAX_FAILURES):
        authenticate(alur, "sekda", "tebakan-salah", "10.0.0.9")
    with pytest.raises(Throttled) as first:
        authenticate(alur, "sekda", DEMO_PASSWORD, "10.0.0.9")
    with alur.unit_of_work() as uow:  # the first delay passes; one more wrong guess waits longer
        uow.session.execute(update(LoginThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert authenticate(alur, "sekda", "tebakan-salah", "10.0.0.9") is None
    with pytest.raises(Throttled) as second:
        authenticate(alur, "sekda", DEMO_PASSWORD, "10.0.0.9")
    assert second.value.retry_after > first.value.retry_after
    assert authenticate(alur, "sekda", DEMO_PASSWORD, "10.0.0.1") is not None


# ---- sessions and tokens ------------------------------------------------------------------


def copy_of(client: FlaskClient, app: Flask) -> FlaskClient:
    other = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    other.set_cookie("session", cookie.value)
    return other


def test_logout_ends_the_session_for_a_copied_cookie(app: Flask, client: FlaskClient) -> None:
    assert login(client, "sekda").status_code == 302
    stolen = copy_of(client, app)
    assert stolen.get("/").status_code == 200
    client.post("/logout")
    assert stolen.get("/").status_code == 302, "the old cookie must stop working"
    assert login(client, "sekda").status_code == 302 and client.get("/").status_code == 200


def test_password_change_and_disable_end_sessions_and_tokens(alur: Alur, app: Flask, client: FlaskClient) -> None:
    assert login(client, "sekda").status_code == 302
    token = issue_token(alur, get_user(alur, "sekda"))
    change_password(alur, "sekda", "kata-sandi-baru-1")
    assert client.get("/").status_code == 302
    assert user_for_token(alur, token) is None
    assert authenticate(alur, "sekda", "kata-sandi-baru-1") is not None

    assert login(client, "kepala-biro").status_code == 302
    token = issue_token(alur, get_user(alur, "kepala-biro"))
    set_active(alur, SYSTEM, "kepala-biro", False)
    assert client.get("/").status_code == 302
    assert app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    set_active(alur, SYSTEM, "kepala-biro", True)
    assert user_for_token(alur, token) is None, "a re-enabled account does not revive old tokens"
    assert client.get("/").status_code == 302


def test_a_new_token_has_the_documented_lifetime(alur: Alur) -> None:
    issue_token(alur, get_user(alur, "sekda"))
    with alur.unit_of_work(write=False) as uow:
        row = uow.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    assert row.expires_at - row.created_at == TOKEN_LIFETIME == timedelta(hours=12)


# ---- an applicant fills only their own step ---------------------------------------------


def test_an_applicant_cannot_fill_a_staff_field_at_start(client: FlaskClient, alur: Alur) -> None:
    headers = bearer(client, "pemohon")
    r = client.post("/api/v1/instances", headers=headers, json={
        "process": PROCESS, "data": {"perihal": "Narasumber", "jadwal_narasumber": "SUDAH DISETUJUI KEPALA BAGIAN"}})
    assert r.status_code == 422 and r.get_json()["field"] == "jadwal_narasumber", r.get_json()
    r = client.post("/api/v1/instances", headers=headers, json={"process": PROCESS, "data": {"perihal": "Narasumber"}})
    assert r.status_code == 201 and r.get_json()["data"]["perihal"] == "Narasumber"


def test_an_empty_optional_field_clears_the_stored_value(alur: Alur) -> None:
    iid = start(alur)
    step(alur, iid)
    step(alur, iid, decision="tidak_setuju")  # a note goes back with the return
    assert alur.instance(iid, SYSTEM).instance.data["catatan"]
    step(alur, iid)
    record = current(alur, iid)
    assert record.step_no == 2
    alur.complete(record.id, actor_for_lane(alur, record.lane), {"keputusan": "setuju", "catatan": ""})
    assert "catatan" not in alur.instance(iid, SYSTEM).instance.data, "the old note must not linger"


# ---- diagrams -----------------------------------------------------------------------------


def test_xhtml_in_documentation_is_refused(alur: Alur) -> None:
    xml = SOP.replace("<bpmn:documentation>", '<bpmn:documentation><meta xmlns="http://www.w3.org/1999/xhtml" '
                      'http-equiv="refresh" content="0;url=https://contoh.invalid/"/>', 1)
    with pytest.raises(InvalidDiagram) as err:
        alur.deploy(xml.encode(), SYSTEM)
    assert any("dokumentasi" in p.message and "<meta>" in p.message for p in err.value.problems)


def test_diagram_xml_is_served_as_a_download(client: FlaskClient, alur: Alur) -> None:
    login(client, "sekda")
    iid = start(alur)
    for path in (f"/proses/{PROCESS}/diagram.xml", f"/permohonan/{iid}/diagram.xml"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("attachment"), path
        assert b"<bpmn:definitions" in r.data


def chain(n: int, fields: int = 0) -> bytes:
    refs = "".join(f"<bpmn:flowNodeRef>t{i}</bpmn:flowNodeRef>" for i in range(n))
    form = "".join(f'<camunda:formField id="f{j}" label="Isian {j}" type="string" />' for j in range(fields))
    tasks = "".join(f'<bpmn:userTask id="t{i}" name="T{i}"><bpmn:extensionElements><camunda:formData>{form}'
                    f"</camunda:formData></bpmn:extensionElements></bpmn:userTask>" for i in range(n))
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="t{i}" targetRef="t{i + 1}"/>' for i in range(n - 1))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
            f'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            f'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">'
            f'<bpmn:process id="panjang" isExecutable="true"><bpmn:laneSet id="ls"><bpmn:lane id="l" name="Pemohon">'
            f"<bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef>{refs}</bpmn:lane>"
            f'</bpmn:laneSet><bpmn:startEvent id="s"/>{tasks}<bpmn:endEvent id="e"/>'
            f'<bpmn:sequenceFlow id="fs" sourceRef="s" targetRef="t0"/>{flows}'
            f'<bpmn:sequenceFlow id="fe" sourceRef="t{n - 1}" targetRef="e"/></bpmn:process></bpmn:definitions>'
            ).encode()


def test_a_too_long_diagram_is_refused_plainly(client: FlaskClient) -> None:
    r = client.post("/api/v1/processes", headers=bearer(client, "pemilik-proses"),
                    data={"file": (io.BytesIO(chain(600)), "panjang.bpmn")}, content_type="multipart/form-data")
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "Recursion" not in text and "melebihi batas" in text


def padded(xml: bytes, size: int = 2_000_000) -> bytes:
    """The diagram grown to just under the size limit with text (a long process description)."""
    filler = b"x" * (size - len(xml) - len(b"<bpmn:documentation></bpmn:documentation>"))
    return xml.replace(b'isExecutable="true">', b'isExecutable="true"><bpmn:documentation>' + filler
                       + b"</bpmn:documentation>", 1)


@pytest.mark.parametrize("shape", ["tasks", "fields", "elements"])
def test_worst_case_diagrams_under_the_size_limit_are_decided_quickly(shape: str) -> None:
    """The costliest diagrams under 2 MB are refused by a cap or accepted, quickly.

    8,000 tasks are refused by the flow-node cap; tasks up to that cap with every form field
    allowed, or with the file's elements up to the element cap, are accepted. The time is
    printed, not asserted (performance is not asserted in tests); see the README.
    """
    nodes = MAX_FLOW_NODES - 2
    if shape == "tasks":
        xml = chain(8_000)
    elif shape == "fields":
        xml = padded(chain(nodes, MAX_FORM_FIELDS // nodes))
    else:
        base = chain(nodes, MAX_FORM_FIELDS // nodes)
        spare = MAX_ELEMENTS - len(etree.fromstring(base).xpath("//*")) - 2
        props = "".join(f'<camunda:property name="p{i}" value="v"/>' for i in range(spare))
        xml = padded(base.replace(b"<camunda:formData>", f"<camunda:properties>{props}</camunda:properties>"
                                  "<camunda:formData>".encode(), 1))
    assert 1_500_000 < len(xml) < 2 * 1024 * 1024
    began = time.perf_counter()
    outcome = "diterima"
    try:
        parse_diagram(xml, REGISTRY)
    except InvalidDiagram as exc:
        outcome = str(exc)
    print(f"\n{shape}: {len(xml)} byte, {time.perf_counter() - began:.2f} s: {outcome[:100]}")
    if shape == "tasks":
        assert "melebihi batas" in outcome
    else:
        assert outcome == "diterima"


def test_too_many_elements_or_fields_are_refused_by_name() -> None:
    with pytest.raises(InvalidDiagram, match="field formulir, melebihi batas"):
        parse_diagram(chain(20, MAX_FORM_FIELDS // 20 + 1), REGISTRY)
    props = "".join(f'<camunda:property name="p{i}" value="v"/>' for i in range(MAX_ELEMENTS))
    xml = chain(3).replace(b"<camunda:formData>", f"<camunda:properties>{props}</camunda:properties>"
                           "<camunda:formData>".encode(), 1)
    with pytest.raises(InvalidDiagram, match="elemen XML, melebihi batas"):
        parse_diagram(xml, REGISTRY)
    xml = b'<?xml version="1.0"?><a>' + b"<b/>" * 450_000 + b"</a>"  # 1.8 MB of the smallest elements
    began = time.perf_counter()
    with pytest.raises(InvalidDiagram, match="elemen XML, melebihi batas"):
        parse_diagram(xml, REGISTRY)
    print(f"\n1.8 MB of tiny elements refused in {time.perf_counter() - began:.2f} s")


# ---- ids, pages and parameters in the UI --------------------------------------------------


def test_huge_ids_and_pages_in_the_ui_are_404_or_400(client: FlaskClient) -> None:
    login(client, "sekda")
    huge = "99999999999999999999"
    for path, status in [(f"/permohonan/{huge}", 404), (f"/permohonan/{huge}/diagram.xml", 404),
                         (f"/dokumen/{huge}", 404), (f"/permohonan?halaman={huge}", 400),
                         (f"/buku-agenda?tahun={huge}", 400), (f"/proses/{PROCESS}?versi={huge}", 400),
                         (f"/proses/{PROCESS}/diagram.xml?versi={huge}", 400)]:
        r = client.get(path)
        assert r.status_code == status, (path, r.status_code)
        assert b"<html" in r.data


def test_next_with_a_line_break_is_ignored(client: FlaskClient) -> None:
    r = client.post("/login?next=/permohonan%0D%0ASet-Cookie:%20x=1",
                    data={"username": "sekda", "password": DEMO_PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert "x=1" not in " ".join(r.headers.getlist("Set-Cookie"))


def test_other_agencies_documents_and_missing_ones_look_the_same(alur: Alur) -> None:
    iid = start(alur)
    record = current(alur, iid)
    pemohon = actor_for_lane(alur, "Pemohon")
    version = alur.attach_document(record.id, pemohon, Upload("surat_pd", "surat.pdf", SAMPLE_PDF))

    stranger = Actor("lain", frozenset({"Pemohon"}), agency="Dinas Lain")
    with pytest.raises(NotFound) as theirs:
        alur.document(version.id, stranger)
    with pytest.raises(NotFound) as missing:
        alur.document(version.id + 1000, stranger)
    assert theirs.value.message == f"dokumen {version.id} tidak ditemukan"
    assert missing.value.message == f"dokumen {version.id + 1000} tidak ditemukan"
    with pytest.raises(NotFound, match=f"tugas {record.id} tidak ditemukan"):
        alur.task(record.id, stranger)


# ---- request bodies -----------------------------------------------------------------------


def test_api_json_bodies_are_capped_and_unknown_keys_listed_briefly(client: FlaskClient) -> None:
    headers = bearer(client, "pemohon")
    big = {"process": PROCESS, "data": {f"kunci_{i}": "x" * 10 for i in range(5000)}}
    r = client.post("/api/v1/instances", headers=headers, json=big)
    assert r.status_code == 413 and r.get_json()["code"] == "request_entity_too_large"
    some = {"process": PROCESS, "data": {f"kunci_{i}": "x" for i in range(50)}}
    r = client.post("/api/v1/instances", headers=headers, json=some)
    assert r.status_code == 422
    message = r.get_json()["error"]
    assert message.count("kunci_") <= 5 and "45 lagi" in message and len(message) < 300


# ---- office documents ---------------------------------------------------------------------

CONTENT_TYPES = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 '<Default Extension="xml" ContentType="application/xml"/>'
                 '<Override PartName="/word/document.xml" ContentType="{main}"/>{extra}</Types>')
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def docx(extra_entries: dict[str, bytes] | None = None, main: str = DOCX_MAIN, extra_types: str = "",
         body: bytes = b"<w:document/>") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES.format(main=main, extra=extra_types))
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        z.writestr("word/document.xml", body)
        for name, content in (extra_entries or {}).items():
            z.writestr(name, content)
    return buffer.getvalue()


def odt(extra_entries: dict[str, bytes] | None = None, manifest_extra: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", "<office:document-content/>")
        z.writestr("META-INF/manifest.xml",
                   '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                   f'<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.'
                   f'opendocument.text"/>{manifest_extra}</manifest:manifest>')
        for name, content in (extra_entries or {}).items():
            z.writestr(name, content)
    return buffer.getvalue()


def test_real_office_documents_pass() -> None:
    assert sniff(docx({"word/media/image1.png": b"\x89PNG\r\n\x1a\n"})).endswith("document")
    assert sniff(odt({"Pictures/a.png": b"\x89PNG\r\n\x1a\n"})) == "application/vnd.oasis.opendocument.text"


@pytest.mark.parametrize(("content", "reason"), [
    (docx({"word/setup.exe": b"MZ\x90\x00" + b"\x00" * 100}), "program"),
    (docx({"word/media/image9.png": b"MZ\x90\x00" + b"\x00" * 100}), "program"),
    (docx({"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}), "makro"),
    (docx(main="application/vnd.ms-word.document.macroEnabled.main+xml"), "makro"),
    (docx(extra_types='<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'), "makro"),
    (docx(body=b"<w:document>" + b" " * 2_000_000 + b"</w:document>"), "mengembang"),
    (docx(main="application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"), "bagian utama"),
    (odt({"Basic/Standard/Module1.xml": b"<script/>"}), "makro"),
    (odt(manifest_extra='<manifest:file-entry manifest:full-path="Scripts/" manifest:media-type="application/'
                        'vnd.sun.star.basic"/>'), "makro"),
    (odt({"Pictures/run.exe": b"MZ\x90\x00"}), "program"),
])
def test_office_documents_with_macros_programs_or_bombs_are_refused(content: bytes, reason: str) -> None:
    with pytest.raises(InvalidData) as err:
        sniff(content)
    assert reason in err.value.message and err.value.field == "file"


def test_a_zip_with_only_a_word_folder_is_not_a_docx() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("word/x.txt", "x")
        z.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(InvalidData):
        sniff(buffer.getvalue())


def test_parallel_guesses_on_postgresql_get_at_most_the_limit_through(pg_url: str) -> None:
    """The attempt is recorded under a row lock before the password is checked (PostgreSQL too)."""
    from tests.conftest import make_alur
    from tests.test_concurrency import run_together

    alur = make_alur(pg_url)
    try:
        results = run_together([lambda: authenticate(alur, "sekda", "tebakan-salah", "10.0.0.9")
                                for _ in range(40)])
        checked = [r for r in results if r is None]
        throttled = [r for r in results if isinstance(r, Throttled)]
        assert len(checked) <= MAX_FAILURES and len(checked) + len(throttled) == 40, results
        assert authenticate(alur, "sekda", DEMO_PASSWORD, "10.0.0.1") is not None
    finally:
        alur.db.engine.dispose()


def test_a_login_whose_throttle_row_another_login_deletes_meanwhile_still_counts(pg_url: str) -> None:
    """Two logins of one account at once (two tabs, two servers): the first succeeds and deletes the throttle
    row just after the second made sure the row is there. The second must still count its attempt (it holds
    the row from then on), not fail with a 500 for a row that vanished."""
    from sqlalchemy import create_engine, event, text
    from sqlalchemy.exc import OperationalError

    from tests.conftest import make_alur

    alur = make_alur(pg_url)
    other = create_engine(pg_url)
    deleted: list[bool] = []

    def the_other_login_succeeds(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("INSERT INTO login_throttle") and not deleted:
            try:
                with other.begin() as c:  # as the other server would: its own connection, committed
                    c.execute(text("SET LOCAL lock_timeout = '300ms'"))
                    deleted.append(c.execute(text("DELETE FROM login_throttle WHERE username = 'sekda'")).rowcount > 0)
            except OperationalError:  # the row is locked by this login until it ends: it stays
                deleted.append(False)

    try:
        assert authenticate(alur, "sekda", "tebakan-salah", "10.0.0.9") is None  # the row exists
        event.listen(alur.db.engine, "after_cursor_execute", the_other_login_succeeds)
        assert authenticate(alur, "sekda", DEMO_PASSWORD, "10.0.0.9") is not None
        assert deleted == [False]  # the attempt's row was held, so the other login could not pull it away
    finally:
        event.remove(alur.db.engine, "after_cursor_execute", the_other_login_succeeds)
        other.dispose()
        alur.db.engine.dispose()


def test_a_version_stored_before_a_new_rule_still_opens(alur: Alur) -> None:
    """Rules added later (here: plain-text documentation) must not lock out requests of an older version."""
    from engine.models import ProcessDefinition

    iid = start(alur)
    xhtml = SOP.replace("<bpmn:documentation>", '<bpmn:documentation><b xmlns="http://www.w3.org/1999/xhtml">'
                        "tebal</b>", 1)
    with alur.unit_of_work() as uow:  # as stored by an older Alur that accepted it
        definition = uow.session.scalars(select(ProcessDefinition)).one()
        definition.bpmn_xml = xhtml
    fresh = build(alur.settings)
    assert fresh.instance(iid, SYSTEM).parsed.model.key == PROCESS
    fresh.db.engine.dispose()
