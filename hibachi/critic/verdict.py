"""What a judge returns (DESIGN.md, "Critic verdict"): the violations found, each naming the claim and the
fact it breaks, and a quality score in [0, 1]."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["high", "medium", "low"]

# What one violation of each severity costs the quality score. A hallucinated item or a wrong price
# misleads a customer about what they pay or get; a missing caveat is a smaller fault.
PENALTY: dict[str, float] = {"high": 0.5, "medium": 0.3, "low": 0.15}


class Violation(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: str
    claim: str = Field(description="the words of the response that make the claim")
    fact: str = Field(description="the fact the claim breaks, e.g. 'wagyu beef: not offered'")
    severity: Severity = "high"

    @property
    def key(self) -> tuple[str, str]:
        return self.category, self.fact


class Verdict(BaseModel):
    passed: bool
    violations: list[Violation] = Field(default_factory=list)
    quality_score: float = Field(ge=0.0, le=1.0)

    @classmethod
    def from_violations(cls, violations: list[Violation], base_quality: float = 1.0) -> Verdict:
        """One violation per distinct (category, fact); the score drops by each one's severity."""
        unique: dict[tuple[str, str], Violation] = {}
        for violation in violations:
            unique.setdefault(violation.key, violation)
        kept = list(unique.values())
        score = base_quality - sum(PENALTY[v.severity] for v in kept)
        return cls(passed=not kept, violations=kept, quality_score=round(min(1.0, max(0.0, score)), 4))
