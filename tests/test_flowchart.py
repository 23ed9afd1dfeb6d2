"""The printed SOP's flowchart: which arrows join which rows, and how they are cut across sheets."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from engine.diagram import parse_diagram
from engine.flowchart import chart, edges, flow_order, sheets_of
from handlers import REGISTRY
from tests.conftest import SOP_FILE

PARALEL = Path(__file__).parent / "diagrams" / "paralel.bpmn"

SOP_EDGES = {
    "start-1", "1-2", "2-3", "2-1", "3-4", "4-5", "5-6", "6-7", "7-8", "7-6", "8-9", "8-7", "9-10", "9-8",
    "10-11", "10-9", "11-12", "12-13", "13-end",
}


def load(path: Path) -> tuple[bytes, object, list]:
    xml = path.read_bytes()
    model = parse_diagram(xml, REGISTRY).model
    return xml, model, flow_order(xml, model)


def test_the_sop_has_an_arrow_for_every_flow_and_every_return() -> None:
    xml, model, steps = load(SOP_FILE)
    found = edges(xml, model, steps)
    assert {e.key(len(steps)) for e in found} == SOP_EDGES
    labels = {e.key(len(steps)): e.label for e in found}
    assert labels["2-1"] == "Tidak setuju" and labels["2-3"] == "Setuju" and labels["1-2"] == ""


def test_every_arrow_is_drawn_once_with_its_head_and_symbols_sit_in_their_lanes() -> None:
    xml, model, steps = load(SOP_FILE)
    drawn = chart(model, steps, edges(xml, model, steps), {})
    svg = "".join(row.svg for row in drawn.rows)
    heads = re.findall(r'class="arrowhead" data-edge="([^"]+)"', svg)
    assert sorted(heads) == sorted(SOP_EDGES)
    assert svg.count('class="symbol decision"') == 5 and svg.count('class="symbol process"') == 8
    assert svg.count(">Mulai</text>") == 1 and svg.count(">Selesai</text>") == 1
    lanes = list(model.lanes)
    for row in drawn.rows:  # the symbol's x is the middle of its lane's column
        x = float(re.search(r'<svg x="([0-9.]+)%" y="0" width="1" height="1" overflow="visible"><title>',
                            row.svg).group(1))
        assert abs(x - (lanes.index(row.step.lane) + .5) * 100 / len(lanes)) < .01, row.step.name


def test_sheets_are_cut_where_rows_no_longer_fit_and_connectors_pair_up() -> None:
    xml, model, steps = load(SOP_FILE)
    found = edges(xml, model, steps)
    one = chart(model, steps, found, {}, budget=10_000)
    assert one.sheets == 1 and one.connectors == 0
    assert "offpage" not in "".join(r.svg for r in one.rows)
    tight = chart(model, steps, found, {}, budget=1)  # every row on its own sheet
    assert tight.sheets == len(steps)
    svg = "".join(r.svg for r in tight.rows)
    numbers = Counter(re.findall(r'data-connector="(\d+)" data-direction="(keluar|masuk)"', svg))
    assert numbers and all(numbers[(n, "keluar")] == 1 and numbers[(n, "masuk")] == 1 for n, _ in numbers)
    # every arrow between neighbouring rows crosses one cut; a return from row 10 to 9 too
    assert tight.connectors >= 12 + 5
    assert sorted(re.findall(r'data-edge="([^"]+)"', svg)) == sorted(SOP_EDGES)  # no arrowhead lost
    assert sheets_of(steps, {}, 10_000) == [0] * len(steps)


def test_rows_follow_the_flow_when_steps_have_no_number_and_branches_skip_rows_on_tracks() -> None:
    xml, model, steps = load(PARALEL)
    assert [s.name for s in steps] == ["Isi permohonan", "Cabang B", "Cabang C", "Periksa"]
    found = edges(xml, model, steps)
    assert {e.key(len(steps)) for e in found} == {"start-1", "1-2", "1-3", "2-4", "3-4", "4-end"}
    drawn = chart(model, steps, found, {})
    svg = "".join(r.svg for r in drawn.rows)
    assert sorted(re.findall(r'data-edge="([^"]+)"', svg)) == sorted(["start-1", "1-2", "1-3", "2-4", "3-4", "4-end"])
    # 1-3 skips row 2: a vertical run through row 2 from its top to its bottom
    assert re.search(r'<line class="flow-line" x1="([0-9.]+%)" y1="0" x2="\1" y2="100%"/>', drawn.rows[1].svg)


def test_every_diagram_that_runs_is_drawn_with_one_head_per_arrow() -> None:
    """Each BPMN element case that deploys (issue 13's catalogue) and the owner's revised SOP (issue 9)."""
    from tests.owner_diagrams import NEW_LANE, revised_sop
    from tests.test_bpmn_elements import CASES, RUNS

    diagrams = {name: case.xml(f"uji_{name}") for name, (case, expected) in CASES.items() if expected == RUNS}
    diagrams["revised"] = revised_sop()
    assert len(diagrams) > 10
    for name, xml in diagrams.items():
        model = parse_diagram(xml, REGISTRY).model
        steps = flow_order(xml, model)
        found = edges(xml, model, steps)
        assert any(e.source < 0 for e in found) and any(e.target >= len(steps) for e in found), name
        drawn = chart(model, steps, found, {})
        heads = re.findall(r'class="arrowhead" data-edge="([^"]+)"', "".join(r.svg for r in drawn.rows))
        assert sorted(heads) == sorted(e.key(len(steps)) for e in found), name
        assert len(drawn.rows) == len(model.steps), name
    revised = parse_diagram(diagrams["revised"], REGISTRY).model
    assert NEW_LANE in revised.lanes
