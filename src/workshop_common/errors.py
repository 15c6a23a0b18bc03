"""One line of an error for a message: SDK and HTTP errors run to pages.

`workshop --debug` turns the shortening off (`show_full_errors`): every message then carries
the whole error, so the SDK's full answer is one flag away.
"""

from __future__ import annotations

TRACEBACK = "Traceback (most recent call last)"

_full_errors = False


def show_full_errors(on: bool) -> None:
    """Make `first_line` return whole messages (on) or first lines (off, the default)."""
    global _full_errors
    _full_errors = on


def full_errors() -> bool:
    return _full_errors


def first_line(error: BaseException | str) -> str:
    """The first non-blank line of an error's message, whitespace runs collapsed and any
    traceback dropped; an exception with no message gives its type's name. Under
    `show_full_errors(True)`, the whole message as it is."""
    if _full_errors and str(error).strip():
        return str(error).strip()
    text = str(error).split(TRACEBACK)[0]
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return type(error).__name__ if isinstance(error, BaseException) else "unknown error"
