"""One line of an error for a message: SDK and HTTP errors run to pages."""

from __future__ import annotations

TRACEBACK = "Traceback (most recent call last)"


def first_line(error: BaseException | str) -> str:
    """The first non-blank line of an error's message, whitespace runs collapsed and any
    traceback dropped; an exception with no message gives its type's name."""
    text = str(error).split(TRACEBACK)[0]
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return type(error).__name__ if isinstance(error, BaseException) else "unknown error"
