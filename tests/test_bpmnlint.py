"""Diagram checks: bpmnlint (recommended rules) and the SpiffWorkflow/Camunda structure of the SOP.

The lint test needs the npm dev dependencies (`npm ci` at the repository root); it fails, it does
not skip, when they are missing, so CI cannot pass without linting the diagrams.
"""

import os
import subprocess
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.specs.user_task import EnumFormField, UserTask

REPO = Path(__file__).resolve().parents[1]
BPMN_DIR = REPO / "bpmn"
DIAGRAMS = sorted(BPMN_DIR.glob("*.bpmn"))
BPMNLINT = REPO / "node_modules" / ".bin" / "bpmnlint"

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}

PROCESS_ID = "fasilitasi_narasumber"
DIAGRAM = BPMN_DIR / "fasilitasi_narasumber.bpmn"

LANES = [
    "Pemohon",
    "Petugas Informasi/TU",
    "Kepala Biro",
    "Kepala Bagian Terkait",
    "Kasubbag Terkait",
    "Asisten Administrasi dan Umum",
    "Sekda",
]

# SOP row -> executor (pelaksana) lane. Rows 11 and 12 follow the reading in the SOP's notes.
EXECUTOR = {
    1: "Pemohon",
    2: "Petugas Informasi/TU",
    3: "Petugas Informasi/TU",
    4: "Kepala Biro",
    5: "Kepala Bagian Terkait",
    6: "Kasubbag Terkait",
    7: "Kepala Bagian Terkait",
    8: "Kepala Biro",
    9: "Asisten Administrasi dan Umum",
    10: "Sekda",
    11: "Petugas Informasi/TU",
    12: "Kasubbag Terkait",
    13: "Pemohon",
}
WAKTU = {1: 5, 2: 5, 3: 5, 4: 5, 5: 5, 6: 20, 7: 15, 8: 15, 9: 15, 10: 15, 11: 20, 12: 5, 13: 5}
DECISION_STEPS = {2: 1, 7: 6, 8: 7, 9: 8, 10: 9}  # decision step -> step it returns to
UNGGAH_WAJIB = {1: "surat_pd", 6: "draft_surat", 10: "surat_ditandatangani"}
HANDLERS = {1: "dokumen_wajib", 6: "dokumen_wajib", 10: "dokumen_wajib", 11: "penomoran_surat"}
DOCUMENT_KEYS = {"surat_pd", "disposisi", "draft_surat", "surat_ditandatangani"}
SOP_PROPERTIES = {
    "sop_unit",
    "sop_nama",
    "sop_nomor",
    "sop_dasar_hukum",
    "sop_kualifikasi_pelaksana",
    "sop_keterkaitan",
    "sop_peralatan",
    "sop_peringatan",
    "sop_pencatatan",
}


def test_there_are_diagrams():
    assert DIAGRAMS, f"no *.bpmn in {BPMN_DIR}"
    assert DIAGRAM in DIAGRAMS


@pytest.mark.parametrize("diagram", DIAGRAMS, ids=lambda p: p.name)
def test_bpmnlint_recommended_clean(diagram):
    if not BPMNLINT.exists():
        pytest.fail(f"{BPMNLINT} not found: run npm ci in {REPO} to install bpmnlint")
    env = dict(os.environ, NO_COLOR="1", FORCE_COLOR="0")
    result = subprocess.run(
        [str(BPMNLINT), str(diagram.relative_to(REPO))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"bpmnlint failed on {diagram.name}:\n{output}"
    assert "warning" not in output.lower(), f"bpmnlint warnings on {diagram.name}:\n{output}"
    assert "error" not in output.lower(), f"bpmnlint errors on {diagram.name}:\n{output}"


def _parser(path):
    parser = CamundaParser(validator=BpmnValidator())
    parser.add_bpmn_file(str(path))
    return parser


@pytest.mark.parametrize("diagram", DIAGRAMS, ids=lambda p: p.name)
def test_every_diagram_parses_with_spiffworkflow(diagram):
    parser = _parser(diagram)
    process_ids = parser.get_process_ids()
    assert process_ids, f"{diagram.name} has no executable process"
    for process_id in process_ids:
        assert parser.get_spec(process_id).task_specs


@pytest.fixture(scope="module")
def spec():
    return _parser(DIAGRAM).get_spec(PROCESS_ID)


@pytest.fixture(scope="module")
def user_tasks(spec):
    tasks = [ts for ts in spec.task_specs.values() if isinstance(ts, UserTask)]
    return {int(ts.extensions["sop_langkah"]): ts for ts in tasks}


def test_lanes_have_the_exact_executor_names():
    root = etree.parse(str(DIAGRAM)).getroot()
    lanes = root.findall(f".//bpmn:process[@id='{PROCESS_ID}']/bpmn:laneSet/bpmn:lane", NS)
    assert [lane.get("name") for lane in lanes] == LANES


def test_process_carries_the_sop_identity():
    root = etree.parse(str(DIAGRAM)).getroot()
    process = root.find(f".//bpmn:process[@id='{PROCESS_ID}']", NS)
    assert process.get("isExecutable") == "true"
    assert process.get("name") == "Fasilitasi Narasumber"
    assert (process.findtext("bpmn:documentation", namespaces=NS) or "").strip()
    props = {
        p.get("name"): p.get("value")
        for p in process.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)
    }
    assert {name for name in props if name.startswith("sop_")} == SOP_PROPERTIES
    assert props["kalender_narasumber"] == "narasumber_diminta"  # the speaker calendar's fields (conventions)
    assert props["sop_nama"] == "Fasilitasi Narasumber"
    assert props["sop_keterkaitan"] == "SOP Surat Masuk"


def test_thirteen_user_tasks_in_their_executors_lanes(spec, user_tasks):
    all_user_tasks = [ts for ts in spec.task_specs.values() if isinstance(ts, UserTask)]
    assert len(all_user_tasks) == 13
    assert sorted(user_tasks) == list(range(1, 14))
    assert {ts.lane for ts in all_user_tasks} == set(LANES)
    for step, ts in user_tasks.items():
        assert ts.lane == EXECUTOR[step], f"step {step} ({ts.name}) is in lane {ts.lane!r}"
        assert ts.name.startswith(f"langkah_{step:02d}_")
        assert ts.bpmn_name, f"step {step} has no name"
        assert (ts.documentation or "").strip(), f"step {step} has no documentation"
        assert ts.form.key, f"step {step} has no camunda:formKey"


def test_standard_times_total_135_minutes(user_tasks):
    waktu = {step: int(ts.extensions["waktu_menit"]) for step, ts in user_tasks.items()}
    assert waktu == WAKTU
    assert sum(waktu.values()) == 135


def test_documents_uploads_and_handlers(user_tasks):
    for step, ts in user_tasks.items():
        ext = ts.extensions
        for key in ("kelengkapan", "output"):
            assert key in ext, f"step {step} lacks {key}"
            docs = {d.strip() for d in (ext[key] or "").split(",") if d.strip()}
            assert docs <= DOCUMENT_KEYS, f"step {step} {key}: unknown document keys {docs - DOCUMENT_KEYS}"
        assert ext.get("unggah_wajib") == UNGGAH_WAJIB.get(step), f"step {step} unggah_wajib"
        assert ext.get("handlers") == HANDLERS.get(step), f"step {step} handlers"


def _is_required(field):
    # FormField.has_validation("required") is False for <camunda:constraint name="required"/>
    # (no config): it tests the config for None. Look at the names instead.
    return any(v.name == "required" for v in field.validation)


def _field(ts, field_id):
    fields = {f.id: f for f in ts.form.fields}
    return fields.get(field_id)


def test_decision_steps_have_keputusan_and_catatan(user_tasks):
    for step, ts in user_tasks.items():
        keputusan = _field(ts, "keputusan")
        if step not in DECISION_STEPS:
            assert keputusan is None, f"step {step} is not a decision in the SOP"
            continue
        assert isinstance(keputusan, EnumFormField), f"step {step}: keputusan must be an enum"
        assert [o.id for o in keputusan.options] == ["setuju", "tidak_setuju"]
        assert _is_required(keputusan)
        catatan = _field(ts, "catatan")
        assert catatan is not None and catatan.type == "string"
        assert catatan.get_property("required_when") == "keputusan == 'tidak_setuju'"


def test_gateways_route_as_the_sop_decision_table(spec, user_tasks):
    def next_user_task(name):
        # follow unconditional single outputs (merge gateways) until a user task
        ts = spec.task_specs[name]
        while not isinstance(ts, UserTask):
            assert len(ts.outputs) == 1, f"{ts.name} branches unexpectedly"
            ts = ts.outputs[0]
        return int(ts.extensions["sop_langkah"])

    for step, back_to in DECISION_STEPS.items():
        ts = user_tasks[step]
        assert len(ts.outputs) == 1
        gateway = ts.outputs[0]
        routes = {cond.args[0]: target for cond, target in gateway.cond_task_specs}
        assert set(routes) == {"keputusan == 'setuju'", "keputusan == 'tidak_setuju'"}, gateway.name
        assert next_user_task(routes["keputusan == 'tidak_setuju'"]) == back_to
        assert next_user_task(routes["keputusan == 'setuju'"]) == step + 1


def test_request_and_schedule_forms(user_tasks):
    def fields(step):
        return {f.id: (f.type, _is_required(f)) for f in user_tasks[step].form.fields}

    assert fields(1) == {
        "instansi_pemohon": ("string", True),
        "perihal": ("string", True),
        "nama_kegiatan": ("string", True),
        "tanggal_kegiatan": ("date", True),
        "topik": ("string", False),
        "jam_mulai": ("enum", False),
        "durasi_jam": ("long", False),
        "tempat_kegiatan": ("string", False),
        "peserta": ("string", False),
        "narasumber_diminta": ("string", False),
    }
    assert fields(5) == {"ketersediaan": ("enum", False), "narasumber_ditunjuk": ("string", True),
                         "jadwal_narasumber": ("string", False)}
    assert fields(12) == {"cara_penyampaian": ("enum", True)}
    cara = _field(user_tasks[12], "cara_penyampaian")
    assert [o.id for o in cara.options] == ["langsung", "pos", "email"]
