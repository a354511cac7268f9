"""Drawing a resource tree: box-drawing text for terminals, an SVG laid out left to right for notebooks."""

from __future__ import annotations

import datetime as dt
import html
from typing import TYPE_CHECKING

from reconcile.model import HealthStatus, SyncStatus

if TYPE_CHECKING:
    from reconcile.tree._model import ResourceTree, TreeNode

_RESET = "\x1b[0m"
_TEXT_EVENTS = 3  # events shown under a node in a terminal
_TEXT_EVENT_WIDTH = 160
_DIM = "\x1b[2m"


def _ansi(hex_color: str) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"\x1b[38;2;{red};{green};{blue}m"


def _paint(text: str, hex_color: str, color: bool) -> str:
    return f"{_ansi(hex_color)}{text}{_RESET}" if color else text


def _badges(node: TreeNode, color: bool) -> str:
    parts = []
    if node.sync_status is not None:
        status = node.sync_status
        parts.append(_paint(f"{status.icon} {status}", status.color, color))
    if node.health is not None:
        health = node.health
        parts.append(_paint(f"{health.status.icon} {health.status}", health.status.color, color))
        if health.message and (node.key is None or health.status is not HealthStatus.HEALTHY):
            parts.append(health.message)
    return "  ".join(parts)


def text(tree: ResourceTree, *, color: bool, events: bool, now: dt.datetime | None) -> str:
    """One line per node, with ``├─``/``└─`` branches; Warning events (all events of troubled nodes) beneath."""
    lines: list[str] = []

    def line(node: TreeNode, lead: str, branch: str, rest: str) -> None:
        label = node.summary if node.summary else (node.name if node.key is None else node.label)
        if node.key is None and not node.summary:
            label = f"{node.name} ({node.kind})"
        badges = _badges(node, color)
        lines.append(f"{lead}{branch}{label}" + (f"  {badges}" if badges else ""))
        shown = [e for e in node.events if e.warning or node.troubled][:_TEXT_EVENTS] if events else []
        for event in shown:
            words = _short(event.describe(now), _TEXT_EVENT_WIDTH)
            lines.append(
                f"{lead}{rest}{'│ ' if node.children else '  '}  " + (f"{_DIM}{words}{_RESET}" if color else words)
            )
        for index, child in enumerate(node.children):
            last = index == len(node.children) - 1
            line(child, lead + rest, "└─ " if last else "├─ ", "   " if last else "│  ")

    line(tree.root, "", "", "")
    return "\n".join(line.rstrip() for line in lines)


def troubles(tree: ResourceTree, *, color: bool, now: dt.datetime | None) -> str:
    """The troubled nodes, each with its verdict, message and recent events (``argocd app get``'s tail)."""
    lines = []
    for node in tree.troubled():
        health = node.health
        verdict = _paint(f"{health.status.icon} {health.status}", health.status.color, color) if health else "-"
        message = f"  {health.message}" if health is not None and health.message else ""
        lines.append(f"{node.label}  {verdict}{message}")
        lines += [f"    {_short(event.describe(now), _TEXT_EVENT_WIDTH)}" for event in node.events[:_TEXT_EVENTS]]
    return "\n".join(lines)


# --- SVG ---------------------------------------------------------------------------------------------

_WIDTH = 250  # a node's box
_HEIGHT = 54
_COLUMN = _WIDTH + 60  # from one depth to the next
_ROW = _HEIGHT + 16
_MARGIN = 12
_GREY = "#8fa4b1"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _layout(root: TreeNode) -> dict[int, tuple[float, float]]:
    """Each node's top-left corner: leaves one per row, a parent centred on its children, one column per depth."""
    places: dict[int, tuple[float, float]] = {}
    next_row = [0]

    def place(node: TreeNode, depth: int) -> float:
        if node.children:
            centres = [place(child, depth + 1) for child in node.children]
            y = (centres[0] + centres[-1]) / 2
        else:
            y = next_row[0] * _ROW
            next_row[0] += 1
        places[id(node)] = (_MARGIN + depth * _COLUMN, _MARGIN + y)
        return y

    place(root, 0)
    return places


def _box(node: TreeNode, x: float, y: float) -> str:
    health = node.health
    stripe = health.status.color if health is not None else _GREY
    title_lines = [node.summary or node.label]
    if health is not None:
        title_lines.append(f"health: {health.status}" + (f": {health.message}" if health.message else ""))
    if node.sync_status is not None:
        title_lines.append(f"sync: {node.sync_status}")
    title_lines += [event.describe() for event in node.events]
    kind = "Application" if node.key is None and not node.summary else node.kind
    name = node.summary if node.summary else node.name
    border = "#e96d76" if node.troubled else "#dee6eb"
    parts = [
        f"<g><title>{html.escape(chr(10).join(title_lines))}</title>",
        f"<rect x='{x}' y='{y}' width='{_WIDTH}' height='{_HEIGHT}' rx='6' fill='white' stroke='{border}'/>",
        f"<rect x='{x}' y='{y}' width='6' height='{_HEIGHT}' rx='3' fill='{stripe}'/>",
        f"<text x='{x + 14}' y='{y + 20}' font-size='13' fill='#363c4a'>{html.escape(_short(name, 30))}</text>",
        f"<text x='{x + 14}' y='{y + 36}' font-size='10' fill='{_GREY}'>"
        f"{html.escape(_short(kind + (' · ' + node.namespace if node.namespace else ''), 34))}</text>",
    ]
    badges = []
    if health is not None:
        badges.append(f"<tspan fill='{health.status.color}'>{health.status.icon}</tspan>")
    if node.sync_status is not None:
        status: SyncStatus = node.sync_status
        badges.append(f"<tspan fill='{status.color}'>{status.icon}</tspan>")
    if badges:
        parts.append(
            f"<text x='{x + _WIDTH - 12}' y='{y + 20}' font-size='14' text-anchor='end'>{' '.join(badges)}</text>"
        )
    problem = ""
    if health is not None and health.status in (HealthStatus.DEGRADED, HealthStatus.MISSING) and health.message:
        problem = health.message
    elif node.events and node.events[0].warning:
        problem = f"{node.events[0].reason}: {node.events[0].message}"
    if problem:
        parts.append(
            f"<text x='{x + 14}' y='{y + 49}' font-size='9' fill='#e96d76'>{html.escape(_short(problem, 48))}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def svg(tree: ResourceTree) -> str:
    """The tree as one self-contained SVG document (no scripts, no external fonts or images)."""
    places = _layout(tree.root)
    edges = []
    boxes = []
    for _, node in tree.root.walk():
        x, y = places[id(node)]
        boxes.append(_box(node, x, y))
        for child in node.children:
            cx, cy = places[id(child)]
            x1, y1, x2, y2 = x + _WIDTH, y + _HEIGHT / 2, cx, cy + _HEIGHT / 2
            middle = (x1 + x2) / 2
            edges.append(
                f"<path d='M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}' fill='none' stroke='#ccd6dd' "
                "stroke-width='1.5'/>"
            )
    width = max(x for x, _ in places.values()) + _WIDTH + _MARGIN
    height = max(y for _, y in places.values()) + _HEIGHT + _MARGIN
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:g}' height='{height:g}' "
        f"viewBox='0 0 {width:g} {height:g}' font-family='Helvetica, Arial, sans-serif' role='img' "
        f"aria-label='resource tree of {html.escape(tree.app)}'>" + "".join(edges) + "".join(boxes) + "</svg>"
    )
