"""What `workshop validate` reports: findings that name the file, the key and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from workshop.paths import repo_relative

Severity = Literal["error", "warning", "note"]
"""An error fails the run; a warning is worth fixing; a note says what could not be checked."""


@dataclass(frozen=True)
class Finding:
    """One problem in one YAML file.

    `key` is a dotted path into the YAML (`jobs.train_logreg.inputs.mnisst`); `check` is the
    short name of the rule that fired (tests and `--json` consumers match on it).
    """

    severity: Severity
    check: str
    file: Path
    key: str
    message: str
    fix: str

    @property
    def display_file(self) -> str:
        """The file relative to the checkout when it is inside it, else as given."""
        return repo_relative(self.file)

    def as_line(self) -> str:
        where = f"{self.display_file}: {self.key}"
        return f"{self.severity}: {where}: {self.message}\n  fix: {self.fix}"


@dataclass
class Report:
    """All findings for one `workshop validate` call, plus the files that were checked."""

    files: list[Path] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        if finding not in self.findings:
            self.findings.append(finding)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def notes(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "note"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The `--json` result: counts and every finding (file, key, check, message, fix)."""
        findings = [
            {**asdict(f), "file": f.display_file}
            for f in sorted(self.findings, key=lambda f: (f.severity, f.display_file, f.key))
        ]
        return {
            "ok": self.ok,
            "files": [repo_relative(p) for p in self.files],
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "notes": len(self.notes),
            "findings": findings,
        }
