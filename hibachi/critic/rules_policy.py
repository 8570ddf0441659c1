"""Policy claims: deposit, party minimum, gratuity, lead time, refund window, rain, start times, travel radius,
children's ages and proteins per guest. Each figure is compared with the knowledge base's."""

from __future__ import annotations

import re
from collections.abc import Iterator

from hibachi.critic.claims import Clause, negated_before
from hibachi.critic.context import Reading
from hibachi.critic.facts import FactIndex
from hibachi.critic.numbers import (
    AGE_LIMIT,
    CLOCK,
    DURATION,
    MONEY,
    PERCENT,
    age_limit,
    clock_minutes,
    duration_hours,
    fmt_clock,
    fmt_money,
    fmt_num,
    money_value,
)
from hibachi.critic.verdict import Violation

_INCLUDED = re.compile(r"\b(?:included|includes|including|include|built[- ]in(?:to)?|covered|part of the price|"
                       r"already (?:in|added)|factored in|baked in)\b")
_NO_TIP = re.compile(r"\b(?:no need|(?:don't|do not|doesn't|does not|won't|will not) (?:need|have) to|not necessary|"
                     r"unnecessary|not expected|not needed|needn't)\b")
_REQUIRED = re.compile(r"\b(?:required|mandatory|automatically added|automatic|compulsory|must pay|"
                       r"added to (?:your|the)(?: final)? (?:bill|total|invoice|check))\b")
_NON_REFUNDABLE = re.compile(r"\b(?:non[- ]?refundable|not refundable|no refunds?|never refund\w*|can't be refunded|"
                             r"cannot be refunded|won't be refunded)\b")
_CONDITION = re.compile(r"\b(?:after|later|within|less than|fewer than|inside|late|once|past|closer|if|when|"
                        r"unless|before)\b")
_ALWAYS_REFUNDABLE = re.compile(
    r"\b(?:refundable|refund)\b[^.;]{0,30}\b(?:any ?time|at any time|up to the (?:day|last)|always|no matter when|"
    r"whenever)\b|\balways refundable\b|\bfully refundable\b(?![^.;]*\d)")
_NOT_DEDUCTED = re.compile(r"\b(?:deduct\w*|credit\w*|appl(?:y|ied|ies)|count\w* toward|go(?:es)? toward|taken off|"
                           r"subtract\w*)\b")
_ON_TOP = re.compile(r"\b(?:on top of|in addition to|extra fee|separate (?:fee|charge))\b")
_SOFT = re.compile(r"\b(?:recommend\w*|ideally|suggest\w*|best to|earlier|sooner|popular|prefer\w*|usually|typically|"
                   r"often|busy|peak|weekends?|holidays?)\b")
_END = re.compile(r"\b(?:end|ends|ending|finish\w*|wrap\w*|over by|until|till|last|lasts|done by|arriv\w*|set ?up|"
                  r"run|runs|running)\b")
_REFUSED = re.compile(r"\btoo (?:late|early)\b|\b(?:past|outside|beyond|after|before) (?:our|the) (?:latest|earliest|"
                      r"window|hours|start)|\b(?:later|earlier) than\b")
_SAME_DAY = re.compile(r"\b(?:same[- ]day|last[- ]minute|tomorrow|today|tonight|this evening)\b")
_BOOKING = re.compile(r"\b(?:book\w*|reserv\w*|schedul\w*|order\w*|event|party|parties|works?|fine|possible|"
                      r"available|can do|no problem)\b")
_AFFIRM = re.compile(r"\b(?:yes|sure|absolutely|of course|definitely|works?|no problem|can do|we can|happy to|"
                     r"available|fine)\b")
_FREE_RADIUS = re.compile(r"\b(?:within|first|up to|inside|under|radius of|radius is|less than)\s+"
                          r"(?:the\s+first\s+|a\s+)?(?P<n>\d+(?:\.\d+)?)[\s-]*(?:miles?|mi)\b|(?P<m>\d+(?:\.\d+)?)[\s-]*(?:miles?|mi)\s+"
                          r"(?:free\s+)?(?:radius|zone)")
_BEYOND = re.compile(r"\b(?:beyond|over|past|more than|after|outside(?: of)?|farther than|further than)\s+"
                     r"(?:the\s+first\s+)?(?P<n>\d+(?:\.\d+)?)[\s-]*(?:miles?|mi)\b")
_AT_MILES = re.compile(r"\b(?:at|for|is|are|only)\s+(?P<n>\d+(?:\.\d+)?)[\s-]*(?:miles?|mi)\b")
_FREE = re.compile(r"(?<![\w-])free\b(?!\s+(?:radius|zone|range|area|distance))|\bno (?:travel )?(?:fee|charge)\b|"
                   r"\bno extra charge\b|\bcomplimentary\b|\bincluded\b|\bon us\b|\bat no (?:extra )?(?:cost|charge)\b")
_NO_DEPOSIT = re.compile(r"\bno deposit|deposit (?:is not|isn't) (?:required|needed)|"
                         r"(?:don't|do not) (?:need|require|take) a deposit")
_ANY_DISTANCE = re.compile(r"\b(?:always|anywhere|everywhere|no matter (?:how far|where|the distance)|any distance|"
                           r"wherever|all areas|regardless)\b")
_ROUND_TRIP = re.compile(r"\b(?:round[- ]trip|both ways|each way|there and back)\b")
_PROTEINS = re.compile(r"\b(?:choose|chooses|pick|picks|select|selects|get|gets|includes?|comes with|choice of|"
                       r"up to)\s+(?:any\s+|up to\s+)?(?P<n>\d+)\s+(?:different\s+)?"
                       r"(?:proteins?|meats?|protein choices)\b")
_UNLIMITED = re.compile(r"\b(?:unlimited|as many)\s+(?:proteins?|meats?)|\bas many proteins\b")
# "counts toward the minimum", "is applied to your minimum", "helps you reach the minimum"
_TOWARD = re.compile(r"\b(?:counts?|counted|counting|goes|go|going|applied|applies|apply|contributes?|contributing|"
                     r"added|adds|credited|put|puts)\s+(?:\w+\s+)?(?:toward|towards|to|into|against)\b"
                     r"|\bhelps?\s+(?:you\s+)?(?:reach|meet|hit|get to|cover)\b|\btowards?\s+(?:the|your|our)\b")
# A clause that charges for the distance ("you're beyond our free radius, so ... $46") is not a "free" claim.
_CHARGED = re.compile(r"\b(?:beyond|past|outside(?: of)?|farther than|further than|exceeds?|over) (?:our|the|your)\b"
                      r"|\b(?:charge|charged|fee applies|you'd pay|you will pay|costs?)\b")
# A duration stated as the rule ("refundable up to 10 days before", "at least 10 days' notice"), not as a case.
_CUTOFF = re.compile(r"\b(?:up to|at least|until|no later than|within|cutoff|cut-off|deadline|must|need|needs|"
                     r"required|requires|minimum|only if|as long as|or more)\b")
_WELL_BEFORE = re.compile(r"\b(?:well (?:before|ahead|in advance|outside)|more than|plenty of|enough|beyond|"
                          r"outside (?:the|our))\b")
_SMALL_CHILDREN = re.compile(r"\b(?:little ones?|toddlers?|infants?|bab(?:y|ies)|kiddos?|young(?:er)? ones|"
                             r"youngsters?|little kids|tots?|children's|kids')")
_FREE_AGE = re.compile(r"(?<![\w-])(?:free|no charge|eat for free|at no cost)\b")


class PolicyRules:
    def __init__(self, index: FactIndex):
        self.ix = index
        kb = index.kb
        self.p, self.b, self.t = kb.pricing, kb.booking, kb.travel
        self.window = self.b.start_window_minutes

    def check(self, r: Reading) -> Iterator[Violation]:
        small_children = "child" in r.keys or _SMALL_CHILDREN.search(r.lower) is not None
        for clause in r.clauses:
            keys = {m.key for m in clause.mentions}
            yield from self._gratuity(r, clause, keys)
            yield from self._durations(r, clause, keys)
            yield from self._deposit(r, clause, keys)
            yield from self._minimum(r, clause, keys)
            yield from self._travel(r, clause, keys)
            if small_children:
                yield from self._ages(r, clause, keys)
            yield from self._proteins(r, clause)
        yield from self._start_times(r)

    def _gratuity(self, r: Reading, clause: Clause, keys: set[str]) -> Iterator[Violation]:
        if "gratuity" not in keys:
            return
        g, claim = self.p.gratuity, r.claim(clause)
        fact = (f"gratuity: {'included' if g.included else 'not included'}; {fmt_num(g.suggested_percent)}% "
                f"suggested, paid {g.paid}")
        if not g.included and clause.has(_INCLUDED) and not clause.negated and "minimum" not in keys:
            yield Violation(category="gratuity", severity="medium", claim=claim, fact=fact)
        elif g.included and clause.has(_INCLUDED) and clause.negated:
            yield Violation(category="gratuity", severity="medium", claim=claim, fact=fact)
        elif not g.included and g.suggested_percent > 0 and clause.has(_NO_TIP):
            yield Violation(category="gratuity", severity="medium", claim=claim, fact=fact)
        elif clause.has(_REQUIRED) and not clause.negated and not g.included:
            yield Violation(category="gratuity", severity="medium", claim=claim, fact=fact)
        for match in PERCENT.finditer(clause.text):
            wrong = abs(float(match.group("n")) - g.suggested_percent) > 1e-6
            if wrong and not negated_before(clause.text, match.start(), 8):
                yield Violation(category="gratuity", severity="medium", claim=claim, fact=fact)

    def _durations(self, r: Reading, clause: Clause, keys: set[str]) -> Iterator[Violation]:
        topic = next((k for k in ("rain", "refund", "lead") if k in keys), None)
        claim = r.claim(clause)
        if self.b.min_lead_hours >= 24 and not clause.negated and (
                (clause.has(_SAME_DAY) and clause.has(_BOOKING)) or (_SAME_DAY.search(r.prompt_lower) and clause.has(
                    _AFFIRM) and not any(c.negated for c in r.clauses) and not DURATION.search(r.lower))):
            yield Violation(category="lead_time", severity="medium", claim=claim,
                            fact=f"booking: at least {self.b.min_lead_hours} hours before the event")
        if topic is None:
            return
        if topic == "lead" and "refund" in r.prompt_keys and "lead" not in r.prompt_keys:
            topic = "refund"  # "3 weeks is well ahead of the cutoff", answering a question about cancelling
        true_hours = {"rain": self.b.rain_policy.notice_hours, "refund": self.b.refund_cutoff_days * 24,
                      "lead": self.b.min_lead_hours}[topic]
        for match in DURATION.finditer(clause.text):
            hours = duration_hours(match)
            near = clause.text[max(0, match.start() - 30):match.end() + 15]
            if abs(hours - true_hours) < 1e-6 or (topic == "lead" and _SOFT.search(near)):
                continue
            if clause.negated and topic in ("refund", "lead") and hours < true_hours:
                continue  # "3 days before would not be refunded", "24 hours' notice isn't enough": both true
            if topic == "refund" and hours > true_hours and not clause.negated and not _CUTOFF.search(near) and (
                    any(abs(duration_hours(p) - hours) < 1e-6 for p in DURATION.finditer(r.prompt_lower))
                    or _WELL_BEFORE.search(near)):
                continue  # "10 days before is enough notice for a refund": the customer's case, not the rule
            yield Violation(category={"rain": "rain_policy", "refund": "refund_window", "lead": "lead_time"}[topic],
                            severity="medium", claim=claim, fact=self._duration_fact(topic))

    def _duration_fact(self, topic: str) -> str:
        if topic == "rain":
            rain = self.b.rain_policy
            return f"rain: reschedule {rain.free_reschedules} time(s) free with {rain.notice_hours} hours' notice"
        if topic == "refund":
            return f"deposit: refundable when cancelled {self.b.refund_cutoff_days} or more days before the event"
        return f"booking: at least {self.b.min_lead_hours} hours before the event"

    def _deposit(self, r: Reading, clause: Clause, keys: set[str]) -> Iterator[Violation]:
        if not keys & {"deposit", "refund"} or "rain" in keys:
            return
        claim = r.claim(clause)
        if self.b.refund_cutoff_days > 0 and clause.has(_NON_REFUNDABLE) and not clause.has(_CONDITION) \
                and not DURATION.search(clause.text):
            yield Violation(category="refund_window", severity="medium", claim=claim,
                            fact=self._duration_fact("refund"))
        if clause.has(_ALWAYS_REFUNDABLE) and not clause.negated:
            yield Violation(category="refund_window", severity="medium", claim=claim,
                            fact=self._duration_fact("refund"))
        if "deposit" in keys and self.b.deposit_deducted_from_bill and (
                (clause.negated and clause.has(_NOT_DEDUCTED)) or clause.has(_ON_TOP)):
            yield Violation(category="deposit", severity="medium", claim=claim,
                            fact=f"deposit: {fmt_money(self.b.deposit)}, deducted from the final bill")
        if "deposit" in keys and "gratuity" not in keys and PERCENT.search(clause.text):
            yield Violation(category="deposit", severity="medium", claim=claim,
                            fact=f"deposit: {fmt_money(self.b.deposit)} flat, deducted from the final bill")
        if "deposit" in keys and clause.negated and self.b.deposit > 0 and clause.has(_NO_DEPOSIT):
            yield Violation(category="deposit", severity="medium", claim=claim,
                            fact=f"deposit: {fmt_money(self.b.deposit)} holds the date")

    def _minimum(self, r: Reading, clause: Clause, keys: set[str]) -> Iterator[Violation]:
        excludes = self.p.party_minimum.excludes
        counted = clause.has(_INCLUDED) or clause.has(_TOWARD)
        if "minimum" in keys and excludes and not clause.negated and counted and (
                "travel" in keys or "gratuity" in keys):
            yield Violation(category="minimum", severity="medium", claim=r.claim(clause),
                            fact=f"party minimum: {fmt_money(self.p.party_minimum.amount)} before "
                                 f"{' and '.join(excludes)}")
        if "minimum" in keys and self.p.party_minimum.amount > 0 and re.search(
                r"\bno (?:party |order )?minimum|(?:don't|do not) have a (?:party |order )?minimum|"
                r"minimum (?:is not|isn't) (?:required|needed)|without a minimum", clause.text):
            yield Violation(category="minimum", severity="medium", claim=r.claim(clause),
                            fact=f"party minimum: {fmt_money(self.p.party_minimum.amount)}")

    def _travel(self, r: Reading, clause: Clause, keys: set[str]) -> Iterator[Violation]:
        if not keys & {"travel"} and not clause.has(_FREE_RADIUS) and "mile" not in clause.text:
            return
        claim, radius = r.claim(clause), self.t.free_radius_miles
        fact = (f"travel: free within {fmt_num(radius)} miles, then {fmt_money(self.t.fee_per_mile)} per mile"
                + (" one way" if self.t.one_way else ""))
        free = clause.has(_FREE) and not re.search(r"\bnot free\b|\bisn't free\b", clause.text) \
            and not clause.has(_CHARGED) and not any(money_value(m) > 0 for m in MONEY.finditer(clause.text))
        if free and self.t.fee_per_mile > 0 and "travel" in keys and clause.has(_ANY_DISTANCE) and not clause.negated:
            yield Violation(category="travel", severity="medium", claim=claim, fact=fact)
        if free:
            for match in _FREE_RADIUS.finditer(clause.text):
                if abs(float(match.group("n") or match.group("m")) - radius) > 1e-6:
                    yield Violation(category="travel", severity="medium", claim=claim, fact=fact)
            for match in _AT_MILES.finditer(clause.text):
                if float(match.group("n")) > radius:
                    yield Violation(category="travel", severity="medium", claim=claim, fact=fact)
            miles = r.prompt_miles
            if miles is not None and miles > radius and "travel" in keys and not clause.has(_FREE_RADIUS) \
                    and not clause.has(_BEYOND) and not _AT_MILES.search(clause.text) and not clause.negated:
                yield Violation(category="travel", severity="medium", claim=claim,
                                fact=f"{fact}; {fmt_num(miles)} miles is beyond the free radius")
        if "travel" in keys or "$" in clause.text:
            for match in _BEYOND.finditer(clause.text):
                if abs(float(match.group("n")) - radius) > 1e-6 and ("$" in clause.text or "fee" in clause.text):
                    yield Violation(category="travel", severity="medium", claim=claim, fact=fact)
        about_travel = "travel" in keys or "mile" in clause.text
        if self.t.one_way and clause.has(_ROUND_TRIP) and not clause.negated and about_travel:
            yield Violation(category="travel", severity="medium", claim=claim, fact=fact)

    def _ages(self, r: Reading, clause: Clause, keys: set[str]) -> Iterator[Violation]:
        if "child" not in keys and not clause.has(_SMALL_CHILDREN):
            return
        matches = list(AGE_LIMIT.finditer(clause.text))
        for index, match in enumerate(matches):
            age = age_limit(match)
            # "under 12" is commonly said for "12 and under": read it both ways
            ages = {age, age + 1} if match.group("u") else {age}
            stop = matches[index + 1].start() if index + 1 < len(matches) else len(clause.text)
            after = clause.text[match.end():min(stop, match.end() + 22)].split(")")[0]
            if _FREE_AGE.search(after):
                true, what = self.p.free_child_max_age, "eat free"
            elif "$" in after:
                true, what = self.p.child.max_age, f"are {fmt_money(self.p.child.price)} per person"
            else:
                if ages & {self.p.free_child_max_age, self.p.child.max_age}:
                    continue
                true, what = self.p.child.max_age, f"are {fmt_money(self.p.child.price)} per person"
            if true not in ages:
                yield Violation(category="price", claim=r.claim(clause), fact=f"children {true} and under {what}")

    def _proteins(self, r: Reading, clause: Clause) -> Iterator[Violation]:
        n = self.p.proteins_per_guest
        fact = f"proteins: {n} per guest, included"
        for match in _PROTEINS.finditer(clause.text):
            if int(match.group("n")) != n and not clause.negated:
                yield Violation(category="proteins", severity="medium", claim=r.claim(clause), fact=fact)
        if clause.has(_UNLIMITED) and not clause.negated:
            yield Violation(category="proteins", severity="medium", claim=r.claim(clause), fact=fact)

    def _start_times(self, r: Reading) -> Iterator[Violation]:
        earliest, latest = self.window
        for clause in r.clauses:
            if clause.negated or clause.has(_REFUSED) or (
                    clause.has(_END) and "start" not in {m.key for m in clause.mentions}):
                continue
            for match in CLOCK.finditer(clause.text):
                minutes = clock_minutes(match)
                readings = [minutes]
                hour = match.group("h24")
                if hour is not None and not hour.startswith("0") and 1 <= int(hour) <= 11:
                    readings.append(minutes + 12 * 60)  # "7:00" without am/pm usually means the evening
                if not any(earliest <= m <= latest for m in readings):
                    yield Violation(category="start_time", severity="medium", claim=r.claim(clause),
                                    fact=f"events start between {fmt_clock(earliest)} and {fmt_clock(latest)}")
