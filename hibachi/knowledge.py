"""The tenant's knowledge base: typed models over the one data file, and its plain-text passages.

``load_knowledge_base(path)`` validates the file and fails with ``KnowledgeBaseError`` naming the
file, the field and what is wrong. ``KnowledgeBase.passages()`` renders the facts as short
passages by topic; retrieval grounds prompts with them and the synthetic traffic draws from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hibachi.errors import UserError
from hibachi.settings import DEFAULT_KNOWLEDGE_BASE


class KnowledgeBaseError(UserError, ValueError):
    """A knowledge-base file that cannot be used; the message names file, field and problem."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Named(_Model):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)

    @field_validator("aliases")
    @classmethod
    def _lower(cls, aliases: list[str]) -> list[str]:
        return [a.strip().lower() for a in aliases if a.strip()]

    @property
    def terms(self) -> list[str]:
        """Every way to say it, longest first so a matcher prefers 'lobster tail' to 'lobster'."""
        return sorted({self.name.lower(), *self.aliases}, key=len, reverse=True)


class PricedItem(Named):
    price: float = Field(ge=0)
    unit: str = Field(pattern=r"^per (person|order)$")
    note: str | None = None
    # An upgrade that takes the place of one of the included proteins (rather than coming on top of them).
    replaces_protein: bool = False


class Protein(Named):
    vegetarian: bool = False


class Business(_Model):
    name: str
    description: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    assistant_name: str


class PerPerson(_Model):
    price: float = Field(ge=0)
    unit: str = Field(pattern=r"^per person$")
    max_age: int | None = Field(default=None, ge=0)
    aliases: list[str] = Field(default_factory=list)


class PartyMinimum(_Model):
    amount: float = Field(ge=0)
    excludes: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)


class Gratuity(_Model):
    included: bool
    suggested_percent: float = Field(ge=0, le=100)
    paid: str
    aliases: list[str] = Field(default_factory=list)


class Pricing(_Model):
    adult: PerPerson
    child: PerPerson
    free_child_max_age: int = Field(ge=0)
    party_minimum: PartyMinimum
    proteins_per_guest: int = Field(ge=1)
    gratuity: Gratuity


class Travel(_Model):
    free_radius_miles: float = Field(ge=0)
    fee_per_mile: float = Field(ge=0)
    one_way: bool
    base_cities: list[str] = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)


class RainPolicy(_Model):
    free_reschedules: int = Field(ge=0)
    notice_hours: int = Field(ge=0)
    aliases: list[str] = Field(default_factory=list)


class Booking(_Model):
    min_lead_hours: int = Field(ge=0)
    deposit: float = Field(ge=0)
    deposit_deducted_from_bill: bool
    refund_cutoff_days: int = Field(ge=0)
    start_time_earliest: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    start_time_latest: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    days: str
    rain_policy: RainPolicy
    deposit_aliases: list[str] = Field(default_factory=list)
    lead_time_aliases: list[str] = Field(default_factory=list)
    refund_aliases: list[str] = Field(default_factory=list)
    start_time_aliases: list[str] = Field(default_factory=list)

    @property
    def start_window_minutes(self) -> tuple[int, int]:
        def minutes(hhmm: str) -> int:
            hours, mins = hhmm.split(":")
            return int(hours) * 60 + int(mins)

        return minutes(self.start_time_earliest), minutes(self.start_time_latest)


class Setup(_Model):
    customer_provides: list[str]
    chef_brings: list[str]
    outdoor_only: bool
    allowed_locations: list[str]
    grill_area_feet: tuple[float, float]
    indoor_aliases: list[str] = Field(default_factory=list)


class GlutenFree(_Model):
    available: bool
    on_request: bool
    substitute: str
    cross_contact_possible: bool
    aliases: list[str] = Field(default_factory=list)


class Allergy(_Model):
    allergy_orders_first: bool
    cleaned_grill: bool
    guarantee: bool
    aliases: list[str] = Field(default_factory=list)


class Dietary(_Model):
    vegetarian: str
    gluten_free: GlutenFree
    shellfish_allergy: Allergy


class KnowledgeBase(_Model):
    business: Business
    pricing: Pricing
    proteins: list[Protein] = Field(min_length=1)
    upgrades: list[PricedItem]
    included: list[Named]
    add_ons: list[PricedItem]
    not_offered: list[Named]
    travel: Travel
    booking: Booking
    setup: Setup
    dietary: Dietary

    @property
    def priced_items(self) -> list[PricedItem]:
        return [*self.upgrades, *self.add_ons]

    @property
    def offered_items(self) -> list[Named]:
        """Everything the business does serve (proteins, upgrades, included items, add-ons)."""
        return [*self.proteins, *self.upgrades, *self.included, *self.add_ons]

    def passages(self) -> list[Passage]:
        """The facts as short self-contained passages, one topic each, for grounding and synthesis."""
        return _render_passages(self)

    def facts_text(self) -> str:
        """The whole knowledge base as a system-prompt block."""
        return "\n".join(f"- {p.text}" for p in self.passages())


@dataclass(frozen=True)
class Passage:
    topic: str
    text: str


def _money(value: float) -> str:
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"


def _render_passages(kb: KnowledgeBase) -> list[Passage]:
    p, b, t, s, d = kb.pricing, kb.booking, kb.travel, kb.setup, kb.dietary
    proteins = ", ".join(x.name + (" (vegetarian)" if x.vegetarian else "") for x in kb.proteins)
    passages = [
        Passage("pricing", f"Adults are {_money(p.adult.price)} per person. Children {p.child.max_age} and under are "
                f"{_money(p.child.price)} per person. Children {p.free_child_max_age} and under eat free."),
        Passage("pricing", f"The party minimum is {_money(p.party_minimum.amount)} total, before "
                f"{' and '.join(p.party_minimum.excludes)}."),
        Passage("pricing", f"Gratuity is {'included' if p.gratuity.included else 'not included'}; "
                f"{p.gratuity.suggested_percent:g}% to the chef is suggested, paid {p.gratuity.paid}."),
        Passage("proteins", f"Every guest chooses {p.proteins_per_guest} proteins, included in the per-person "
                f"price: {proteins}."),
        Passage("upgrades", "Premium upgrades (per person, each replaces one protein): "
                + "; ".join(f"{u.name} +{_money(u.price)}" for u in kb.upgrades) + "."),
        Passage("included", "Included with every meal: " + ", ".join(i.name for i in kb.included) + "."),
        Passage("add_ons", "Add-ons: " + "; ".join(f"{a.name} {_money(a.price)} {a.unit}" for a in kb.add_ons)
                + "."),
        Passage("not_offered", "Not offered: " + ", ".join(n.name for n in kb.not_offered) + "."),
        Passage("travel", f"Travel is free within {t.free_radius_miles:g} miles of the nearest base city; beyond "
                f"that it is {_money(t.fee_per_mile)} per mile{' one way' if t.one_way else ''}. Base cities: "
                f"{', '.join(t.base_cities)}."),
        Passage("booking", f"Book at least {b.min_lead_hours} hours before the event. Events can start between "
                f"{b.start_time_earliest} and {b.start_time_latest}, {b.days}."),
        Passage("deposit", f"A {_money(b.deposit)} deposit holds the date"
                + ("; it is deducted from the final bill" if b.deposit_deducted_from_bill else "")
                + f". The deposit is refundable when cancelled {b.refund_cutoff_days} or more days before the "
                "event; not refundable after that."),
        Passage("booking", f"Rain: an event can be moved to another date {b.rain_policy.free_reschedules} time(s) "
                f"at no charge when cancelled for rain {b.rain_policy.notice_hours} hours ahead."),
        Passage("setup", f"The customer provides {', '.join(s.customer_provides)} for guests. The chef brings "
                f"{', '.join(s.chef_brings)}."),
        Passage("setup", ("Cooking happens outdoors only (" + ", ".join(s.allowed_locations) + "); never indoors. "
                if s.outdoor_only else "") + f"A flat area of about {s.grill_area_feet[0]:g} by "
                f"{s.grill_area_feet[1]:g} feet is needed for the grill."),
        Passage("dietary", f"Vegetarian: {d.vegetarian}."),
        Passage("dietary", f"Gluten-free is available on request with {d.gluten_free.substitute}"
                + ("; the grill is shared, so cross-contact is possible." if d.gluten_free.cross_contact_possible
                   else ".")),
        Passage("dietary", "Shellfish allergies: the chef cooks allergy orders first on a cleaned grill, but "
                + ("can guarantee no cross-contact." if d.shellfish_allergy.guarantee
                   else "cannot guarantee no cross-contact.")),
    ]
    return passages


def _describe(error: dict) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"field {location}: {error['msg']}"


def load_knowledge_base(path: Path | str | None = None) -> KnowledgeBase:
    """Read and validate a knowledge-base file; every problem names the file and the field."""
    file = Path(path) if path else DEFAULT_KNOWLEDGE_BASE
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeBaseError(f"knowledge base {file}: file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KnowledgeBaseError(f"knowledge base {file}: not valid YAML{where}: {reason}") from None
    if not isinstance(raw, dict):
        raise KnowledgeBaseError(f"knowledge base {file}: expected a mapping of sections at the top level")
    try:
        return KnowledgeBase.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors()[:5])
        more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise KnowledgeBaseError(f"knowledge base {file}: {problems}{more}") from None


@lru_cache(maxsize=8)
def cached_knowledge_base(path: str | None = None) -> KnowledgeBase:
    return load_knowledge_base(path)
