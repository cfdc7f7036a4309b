"""The event vocabulary against its consumers: the pages' scripts handle only declared kinds,
each on a socket whose audience receives that kind, and the protocol document lists them all.

The scripts are read as text (they are the browser's side and are tested by node
separately): every ``frame.kind === "..."`` comparison is a kind that script consumes.
"""

from __future__ import annotations

import re
from pathlib import Path

from live.events import KINDS, PUBLIC, STAFF, VIEWER

ROOT = Path(__file__).resolve().parent.parent.parent
STATIC = ROOT / "web" / "static"
KIND_TEST = re.compile(r"""\bframe\.kind\s*===?\s*["']([a-z_]+)["']""")
SOCKET = re.compile(r"/ws/(live|staff)/")


def consumers() -> dict[str, tuple[str, set[str]]]:
    """script name -> (the socket it opens: "live" or "staff", the kinds it handles). A module
    that handles kinds without a socket of its own (pure logic, tested under node) counts
    for each script that imports it."""
    texts = {script.name: script.read_text(encoding="utf-8")
             for script in sorted(STATIC.glob("*.js"))}
    found: dict[str, tuple[str, set[str]]] = {}
    for name, text in texts.items():
        kinds = set(KIND_TEST.findall(text))
        if not kinds:
            continue
        sockets = set(SOCKET.findall(text))
        if not sockets:
            importers = [other for other, body in texts.items()
                         if f'from "./{name}"' in body and SOCKET.search(body)]
            assert importers, f"{name} handles events but no script with a socket uses it"
            for other in importers:
                socket = SOCKET.findall(texts[other])[0]
                kept = found.get(other, (socket, set()))[1]
                found[other] = (socket, kept | kinds)
            continue
        assert len(sockets) == 1, f"{name} handles events but opens {sockets} sockets"
        socket = sockets.pop()
        found[name] = (socket, found.get(name, (socket, set()))[1] | kinds)
    return found


def test_the_scripts_handle_only_declared_kinds_for_their_audience() -> None:
    found = consumers()
    assert {"live.js", "moderate.js", "host.js"} <= set(found)  # the reader still works
    for name, (socket, kinds) in found.items():
        audiences = {PUBLIC, VIEWER} if socket == "live" else {STAFF}
        for kind in kinds:
            assert kind in KINDS, f"{name} handles {kind!r}, which is not in live/events.py"
            assert audiences & set(KINDS[kind].fields), \
                f"{name} ({socket} socket) handles {kind!r}, which never reaches that socket"


def test_every_kind_a_page_can_receive_is_handled_or_knowingly_ignored() -> None:
    handled = {socket: set() for socket in ("live", "staff")}
    for socket, kinds in consumers().values():
        handled[socket] |= kinds
    # Kinds a page receives but does not show yet; listed here so that a new kind is a
    # decision, not an accident.
    ignored = {"staff": {"clip", "clip_removed"}, "live": set()}
    for kind, declared in KINDS.items():
        for socket, audiences in (("live", {PUBLIC, VIEWER}), ("staff", {STAFF})):
            if audiences & set(declared.fields):
                assert kind in handled[socket] | ignored[socket], \
                    f"no {socket} page handles {kind!r}"
    for socket, kinds in ignored.items():
        assert not kinds & handled[socket], f"{kinds & handled[socket]} are handled now"


def test_the_protocol_document_lists_every_kind() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    table = doc[doc.index("### Event kinds"):doc.index("### Views")]
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))
    assert listed == set(KINDS)


def test_producers_name_kinds_and_audiences_by_their_constants() -> None:
    import ast

    literal_calls = []
    for package in ("live", "moderation", "clips", "web"):
        for module in (ROOT / package).rglob("*.py"):
            tree = ast.parse(module.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "Event"
                        and any(isinstance(a, ast.Constant) for a in node.args[:2])):
                    literal_calls.append(f"{module.relative_to(ROOT)}:{node.lineno}")
    assert not literal_calls
