"""Shared widgets: what a person typed never turns into a link, an image or emphasis."""

from __future__ import annotations

from console.widgets import plain


def test_typed_text_stays_plain_in_markdown() -> None:
    typed = "![track](http://evil.example/p.png) [click](http://evil.example) **Boss** a_b"
    shown = plain(typed)
    for construct in ("![", "](", "**", " a_b"):
        assert construct not in shown
    assert shown.replace("\\", "") == typed  # nothing lost, only escaped
