"""Every shape a modeler can draw either runs to an end or is refused at deploy, never a 500.

One diagram per BPMN element type that bpmn-js's palette and replace menu create (events
with each event definition, every task type and loop marker, gateways, sub-process
variants, call activity, data objects and stores, text annotation, group, pools and
lanes), deployed and, when accepted, driven to its end through the API.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import pytest
from flask.testing import FlaskClient

from engine.users import DEMO_PASSWORD

XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
DEFS = {
    "pesan": '<bpmn:messageEventDefinition id="def_x" />',
    "timer": ('<bpmn:timerEventDefinition id="def_x"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
              'PT1M</bpmn:timeDuration></bpmn:timerEventDefinition>'),
    "kondisi": ('<bpmn:conditionalEventDefinition id="def_x"><bpmn:condition xsi:type="bpmn:tFormalExpression">'
                "perihal == 'x'</bpmn:condition></bpmn:conditionalEventDefinition>"),
    "sinyal": '<bpmn:signalEventDefinition id="def_x" />',
    "error": '<bpmn:errorEventDefinition id="def_x" />',
    "eskalasi": '<bpmn:escalationEventDefinition id="def_x" />',
    "kompensasi": '<bpmn:compensateEventDefinition id="def_x" />',
    "terminate": '<bpmn:terminateEventDefinition id="def_x" />',
    "link": '<bpmn:linkEventDefinition id="def_x" name="lompat" />',
    "batal": '<bpmn:cancelEventDefinition id="def_x" />',
}
ISI = ('<bpmn:userTask id="isi" name="Isi permohonan" camunda:formKey="isi"><bpmn:extensionElements>'
       '<camunda:formData><camunda:formField id="perihal" label="Perihal" type="string" /></camunda:formData>'
       '</bpmn:extensionElements>{inner}</bpmn:userTask>')


@dataclass
class Case:
    """A diagram: start → isi → X → end, with X (id `x`) the element under test unless said otherwise."""

    x: str = '<bpmn:intermediateThrowEvent id="x" name="Elemen X" />'
    start: str = '<bpmn:startEvent id="s" name="Mulai" />'
    end: str = '<bpmn:endEvent id="e" name="Selesai" />'
    flows: list[tuple[str, str]] = field(default_factory=lambda: [("s", "isi"), ("isi", "x"), ("x", "e")])
    lane_nodes: list[str] = field(default_factory=lambda: ["s", "isi", "x", "e"])
    isi_inner: str = ""
    before_process: str = ""
    extra: str = ""
    artifacts: str = ""
    nested_lanes: bool = False

    def xml(self, key: str) -> bytes:
        refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in self.lane_nodes)
        lane = f'<bpmn:lane id="lane_pemohon" name="Pemohon">{refs}</bpmn:lane>'
        if self.nested_lanes:
            lane = (f'<bpmn:lane id="lane_dinas" name="Dinas">{refs}<bpmn:childLaneSet id="anak">{lane}'
                    '<bpmn:lane id="lane_lain" name="Lain" /></bpmn:childLaneSet></bpmn:lane>')
        flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
                        for i, (a, b) in enumerate(self.flows))
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
                f'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {XSI} '
                f'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://bpmn.io">\n'
                f"{self.before_process.replace('KEY', key)}"
                f'<bpmn:process id="{key}" name="Uji {key}" isExecutable="true">\n'
                f'<bpmn:laneSet id="lanes">{lane}</bpmn:laneSet>\n'
                f"{self.start}\n{ISI.format(inner=self.isi_inner)}\n{self.x}\n{self.end}\n{self.extra}\n{flows}\n{self.artifacts}\n"
                f"</bpmn:process>\n</bpmn:definitions>\n").encode()


def event(tag: str, kind: str | None, **attrs: str) -> str:
    more = "".join(f' {k}="{v}"' for k, v in attrs.items())
    body = DEFS[kind] if kind else ""
    return f'<bpmn:{tag} id="x" name="Elemen X"{more}>{body}</bpmn:{tag}>'


def boundary(kind: str, interrupting: bool = True) -> Case:
    x = event("boundaryEvent", kind, attachedToRef="isi", cancelActivity=str(interrupting).lower())
    return Case(x=x, flows=[("s", "isi"), ("isi", "e"), ("x", "e")])


RUNS, REFUSED, WAITS = "runs", "refused", "waits at its timer"
CASES: dict[str, tuple[Case, str]] = {
    # start events: none runs; a timer start (timeDate/timeCycle) runs by the scheduler (tests/test_timers.py);
    # a timeDuration start and every other definition waits on something that never comes
    "start_none": (Case(), RUNS),
    **{f"start_{k}": (Case(start=event("startEvent", k).replace('id="x"', 'id="s"').replace(
        'name="Elemen X"', 'name="Mulai X"')), REFUSED) for k in ("pesan", "timer", "kondisi", "sinyal")},
    # end events: none, error and terminate end the request (and say how); the rest are refused
    "end_none": (Case(), RUNS),
    **{f"end_{k}": (Case(end=event("endEvent", k).replace('id="x"', 'id="e"').replace(
        'name="Elemen X"', 'name="Akhir X"')), RUNS if k in ("error", "terminate") else REFUSED)
       for k in ("pesan", "eskalasi", "error", "kompensasi", "sinyal", "terminate")},
    # intermediate events
    "throw_none": (Case(), RUNS),
    **{f"throw_{k}": (Case(x=event("intermediateThrowEvent", k)), REFUSED)
       for k in ("pesan", "eskalasi", "link", "kompensasi", "sinyal")},
    **{f"catch_{k}": (Case(x=event("intermediateCatchEvent", k)), REFUSED)
       for k in ("pesan", "kondisi", "link", "sinyal")},
    "catch_timer": (Case(x=event("intermediateCatchEvent", "timer")), WAITS),
    # boundary events, interrupting and not: timers run (the step done in time ends the request)
    **{f"boundary_{k}": (boundary(k), RUNS if k == "timer" else REFUSED)
       for k in ("pesan", "timer", "eskalasi", "kondisi", "error", "batal", "sinyal", "kompensasi")},
    **{f"boundary_{k}_non_interrupting": (boundary(k, False), RUNS if k == "timer" else REFUSED)
       for k in ("pesan", "timer", "eskalasi", "kondisi", "sinyal")},
    # tasks: plain, user and manual tasks are steps of their lane; the others are refused
    **{f"task_{tag}": (Case(x=f'<bpmn:{tag} id="x" name="Elemen X" />'),
                       RUNS if tag in ("task", "userTask", "manualTask") else REFUSED)
       for tag in ("task", "userTask", "manualTask", "sendTask", "receiveTask", "businessRuleTask",
                   "serviceTask", "scriptTask", "callActivity")},
    **{f"loop_{marker}": (Case(x=f'<bpmn:userTask id="x" name="Elemen X"><bpmn:{marker} /></bpmn:userTask>'),
                          REFUSED)
       for marker in ("standardLoopCharacteristics", "multiInstanceLoopCharacteristics")},
    "task_compensation": (Case(x='<bpmn:task id="x" name="Elemen X" isForCompensation="true" />'), REFUSED),
    # gateways
    "gateway_exclusive": (Case(x='<bpmn:exclusiveGateway id="x" name="Elemen X" />'), RUNS),
    "gateway_parallel": (Case(x='<bpmn:parallelGateway id="x" name="Elemen X" />'), RUNS),
    **{f"gateway_{g}": (Case(x=f'<bpmn:{g}Gateway id="x" name="Elemen X" />'), REFUSED)
       for g in ("inclusive", "complex", "eventBased")},
    # sub-processes
    "subprocess_collapsed": (Case(x='<bpmn:subProcess id="x" name="Elemen X" />'), REFUSED),
    "subprocess_expanded": (Case(x='<bpmn:subProcess id="x" name="Elemen X"><bpmn:startEvent id="x_s" />'
                                   '</bpmn:subProcess>'), REFUSED),
    "subprocess_event": (Case(x='<bpmn:subProcess id="x" name="Elemen X" triggeredByEvent="true">'
                                '<bpmn:startEvent id="x_s">' + DEFS["pesan"] + '</bpmn:startEvent></bpmn:subProcess>',
                              flows=[("s", "isi"), ("isi", "e")]), REFUSED),
    "subprocess_transaction": (Case(x='<bpmn:transaction id="x" name="Elemen X" />'), REFUSED),
    "subprocess_adhoc": (Case(x='<bpmn:adHocSubProcess id="x" name="Elemen X" />'), REFUSED),
    # artifacts and data: drawn, not run
    "data_object": (Case(extra='<bpmn:dataObjectReference id="x" name="Elemen X" dataObjectRef="dob" />'
                               '<bpmn:dataObject id="dob" />',
                         isi_inner='<bpmn:dataOutputAssociation id="dasosiasi"><bpmn:targetRef>x</bpmn:targetRef>'
                                   '</bpmn:dataOutputAssociation>',
                         flows=[("s", "isi"), ("isi", "e")], lane_nodes=["s", "isi", "e"], x=""), RUNS),
    "data_store": (Case(extra='<bpmn:dataStoreReference id="x" name="Elemen X" />',
                        flows=[("s", "isi"), ("isi", "e")], lane_nodes=["s", "isi", "e"], x=""), RUNS),
    "text_annotation": (Case(artifacts='<bpmn:textAnnotation id="x"><bpmn:text>Catatan</bpmn:text>'
                                       '</bpmn:textAnnotation>'
                                       '<bpmn:association id="asosiasi" sourceRef="isi" targetRef="x" />',
                             flows=[("s", "isi"), ("isi", "e")], lane_nodes=["s", "isi", "e"], x=""), RUNS),
    "group": (Case(before_process='<bpmn:category id="kategori"><bpmn:categoryValue id="nilai" value="Grup" />'
                                  '</bpmn:category>',
                   artifacts='<bpmn:group id="x" categoryValueRef="nilai" />',
                   flows=[("s", "isi"), ("isi", "e")], lane_nodes=["s", "isi", "e"], x=""), RUNS),
    "participant": (Case(before_process='<bpmn:collaboration id="kolaborasi"><bpmn:participant id="x" '
                                        'name="Dinas" processRef="KEY" /></bpmn:collaboration>',
                         flows=[("s", "isi"), ("isi", "e")], lane_nodes=["s", "isi", "e"], x=""), RUNS),
    "participant_two_pools": (Case(
        before_process='<bpmn:collaboration id="kolaborasi"><bpmn:participant id="x" name="Dinas" processRef="KEY" />'
                       '<bpmn:participant id="luar" name="Pihak luar" />'
                       '<bpmn:messageFlow id="kirim" sourceRef="isi" targetRef="luar" /></bpmn:collaboration>',
        flows=[("s", "isi"), ("isi", "e")], lane_nodes=["s", "isi", "e"], x=""), RUNS),
    "lanes_nested": (Case(nested_lanes=True), RUNS),
}


def token(client: FlaskClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def run_to_end(client: FlaskClient, owner: dict[str, str], key: str, case: Case) -> dict:
    pemohon = token(client, "pemohon")
    r = client.post("/api/v1/instances", json={"process": key, "data": {}}, headers=pemohon)
    assert r.status_code == 201, r.get_json()
    instance_id = r.get_json()["id"]
    for _ in range(10):
        instance = client.get(f"/api/v1/instances/{instance_id}", headers=owner).get_json()
        if instance["status"] != "running":
            return instance
        for ready in instance["ready_tasks"]:
            task = client.get(f"/api/v1/tasks/{ready['id']}", headers=pemohon)
            assert task.status_code == 200, task.get_data(as_text=True)
            data = {f["id"]: "uji" for f in task.get_json()["fields"] if f["type"] == "string"}
            done = client.post(f"/api/v1/tasks/{ready['id']}/complete", json={"data": data}, headers=pemohon)
            assert done.status_code == 200, done.get_data(as_text=True)
    raise AssertionError(f"{key} never ended: {instance}")


@pytest.mark.parametrize("name", list(CASES))
def test_each_element_runs_to_an_end_or_is_refused_at_deploy(client: FlaskClient, name: str) -> None:
    case, expected = CASES[name]
    key = f"uji_{name}"
    owner = token(client, "pemilik-proses")
    r = client.post("/api/v1/processes", data={"file": (io.BytesIO(case.xml(key)), f"{key}.bpmn")},
                    headers=owner, content_type="multipart/form-data")
    body = r.get_json()
    if expected == REFUSED:
        assert r.status_code == 422, body
        named = [e for e in body["errors"] if "Elemen X" in e["message"] or "Mulai X" in e["message"]
                 or "Akhir X" in e["message"]]
        assert named, body["errors"]
        assert not [e for e in body["errors"] if "tidak dapat dicapai" in e["message"]
                    or "tidak ada jalan" in e["message"]], "the cause is reported once"
        return
    assert r.status_code == 201, body
    if expected == WAITS:  # the scheduler fires it (tests/test_timers.py); here: it waits, and is listed
        pemohon = token(client, "pemohon")
        iid = client.post("/api/v1/instances", json={"process": key, "data": {}}, headers=pemohon).get_json()["id"]
        first = client.get(f"/api/v1/instances/{iid}", headers=owner).get_json()["ready_tasks"][0]["id"]
        assert client.post(f"/api/v1/tasks/{first}/complete", json={"data": {"perihal": "uji"}},
                           headers=pemohon).status_code == 200
        instance = client.get(f"/api/v1/instances/{iid}", headers=owner).get_json()
        assert instance["status"] == "running" and instance["ready_tasks"] == []
        timers = client.get("/api/v1/timers", headers=owner).get_json()["timers"]
        assert [(t["instance_id"], t["spec_id"]) for t in timers] == [(iid, "x")]
        return
    instance = run_to_end(client, owner, key, case)
    assert instance["status"] == "completed"
    assert instance["end_event"]["id"] == "e"


def test_plain_and_manual_tasks_are_steps_of_their_lane(client: FlaskClient) -> None:
    """A `bpmn:task` or `bpmn:manualTask` shows in its lane's inbox and the UI task page works."""
    for tag in ("task", "manualTask"):
        case = Case(x=f'<bpmn:{tag} id="x" name="Langkah {tag}" />')
        owner = token(client, "pemilik-proses")
        key = f"uji_ui_{tag.lower()}"
        r = client.post("/api/v1/processes", data={"file": (io.BytesIO(case.xml(key)), "a.bpmn")},
                        headers=owner, content_type="multipart/form-data")
        assert r.status_code == 201, r.get_json()
        pemohon = token(client, "pemohon")
        iid = client.post("/api/v1/instances", json={"process": key}, headers=pemohon).get_json()["id"]
        first = client.get(f"/api/v1/instances/{iid}", headers=owner).get_json()["ready_tasks"][0]["id"]
        assert client.post(f"/api/v1/tasks/{first}/complete", json={"data": {"perihal": "a"}},
                           headers=pemohon).status_code == 200
        ready = client.get(f"/api/v1/instances/{iid}", headers=owner).get_json()["ready_tasks"]
        assert [t["name"] for t in ready] == [f"Langkah {tag}"] and ready[0]["lane"] == "Pemohon"
        client.post("/login", data={"username": "pemohon", "password": DEMO_PASSWORD})
        page = client.get(f"/tugas/{ready[0]['id']}")
        assert page.status_code == 200 and f"Langkah {tag}" in page.get_data(as_text=True)
        assert client.post(f"/tugas/{ready[0]['id']}", data={}).status_code == 302
        assert client.get(f"/api/v1/instances/{iid}", headers=owner).get_json()["status"] == "completed"
        client.post("/logout")


def test_how_a_request_ended_is_recorded_and_shown(client: FlaskClient) -> None:
    """An error end event is not a normal completion: its id and name are kept and shown."""
    case = Case(x='<bpmn:exclusiveGateway id="x" name="Lengkap?" default="ke_ok" />',
                end='<bpmn:endEvent id="e" name="Selesai" /><bpmn:endEvent id="gagal" name="Ditolak">'
                    + DEFS["error"] + "</bpmn:endEvent>",
                flows=[("s", "isi"), ("isi", "x"), ("x", "e"), ("x", "gagal")], lane_nodes=["s", "isi", "x", "e"])
    xml = case.xml("uji_akhir").decode()
    xml = xml.replace('<bpmn:sequenceFlow id="f2"', '<bpmn:sequenceFlow id="ke_ok"')
    xml = re.sub(r'(<bpmn:sequenceFlow id="f3" sourceRef="x" targetRef="gagal") />',
                 r"\1><bpmn:conditionExpression xsi:type='bpmn:tFormalExpression'>perihal == 'tolak'"
                 r"</bpmn:conditionExpression></bpmn:sequenceFlow>", xml)
    owner = token(client, "pemilik-proses")
    r = client.post("/api/v1/processes", data={"file": (io.BytesIO(xml.encode()), "a.bpmn")},
                    headers=owner, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    pemohon = token(client, "pemohon")
    iid = client.post("/api/v1/instances", json={"process": "uji_akhir"}, headers=pemohon).get_json()["id"]
    first = client.get(f"/api/v1/instances/{iid}", headers=owner).get_json()["ready_tasks"][0]["id"]
    assert client.post(f"/api/v1/tasks/{first}/complete", json={"data": {"perihal": "tolak"}},
                       headers=pemohon).status_code == 200
    instance = client.get(f"/api/v1/instances/{iid}", headers=owner).get_json()
    assert instance["status"] == "completed"
    assert instance["end_event"] == {"id": "gagal", "name": "Ditolak", "kind": "error"}
    client.post("/login", data={"username": "pemilik-proses", "password": DEMO_PASSWORD})
    page = client.get(f"/permohonan/{iid}").get_data(as_text=True)
    assert "Ditolak" in page and "Berakhir di" in page
