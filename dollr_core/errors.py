"""The one root of refusals a person can act on, so a fault in our code is never shown as advice.

`explain()` turns a `Refusal` into plain advice and anything else that is not Dollr's or pydantic's
into "a fault in the console" with a logged reference. Each kind also keeps the builtin it used to
be (ValueError, PermissionError, RuntimeError, LookupError), so pydantic validators that raise one
still become a field error and existing `except` clauses keep working. Dollr's own refusals are the
`DollrError` classes in `dollr_core.api.errors`.
"""

from __future__ import annotations

__all__ = ["ChangedMeanwhile", "InputRefused", "NotAllowed", "NotFound", "Refusal"]


class Refusal(Exception):
    """Something a person asked for was refused for a reason they can act on; `advice` says how."""

    advice = "Correct it and try again."


class InputRefused(Refusal, ValueError):
    """What was typed, chosen or uploaded is not valid; nothing was stored or sent."""


class NotAllowed(Refusal, PermissionError):
    """The person, or the record's state, does not allow this."""

    advice = "Ask a colleague with the right role, or an admin."


class ChangedMeanwhile(Refusal, RuntimeError):
    """Someone or something changed the record since it was shown; look again before retrying."""

    advice = "Look at it again (reload the page): it changed meanwhile. Then try again if it still applies."


class NotFound(Refusal, LookupError):
    """The number, reference or record asked for does not exist."""

    advice = "Check the number or reference and try again."
