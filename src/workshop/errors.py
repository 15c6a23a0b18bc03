"""The one error type users see: a message that names the file/key/value and the fix."""


class WorkshopError(Exception):
    """An error the user can act on; the CLI prints its message (no traceback) and exits 1."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message}\n  fix: {self.hint}" if self.hint else message
