"""The rules come from the knowledge base: change the data and the critic's idea of correct follows."""

from __future__ import annotations

from pathlib import Path

import yaml

from hibachi.critic import Critic
from hibachi.knowledge import load_knowledge_base


def test_a_new_adult_price_changes_what_is_correct(kb):
    pricier = kb.model_copy(update={"pricing": kb.pricing.model_copy(
        update={"adult": kb.pricing.adult.model_copy(update={"price": 70.0})})})
    old, new = Critic(kb), Critic(pricier)
    for prompt, response in [("How much per adult?", "Adults are $70 per person."),
                             ("10 adults?", "10 adults x $70 = $700."),
                             ("10 adults?", "10 adults would be $700.")]:
        assert not old.evaluate(prompt, response).passed, response
        assert new.evaluate(prompt, response).passed, response
    assert not new.evaluate("How much per adult?", "Adults are $60 per person.").passed


def _write(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((Path(__file__).parents[2] / "hibachi" / "data" / "my-hibachi.yaml").read_text())
    change(raw)
    path = tmp_path / "other-business.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_another_business_file_changes_items_policies_and_aliases(tmp_path, kb):
    def change(raw):
        raw["not_offered"] = [n for n in raw["not_offered"] if n["name"] != "wagyu beef"]
        raw["upgrades"].append({"name": "wagyu beef", "price": 25, "unit": "per person", "aliases": ["wagyu"]})
        raw["not_offered"].append({"name": "karaoke", "aliases": ["karaoke", "karaoke machine"]})
        raw["booking"]["deposit"] = 250
        raw["booking"]["refund_cutoff_days"] = 14
        raw["setup"]["outdoor_only"] = False
        raw["travel"]["free_radius_miles"] = 50
        raw["pricing"]["gratuity"]["suggested_percent"] = 15

    other = Critic(load_knowledge_base(_write(tmp_path, change)))
    ours = Critic(kb)
    cases = [
        ("Do you have wagyu?", "Yes, wagyu is an upgrade at +$25 per person."),
        ("How much is the deposit?", "The deposit is $250."),
        ("Is the deposit refundable?", "It's refundable if you cancel 14 days before the event."),
        ("Can you cook indoors?", "Yes, the chef can cook indoors in your kitchen."),
        ("Travel fee?", "Travel is free within 50 miles."),
        ("Tip?", "Gratuity is not included; a 15% tip is suggested."),
    ]
    for prompt, response in cases:
        assert other.evaluate(prompt, response).passed, response
        assert not ours.evaluate(prompt, response).passed, response
    assert not other.evaluate("Do you have wagyu?", "Yes, wagyu is +$40 per person.").passed
    karaoke = other.evaluate("Karaoke?", "Sure, we can bring a karaoke machine!")
    assert [v.fact for v in karaoke.violations] == ["karaoke: not offered"]
    assert other.evaluate("Karaoke?", "Sorry, we don't offer karaoke.").passed


def test_a_new_alias_is_understood_without_code_changes(tmp_path):
    def change(raw):
        next(u for u in raw["upgrades"] if u["name"] == "lobster tail")["aliases"].append("langosta")

    critic = Critic(load_knowledge_base(_write(tmp_path, change)))
    assert not critic.evaluate("langosta?", "Langosta is $25 extra per person.").passed
    assert critic.evaluate("langosta?", "Langosta is $10 extra per person.").passed
