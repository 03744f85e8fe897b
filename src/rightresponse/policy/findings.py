"""What validation and lint find in a policy file: one ``Finding`` per problem, each naming the
file and the rule, and ``PolicyError`` carrying every error at once."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RightResponseError


class PolicyError(RightResponseError, ValueError):
    """A policy that cannot be used; ``findings`` lists every error with file and rule."""

    def __init__(self, findings: list["Finding"]):
        self.findings = findings
        super().__init__("\n".join(str(f) for f in findings))


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning | info
    file: str
    rule: str | None
    message: str
    check: str = "validate"

    def __str__(self) -> str:
        where = f"{self.file}: rule {self.rule}" if self.rule else self.file
        return f"{where}: {self.level}: {self.message}"

    def to_dict(self) -> dict:
        return {"level": self.level, "file": self.file, "rule": self.rule, "check": self.check, "message": self.message}
