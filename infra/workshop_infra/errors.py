"""The error a stack's configuration or local inputs raise before any resource is declared."""

from __future__ import annotations

import pulumi


class ConfigError(pulumi.RunError):
    """A bad setting or input file: names the key (or file), the value and the rule.

    A `pulumi.RunError` makes `pulumi preview` print the message alone, without a Python traceback.
    """

    def __init__(self, key: str, value: object, rule: str, *, fix: str | None = None) -> None:
        self.key = key
        self.value = value
        self.rule = rule
        self.fix = fix
        message = f"{key} = {value!r}: {rule}"
        if fix:
            message += f"\n  fix: {fix}"
        super().__init__(message)
