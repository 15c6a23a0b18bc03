"""The one error type users see: a message that names the file/key/value and the fix."""


class WorkshopError(Exception):
    """An error the user can act on; the CLI prints its message (no traceback) and exits 1."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message}\n  fix: {self.hint}" if self.hint else message


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (SDK errors run to pages), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
