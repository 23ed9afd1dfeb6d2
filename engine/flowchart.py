"""The flowchart of the printed SOP (Permenpan RB 35/2012): symbols in lane columns, joined by arrows.

Each step is one row of the SOP table; its lane cells hold one inline SVG drawn here. Across a
row, x is a percentage of the lane area (so it follows the table's columns at any width); down
a row, y is in pixels from the row's top, or 100% for its bottom edge (rows grow with their
text). Lines leave a row at its bottom edge and enter the next one at its top, so the pieces
of one arrow meet. A terminator starts the first row and ends the last; arrows that skip rows
(returns too) run on tracks at the right of a lane column. The table is cut into sheets that fit
an A4 landscape page; an arrow that crosses a cut ends and starts again at a numbered off-page
connector. No script draws anything (CSP): the page prints as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from math import ceil

from lxml import etree

from engine.diagram import BPMN, NS, SopModel, Step, safe_parse

START, END = "start", "end"
SYM_W, SYM_H = 44, 28          # process rectangle; the decision diamond is as wide and a bit taller
SYM_TOP = 30                   # a symbol's top in an ordinary row
FIRST_SYM_TOP = 46             # in the first row, below the start terminator
TERM_W, TERM_H = 48, 20
ELBOW = 19                     # where an arrow from the row above turns towards its lane
CONNECTOR = 14                 # off-page connector (a pentagon) size
ROW_MIN = 84                   # px, the CSS min-height of a row's flow cell (see alur.css)
ARRIVE = 6                     # px below a symbol's middle where an arrow from a track comes in
PAGE_BUDGET = 620              # px of rows per printed sheet (A4 landscape, after the header)


@dataclass(frozen=True)
class Edge:
    """An arrow between rows: `source`/`target` are row indexes, -1 the start, len(rows) the end."""

    source: int
    target: int
    label: str = ""

    def key(self, rows: int) -> str:
        """"3-2": from the 3rd row to the 2nd; "start-1", "13-end"."""
        def name(i: int) -> str:
            return START if i < 0 else END if i >= rows else str(i + 1)
        return f"{name(self.source)}-{name(self.target)}"


def edges(xml: str | bytes, model: SopModel, steps: list[Step]) -> list[Edge]:
    """The arrows between steps, through gateways and other non-step nodes, in row order."""
    root = safe_parse(xml if isinstance(xml, bytes) else xml.encode()).getroot()
    process = root.find("bpmn:process", NS)
    if process is None:
        return []
    flows: dict[str, list[tuple[str, str]]] = {}
    for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
        flows.setdefault(flow.get("sourceRef", ""), []).append((flow.get("targetRef", ""), flow.get("name") or ""))
    kinds = {el.get("id", ""): etree.QName(el).localname for el in process.iter() if isinstance(el.tag, str)}
    row = {s.id: i for i, s in enumerate(steps)}
    n = len(steps)

    def reach(node: str) -> list[tuple[int, str]]:
        found: list[tuple[int, str]] = []
        seen: set[str] = set()
        todo = [(target, label) for target, label in flows.get(node, [])]
        while todo:
            target, label = todo.pop(0)
            if target in seen:
                continue
            seen.add(target)
            if target in row:
                found.append((row[target], label))
            elif kinds.get(target) == "endEvent":
                found.append((n, label))
            else:
                todo.extend((t, label or lab) for t, lab in flows.get(target, []))
        return found

    result: list[Edge] = []
    starts = [el.get("id", "") for el in process.findall("bpmn:startEvent", NS)]
    for start in starts:
        result += [Edge(-1, target, label) for target, label in reach(start) if target < n]
    for i, step in enumerate(steps):
        result += [Edge(i, target, label) for target, label in reach(step.id)]
    return list(dict.fromkeys(result))


def flow_order(xml: str | bytes, model: SopModel) -> list[Step]:
    """The rows in order: by SOP step number, then by distance from the start along the flows."""
    root = safe_parse(xml if isinstance(xml, bytes) else xml.encode()).getroot()
    process = root.find("bpmn:process", NS)
    nexts: dict[str, list[str]] = {}
    for flow in (process.iter(f"{{{BPMN}}}sequenceFlow") if process is not None else ()):
        nexts.setdefault(flow.get("sourceRef", ""), []).append(flow.get("targetRef", ""))
    starts = [el.get("id", "") for el in process.findall("bpmn:startEvent", NS)] if process is not None else []
    distance = {node: 0 for node in starts}
    todo = list(starts)
    while todo:
        node = todo.pop(0)
        for target in nexts.get(node, []):
            if target not in distance:
                distance[target] = distance[node] + 1
                todo.append(target)
    far = len(distance) + 1
    return sorted(model.steps.values(),
                  key=lambda s: (s.step_no is None, s.step_no or 0, distance.get(s.id, far), s.name))


# ---- drawing ---------------------------------------------------------------------------------


@dataclass
class Row:
    step: Step
    sheet: int
    classes: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def svg(self) -> str:
        return ('<svg class="flow" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="'
                f'{escape(self.step.name)}">' + "".join(self.parts) + "</svg>")


@dataclass
class Chart:
    rows: list[Row]
    edges: list[Edge]
    sheets: int
    connectors: int


def _estimate(step: Step, doc_label: dict[str, str]) -> int:
    """A generous guess of the row's printed height, to cut sheets that fit a page."""
    text = len(step.name) + len(step.documentation or step.name)
    lines = ceil(len(step.name) / 34) + ceil(len(step.documentation or step.name) / 34)
    docs = max((sum(ceil(len(doc_label.get(d, d)) / 15) for d in ds) for ds in (step.inputs, step.outputs)),
               default=1)
    return max(ROW_MIN + 16, 17 * max(lines, docs) + 18 + (4 if text > 200 else 0))


def sheets_of(steps: list[Step], doc_label: dict[str, str], budget: int = PAGE_BUDGET) -> list[int]:
    """The sheet of each row: rows are packed into pages of `budget` pixels in order."""
    sheet, used, result = 0, 0, []
    for i, step in enumerate(steps):
        height = _estimate(step, doc_label) + (40 if i in (0, len(steps) - 1) else 0)
        if used and used + height > budget:
            sheet, used = sheet + 1, 0
        used += height
        result.append(sheet)
    return result


def chart(model: SopModel, steps: list[Step], all_edges: Iterable[Edge], doc_label: dict[str, str],
          budget: int = PAGE_BUDGET) -> Chart:
    lanes = list(model.lanes) or [""]
    n, cols = len(steps), len(lanes)
    sheet = sheets_of(steps, doc_label, budget)
    rows = [Row(s, sheet[i]) for i, s in enumerate(steps)]
    col = [lanes.index(s.lane) if s.lane in lanes else 0 for s in steps]
    all_edges = list(all_edges)

    def pct(x: float) -> str:
        return f"{x * 100 / cols:.3f}%"

    def center(i: int) -> str:
        return pct(col[i] + .5)

    def top(i: int) -> int:
        return FIRST_SYM_TOP if i == 0 else SYM_TOP

    def mid(i: int) -> int:
        return top(i) + SYM_H // 2

    def bottom(i: int) -> int:
        return top(i) + SYM_H + (2 if steps[i].is_decision else 0)

    def half(i: int) -> int:
        return SYM_W // 2 + (1 if steps[i].is_decision else 0)

    def line(r: int, x1: str, y1: object, x2: str, y2: object, extra: str = "") -> None:
        rows[r].parts.append(f'<line class="flow-line{extra}" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"/>')

    def at(r: int, x: str, y: object, inner: str) -> None:
        rows[r].parts.append(f'<svg x="{x}" y="{y}" width="1" height="1" overflow="visible">{inner}</svg>')

    def arrow_down(r: int, x: str, y: int, key: str) -> None:
        at(r, x, 0, f'<polygon class="arrowhead" data-edge="{key}" points="-4,{y - 7} 4,{y - 7} 0,{y}"/>')

    def arrow_left(r: int, i: int, key: str) -> None:
        """Into the right side of row i's symbol, a little below the middle (what leaves it leaves at the middle)."""
        y = mid(i) + ARRIVE
        x = round(half(i) * (1 - ARRIVE / (SYM_H // 2 + 1))) if steps[i].is_decision else half(i)
        at(r, center(i), 0, f'<polygon class="arrowhead" data-edge="{key}" points="{x + 7},{y - 4} {x + 7},{y + 4} '
                            f'{x},{y}"/>')

    counter = [0]

    def connector(r: int, x: str, where: str, number: int, direction: str) -> None:
        """An off-page connector at the top or bottom edge of row r."""
        w, h = CONNECTOR, CONNECTOR
        y = 2 if where == "top" else -h - 3
        pts = f"{-w // 2},{y} {w // 2},{y} {w // 2},{y + h - 5} 0,{y + h} {-w // 2},{y + h - 5}"
        at(r, x, 0 if where == "top" else "100%",
           f'<g class="offpage" data-connector="{number}" data-direction="{direction}"><polygon points="{pts}"/>'
           f'<text x="0" y="{y + 9}" text-anchor="middle">{number}</text></g>')

    # lane separators, then symbols (drawn last, over the lines' ends)
    for r in range(n):
        for k in range(1, cols):
            line(r, pct(k), 0, pct(k), "100%", " lane-sep")
    # tracks for arrows that skip rows: the fewest that keep overlapping spans apart
    long_edges = [e for e in all_edges if not (e.target == e.source + 1 or (e.source < 0 and e.target == 0))]
    spans: list[tuple[int, int, int]] = []
    track: dict[Edge, int] = {}
    for e in sorted(long_edges, key=lambda e: (min(e.source, e.target), max(e.source, e.target))):
        lo, hi = min(max(e.source, 0), e.target), max(e.source, min(e.target, n - 1))
        used = {t for (a, b, t) in spans if not (b < lo or a > hi)}
        t = next(i for i in range(len(spans) + 1) if i not in used)
        spans.append((lo, hi, t))
        track[e] = t

    def track_x(e: Edge) -> str:
        ends = [c for c in (col[e.source] if 0 <= e.source < n else None,
                            col[e.target] if e.target < n else None) if c is not None]
        return pct(max(ends) + 1 - .08 * (min(track[e], 3) + 1))

    def cut(r_from: int, r_to: int, x: str, down: bool) -> None:
        """Off-page connectors where a vertical run from row r_from to r_to crosses sheets."""
        step = 1 if down else -1
        for r in range(r_from, r_to, step):
            nxt = r + step
            if rows[r].sheet != rows[nxt].sheet:
                counter[0] += 1
                connector(r, x, "bottom" if down else "top", counter[0], "keluar")
                connector(nxt, x, "top" if down else "bottom", counter[0], "masuk")

    for e in all_edges:
        key = e.key(n)
        if e.source < 0 and e.target == 0:  # start terminator into the first symbol
            line(0, center(0), 4 + TERM_H, center(0), top(0))
            arrow_down(0, center(0), top(0), key)
            continue
        if e.target == e.source + 1 and e.target < n:  # the next row
            s, t = e.source, e.target
            line(s, center(s), bottom(s), center(s), "100%")
            if rows[s].sheet != rows[t].sheet:
                counter[0] += 1
                connector(s, center(s), "bottom", counter[0], "keluar")
                connector(t, center(s), "top", counter[0], "masuk")
                line(t, center(s), 2 + CONNECTOR, center(s), ELBOW)
            else:
                line(t, center(s), 0, center(s), ELBOW)
            if col[s] != col[t]:
                line(t, center(s), ELBOW, center(t), ELBOW)
            line(t, center(t), ELBOW, center(t), top(t))
            arrow_down(t, center(t), top(t), key)
            if e.label:
                at(s, center(s), 0, f'<text class="flow-label" x="4" y="{bottom(s) + 10}">{escape(e.label)}</text>')
            continue
        if e.source == n - 1 and e.target >= n:  # the last step into the end terminator
            y = bottom(e.source) + 18
            line(e.source, center(e.source), bottom(e.source), center(e.source), y)
            arrow_down(e.source, center(e.source), y, key)
            continue
        # an arrow on a track: leave the source at its side, run along the track, enter the target at its side
        x = track_x(e)
        s = max(e.source, 0)
        down = e.target > e.source
        t = min(e.target, n - 1)
        y_s = mid(s) if e.source >= 0 else 4 + TERM_H // 2
        line(s, center(s), y_s, x, y_s)
        line(s, x, y_s, x, "100%" if down else 0)
        for r in range(min(s, t) + 1, max(s, t)):
            line(r, x, 0, x, "100%")
        y_t = bottom(t) + 18 + TERM_H // 2 if e.target >= n else mid(t) + ARRIVE
        line(t, x, 0 if down else "100%", x, y_t)
        line(t, x, y_t, center(t), y_t)
        if e.target >= n:
            at(t, center(t), 0, f'<polygon class="arrowhead" data-edge="{key}" points="{TERM_W // 2 + 7},{y_t - 4} '
                                f'{TERM_W // 2 + 7},{y_t + 4} {TERM_W // 2},{y_t}"/>')
        else:
            arrow_left(t, t, key)
        cut(s, t, x, down)
        if e.label:
            at(s, center(s), 0, f'<text class="flow-label" x="{half(s) + 2}" y="{y_s - 3}">{escape(e.label)}</text>')

    # the symbols and terminators, over the lines
    for i, step in enumerate(steps):
        if step.is_decision:
            h = SYM_H // 2 + 1
            shape = (f'<polygon class="symbol decision" points="0,{top(i)} {SYM_W // 2},{top(i) + h} '
                     f'0,{top(i) + 2 * h} {-SYM_W // 2},{top(i) + h}"/>')
        else:
            shape = f'<rect class="symbol process" x="{-SYM_W // 2}" y="{top(i)}" width="{SYM_W}" height="{SYM_H}"/>'
        at(i, center(i), 0, f'<title>{escape(step.name)}</title>{shape}'
                            f'<text class="symbol-no" x="0" y="{top(i) + SYM_H // 2 + 4}" text-anchor="middle">'
                            f'{step.step_no or i + 1}</text>')
    if n:
        at(0, center(0), 0, _terminator(4, "Mulai"))
        last = n - 1
        if any(e.target >= n for e in all_edges):
            at(last, center(last), 0, _terminator(bottom(last) + 18, "Selesai"))
        rows[0].classes.append("flow-first")
        rows[last].classes.append("flow-last")
    for r in range(n - 1):
        if rows[r].sheet != rows[r + 1].sheet:
            rows[r].classes.append("sheet-end")
    return Chart(rows, all_edges, (rows[-1].sheet + 1) if rows else 1, counter[0])


def _terminator(y: int, text: str) -> str:
    return (f'<g class="terminator"><rect x="{-TERM_W // 2}" y="{y}" width="{TERM_W}" height="{TERM_H}" '
            f'rx="{TERM_H // 2}"/><text x="0" y="{y + 14}" text-anchor="middle">{text}</text></g>')
