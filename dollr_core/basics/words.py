"""Codes and counts in the words people read: the one place the console turns a code into words.

Pages show these words; the code itself stays available in a details view for support.
"""

from __future__ import annotations


def count(n: int, noun: str, adjective: str = "") -> str:
    """`count(1, "payment")` is "1 payment", `count(3, "payment", "completed")` "3 completed payments"."""
    words = f"{adjective} {noun}" if adjective else noun
    return f"{n:,} {words}" if n == 1 else f"{n:,} {words}{'es' if noun.endswith(('s', 'sh', 'ch')) else 's'}"
