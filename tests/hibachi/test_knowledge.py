"""The knowledge base file loads into typed models, and a malformed file names file, field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hibachi.knowledge import KnowledgeBaseError, load_knowledge_base
from hibachi.settings import DEFAULT_KNOWLEDGE_BASE


def _write_variant(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(DEFAULT_KNOWLEDGE_BASE.read_text())
    mutate(data)
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_packaged_file_holds_the_tenant_facts(kb):
    assert kb.business.name == "My Hibachi"
    assert kb.pricing.adult.price == 60 and kb.pricing.child.price == 30
    assert kb.pricing.party_minimum.amount == 550
    assert {u.name: u.price for u in kb.upgrades} == {"filet mignon": 5, "lobster tail": 10}
    assert "wagyu" in [t for item in kb.not_offered for t in item.terms]
    assert kb.booking.deposit == 100 and kb.booking.refund_cutoff_days == 7
    assert kb.booking.start_window_minutes == (12 * 60, 21 * 60)
    assert kb.travel.free_radius_miles == 30 and kb.travel.fee_per_mile == 2
    assert kb.setup.outdoor_only and not kb.dietary.shellfish_allergy.guarantee


def test_passages_cover_every_topic(kb):
    topics = {p.topic for p in kb.passages()}
    assert topics == {"pricing", "proteins", "upgrades", "included", "add_ons", "not_offered", "travel",
                      "booking", "deposit", "setup", "dietary"}
    text = kb.facts_text()
    assert "$60 per person" in text and "Lobster" not in text and "lobster tail +$10" in text


def test_another_business_replaces_the_file_not_code(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["pricing"]["adult"].update(price=75))
    assert load_knowledge_base(path).pricing.adult.price == 75
    assert "$75 per person" in load_knowledge_base(path).facts_text()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["pricing"]["adult"].update(price="sixty"), "field pricing.adult.price"),
        (lambda d: d["pricing"].pop("party_minimum"), "field pricing.party_minimum: Field required"),
        (lambda d: d["booking"].update(start_time_earliest="25:00"), "field booking.start_time_earliest"),
        (lambda d: d["add_ons"][0].update(unit="per bucket"), "field add_ons.0.unit"),
        (lambda d: d.update(surprise=1), "field surprise: Extra inputs are not permitted"),
    ],
)
def test_malformed_file_names_file_field_and_problem(tmp_path, mutate, expected):
    path = _write_variant(tmp_path, mutate)
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(path)
    message = str(info.value)
    assert message.startswith(f"knowledge base {path}: ")
    assert expected in message
    assert "\n" not in message


def test_invalid_yaml_and_missing_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("pricing:\n  adult: [60\n")
    with pytest.raises(KnowledgeBaseError, match=r"broken.yaml: not valid YAML at line \d+"):
        load_knowledge_base(broken)
    with pytest.raises(KnowledgeBaseError, match="file not found"):
        load_knowledge_base(tmp_path / "absent.yaml")
    top_level_list = tmp_path / "list.yaml"
    top_level_list.write_text("- a\n- b\n")
    with pytest.raises(KnowledgeBaseError, match="expected a mapping"):
        load_knowledge_base(top_level_list)
