"""A tiny Llama built offline: the stand-in base model for training, evaluation and serving on a CPU.

``build_tiny_model(out_dir)`` trains a byte-level BPE tokenizer on the knowledge base (plus some
generic chat text), wraps it in ``PreTrainedTokenizerFast`` with a Llama-3-style chat template whose
assistant turns sit inside ``{% generation %}`` markers (trl's ``assistant_only_loss`` needs them),
and saves a randomly initialised ``LlamaForCausalLM`` beside it. The directory then loads through
``AutoTokenizer`` / ``AutoModelForCausalLM.from_pretrained`` exactly like a downloaded Llama, so
every later step runs the same code on this model and on a real one.

Two stand-ins, for two purposes:

- ``build_tiny_model(out_dir)``: random weights, built in a second or two. Unit tests (the ``tiny_base``
  fixture) and benchmarks use it where only the plumbing matters.
- ``build_pretrained_base(out_dir)`` (what ``ensure_base_model`` and ``hibachi base-model`` build for the
  demo): a model that knows how to talk but not this business. It is pre-trained offline on synthetic
  chats about a *different* tenant (``hibachi/data/taco-rodeo.yaml``) and seeded variants of its numbers,
  cities and menu, every row in the prompt contract's shape (``hibachi.prompt``), so what it learns is to
  answer from the grounding in its system turn. Nothing of My Hibachi's facts is in its corpus (nor in
  its tokenizer's). Most items and places in those variants have made-up names, so the only way to say
  them is to read them from the grounding. It is cached beside a fingerprint of its recipe (a sample of
  its corpus, shape, steps, code version) and rebuilt only when the recipe changes; the build (about 29
  minutes on one core) ships in ``devkit/standin_base`` and is copied when its fingerprint matches. Rows whose
  answer copies a computed quote are learned twice, once with the grounding cut short (``copy_rows``): with
  full rows alone, the base never learned to copy a count or a total from its context.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer

BOS, EOS, PAD = "<|begin_of_text|>", "<|eot_id|>", "<|pad|>"
HEADER_START, HEADER_END = "<|start_header_id|>", "<|end_header_id|>"
SPECIAL_TOKENS = [BOS, EOS, PAD, HEADER_START, HEADER_END]

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] | trim }}{{ '<|eot_id|>' }}{% endgeneration %}"
    "{% else %}"
    "{{ message['content'] | trim }}{{ '<|eot_id|>' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# Sizes chosen so a LoRA run of a few dozen steps finishes in seconds on two CPU cores,
# while the model still has room to memorise short templated answers.
MODEL_SHAPE = {
    "hidden_size": 128,
    "intermediate_size": 344,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
}
VOCAB_SIZE = 2048
MARKER_FILE = "hibachi_tiny_model.json"

GENERIC_CHAT = [
    "Hello! How can I help you plan your event today?",
    "Hi there, thanks for reaching out. What date are you thinking about?",
    "Sure, I can help with that. How many guests will attend?",
    "Thank you! Is there anything else I can help you with?",
    "I'm sorry, I don't have that information. Please contact us directly.",
    "Could you tell me the city or zip code of the party?",
    "Great question. Let me check that for you.",
    "What time would you like the chef to arrive?",
    "Do any of your guests have allergies or dietary needs?",
    "Yes, we can do that. Would you like me to start a booking?",
    "How much does it cost for 20 adults and 5 kids?",
    "Do you offer filet mignon, lobster, salmon, shrimp, chicken, steak, scallops or tofu?",
    "Can we cook inside the house if it rains? Is a deposit required?",
    "Is gratuity included? Do you travel to my area? What do I need to provide?",
    "We have tables, chairs, plates and utensils ready for 15 people.",
]


def default_corpus() -> list[str]:
    """The knowledge-base passages and their system-prompt form, plus generic chat lines."""
    from hibachi.knowledge import load_knowledge_base

    kb = load_knowledge_base()
    passages = [p.text for p in kb.passages()]
    return passages + [kb.facts_text(), kb.business.description, kb.business.name] + GENERIC_CHAT


def _fingerprint(corpus: list[str], seed: int) -> str:
    payload = json.dumps({"corpus": corpus, "seed": seed, "shape": MODEL_SHAPE, "vocab": VOCAB_SIZE,
                          "template": CHAT_TEMPLATE}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _is_built(out_dir: Path, fingerprint: str) -> bool:
    marker = out_dir / MARKER_FILE
    if not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text()).get("fingerprint")
    except (json.JSONDecodeError, OSError):
        return False
    needed = ("config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json")
    return recorded == fingerprint and all((out_dir / name).is_file() for name in needed)


def _train_tokenizer(corpus: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=1,
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[HEADER_START, HEADER_END],
        model_max_length=MODEL_SHAPE["max_position_embeddings"],
        padding_side="left",  # batched generation pads on the left
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(out_dir: Path | str, corpus: Iterable[str] | None = None, seed: int = 0) -> Path:
    """Write a tiny Llama checkpoint (model, tokenizer, chat template, generation config) to ``out_dir``.

    Idempotent: a directory already holding the checkpoint for the same corpus and seed is reused.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    texts = [t for t in (list(corpus) if corpus is not None else default_corpus()) if t and t.strip()]
    if not texts:
        raise ValueError("build_tiny_model: the corpus is empty")
    fingerprint = _fingerprint(texts, seed)
    if _is_built(out, fingerprint):
        return out

    tokenizer = _train_tokenizer(texts)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        **MODEL_SHAPE,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
        max_new_tokens=128,
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    (out / MARKER_FILE).write_text(json.dumps({"fingerprint": fingerprint, "seed": seed, "parameters": params}))
    return out


def ensure_base_model(path: Path | str, recipe: PretrainRecipe | None = None, *, progress: bool = True) -> Path:
    """The embedded default's base: a real checkpoint already at ``path`` is left alone, else the pre-trained stand-in.

    Production code never builds a model; the dev kit makes sure the configured base exists before the
    demo trains or serves. A stand-in built from another recipe (or the random-weight one) is rebuilt.
    """
    out = Path(path)
    if (out / "config.json").is_file() and not (out / MARKER_FILE).is_file():
        return out
    return build_pretrained_base(out, recipe, progress=progress)


def build_command(
    out: Annotated[Path | None, typer.Option("--out", help="Where to build it (default: training.base_model); "
                                             "devkit/standin_base refreshes the one that ships.")] = None,
) -> None:
    """Build (or reuse) the stand-in base model (the embedded default's Llama)."""
    from hibachi.settings import get_settings

    started = time.perf_counter()
    path = ensure_base_model(out or get_settings().training.base_model)
    marker = json.loads((path / MARKER_FILE).read_text()) if (path / MARKER_FILE).is_file() else {}
    how = (f" (built in {time.perf_counter() - started:.0f}s)" if marker.get("built_now")
           else " (copied from the shipped stand-in)" if marker.get("copied_from") else "")
    print(f"base model ready at {path}{how}")


# --- the pre-trained stand-in: knows how to talk and to read its grounding, not this business ---

PRETRAIN_CODE_VERSION = "2"  # bump when this file's pre-training code changes what it builds
STANDIN_TENANT = "taco-rodeo.yaml"  # in hibachi/data/; never the tenant the demo fine-tunes on
# The pre-built stand-in that ships with the dev kit (``hibachi base-model --out devkit/standin_base``
# refreshes it): copied into the data directory when its fingerprint is the current recipe's, so a fresh
# clone's demo starts from the same long pre-training instead of a short one built under the clock.
SHIPPED_BASE = Path(__file__).resolve().parent / "standin_base"
_CHECKPOINT_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                     "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")

# Small enough to pre-train in minutes on two CPU cores; three layers leave room for the attention that
# copies a price from the system turn into the answer.
PRETRAINED_SHAPE = {
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
}

# Names and places for the variants: other cuisines and cities, none of them My Hibachi's.
_CITY_POOL = ["Austin", "San Antonio", "Houston", "Dallas", "El Paso", "Denver", "Boulder", "Phoenix", "Tucson",
              "Portland", "Eugene", "Seattle", "Tacoma", "Boise", "Reno", "Omaha", "Tulsa", "Memphis", "Nashville",
              "Atlanta", "Savannah", "Raleigh", "Richmond", "Columbus", "Madison", "Des Moines", "Albuquerque"]
_PROTEIN_POOL = [("brisket", False), ("pulled pork", False), ("smoked turkey", False), ("jalapeno sausage", False),
                 ("jackfruit", True), ("lamb kofta", False), ("falafel", True), ("paneer tikka", True),
                 ("bulgogi", False), ("pork belly", False), ("tandoori chicken", False), ("black bean patty", True),
                 ("grilled halloumi", True), ("chorizo", False), ("barbacoa", False), ("mushroom asada", True)]
_ADD_ON_POOL = [("queso dip", "per order"), ("cornbread", "per person"), ("mac and cheese", "per person"),
                ("naan basket", "per order"), ("lemonade", "per person"), ("fruit cups", "per person"),
                ("banana pudding", "per order"), ("kimchi", "per order"), ("coleslaw", "per person")]


RENAMED_SHARE = 0.6
_SYLLABLES = ("ka", "ra", "mi", "to", "su", "ne", "lo", "ba", "chi", "do", "ve", "pan", "gor", "sal", "ten", "ri",
              "mo", "za", "lu", "fe", "qui", "bro", "ster", "nel", "ga", "pi", "ton", "mar", "che", "los", "vin", "da")


def pseudo_name(rng: random.Random, words: int | None = None) -> str:
    """A made-up item or place name ("kamito salu"): nothing a model can know except by reading it."""
    count = words or rng.choice([1, 1, 2, 2, 3])
    return " ".join("".join(rng.choice(_SYLLABLES) for _ in range(rng.choice([2, 2, 3]))) for _ in range(count))


@dataclass(frozen=True)
class PretrainRecipe:
    """Everything that decides the pre-trained stand-in; its fingerprint keys the cache."""

    variants: int = 320  # knowledge bases: the tenant file itself and seeded variants of its numbers and menu
    conversations: int = 24  # synthetic conversations per variant
    # Built once and shipped (devkit/standin_base): about 29 minutes on one CPU core, far more than a demo could
    # spend. Measured on one quick-demo capture's 200-row My Hibachi holdout, accuracy / hallucination after a
    # LoRA fine-tune of 400 steps (800 steps):
    #   160 variants, 3000 steps, no copy rows (the base shipped before): 0.855 / 0.115
    #   160 variants, 4000 steps, copy rows:                              0.89 / 0.075  (0.935 / 0.05)
    #   320 variants, 7000 steps, copy rows:                              0.935 / 0.09  (0.95 / 0.055)
    # The last copies the counts and totals of unseen variants of its own tenant in 32 answers of 60; the
    # first did in 3.
    steps: int = 7000
    batch_size: int = 8
    learning_rate: float = 3e-3
    warmup_steps: int = 40
    max_length: int = 768  # rows longer than this (in tokens) are left out
    # Each row that has a computed quote or named items is also learned in a short form (see copy_rows): the
    # same answer with the grounding cut to what it copies from, so copying is a larger share of what is learned.
    copy_rows: bool = True
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def standin_tenant_path() -> Path:
    from hibachi.settings import DEFAULT_KNOWLEDGE_BASE

    return DEFAULT_KNOWLEDGE_BASE.parent / STANDIN_TENANT


def variant_kb(kb, rng: random.Random):
    """The same business with other numbers, cities and menu items: the facts differ, the shape does not.

    Pre-training on many variants is what makes the model read prices from its grounding instead of
    memorising one menu.
    """
    from hibachi.knowledge import KnowledgeBase

    raw = kb.model_dump(mode="json")
    p, b, t = raw["pricing"], raw["booking"], raw["travel"]
    p["adult"]["price"] = rng.randrange(15, 96)
    p["child"]["price"] = max(1, round(p["adult"]["price"] * rng.choice([0.4, 0.5, 0.6])))
    p["child"]["max_age"] = rng.choice([8, 10, 11, 12])
    p["free_child_max_age"] = rng.choice([2, 3, 4, 5])
    p["party_minimum"]["amount"] = rng.randrange(300, 1500, 50)
    p["proteins_per_guest"] = rng.choice([1, 2, 3])
    p["gratuity"]["suggested_percent"] = rng.choice([10, 15, 18, 20, 25])
    for item in raw["upgrades"]:
        item["price"] = rng.randrange(2, 21)
    for item in raw["add_ons"]:
        item["price"] = rng.randrange(2, 61)
    # Most items get made-up names: the only way to say them right is to copy them from the grounding,
    # which is the skill a new tenant's fine-tune builds on (pool names alone were memorised).
    for section in ("proteins", "upgrades", "add_ons", "included", "not_offered"):
        for item in raw[section]:
            if rng.random() < RENAMED_SHARE:
                item["name"] = pseudo_name(rng)
                item["aliases"] = [item["name"]]
    extra = rng.sample(_PROTEIN_POOL, rng.randrange(0, 4))
    raw["proteins"] += [{"name": name, "vegetarian": veg, "aliases": [name]} for name, veg in extra]
    rng.shuffle(raw["proteins"])
    raw["proteins"] = raw["proteins"][:rng.randrange(4, len(raw["proteins"]) + 1)]
    raw["add_ons"] += [{"name": name, "price": rng.randrange(2, 41), "unit": unit, "aliases": [name]}
                       for name, unit in rng.sample(_ADD_ON_POOL, rng.randrange(0, 3))]
    t["free_radius_miles"] = rng.choice([10, 15, 20, 25, 30, 40, 50])
    t["fee_per_mile"] = rng.choice([1, 1.5, 2, 2.5, 3, 4])
    t["base_cities"] = [city if rng.random() >= RENAMED_SHARE else pseudo_name(rng, words=1).title()
                        for city in rng.sample(_CITY_POOL, rng.randrange(2, 5))]
    setup, diet = raw["setup"], raw["dietary"]
    for key in ("customer_provides", "chef_brings", "allowed_locations"):
        setup[key] = [x if rng.random() >= RENAMED_SHARE else pseudo_name(rng) for x in setup[key]]
        rng.shuffle(setup[key])
    setup["grill_area_feet"] = [rng.randrange(4, 31), rng.randrange(4, 21)]
    if rng.random() < RENAMED_SHARE:
        diet["vegetarian"] = " and ".join(pseudo_name(rng) for _ in range(rng.randrange(1, 4)))
    if rng.random() < RENAMED_SHARE:
        diet["gluten_free"]["substitute"] = pseudo_name(rng) + rng.choice(["", " instead of " + pseudo_name(rng)])
    b["min_lead_hours"] = rng.choice([24, 36, 48, 72, 96])
    b["deposit"] = rng.choice([50, 75, 100, 150, 200, 250])
    b["refund_cutoff_days"] = rng.choice([3, 5, 7, 10, 14, 30])
    b["start_time_earliest"] = rng.choice(["09:00", "10:00", "11:00", "12:00"])
    b["start_time_latest"] = rng.choice(["19:00", "20:00", "21:00", "22:00"])
    b["rain_policy"]["free_reschedules"] = rng.choice([1, 2, 3])
    b["rain_policy"]["notice_hours"] = rng.choice([12, 24, 48])
    return KnowledgeBase.model_validate(raw)


def pretraining_rows(recipe: PretrainRecipe) -> list[list[dict]]:
    """Every customer turn of the synthetic chats about the stand-in tenant, in the prompt contract's shape."""
    from devkit.synth.generator import SynthConfig, iter_traffic
    from hibachi.knowledge import load_knowledge_base
    from hibachi.prompt import training_messages
    from hibachi.retrieval import Retriever

    tenant = load_knowledge_base(standin_tenant_path())
    rng = random.Random(recipe.seed)
    rows: list[list[dict]] = []
    for index in range(recipe.variants):
        kb = tenant if index == 0 else variant_kb(tenant, rng)
        retriever = Retriever(kb)
        config = SynthConfig(conversations=recipe.conversations, seed=recipe.seed * 1000 + index,
                             hallucination_rate=0.0)
        for conversation in iter_traffic(config, kb):
            history: list[dict] = []
            for turn in conversation.turns:
                rows.append(training_messages(retriever, history, turn.user, turn.answer))
                history += [{"role": "user", "content": turn.user}, {"role": "assistant", "content": turn.answer}]
    return rows


def short_grounding(system: str) -> str | None:
    """The grounding cut to its role line, its top fact and the question's named items and quote; None without those."""
    from hibachi.prompt import NAMED_HEADER, QUOTE_HEADER

    lines = system.split("\n")
    cut = next((i for i, line in enumerate(lines) if line in (NAMED_HEADER, QUOTE_HEADER)), None)
    if cut is None:
        return None
    facts = [line for line in lines[2:cut] if line.startswith("- ")][:1]
    return "\n".join([lines[0], "Facts:", *facts, *lines[cut:]])


def copy_rows(rows: list[list[dict]]) -> list[list[dict]]:
    """Short forms of the rows whose answer copies a quote or named items (the answer unchanged)."""
    short = []
    for row in rows:
        system = short_grounding(row[0]["content"])
        if system is not None:
            short.append([{"role": "system", "content": system}, *row[1:]])
    return short


def corpus_sample_sha256(recipe: PretrainRecipe) -> str:
    """The hash of the first few variants' rows: any change to the code that writes the corpus (synthetic
    chats, grounding, quote, retrieval, prompt contract) changes it, and so the fingerprint."""
    sample = PretrainRecipe(**{**recipe.as_dict(), "variants": min(recipe.variants, 3),
                               "conversations": min(recipe.conversations, 4)})
    return hashlib.sha256(json.dumps(pretraining_rows(sample), sort_keys=True).encode()).hexdigest()


def pretrain_fingerprint(recipe: PretrainRecipe) -> str:
    from hibachi.prompt import PROMPT_VERSION

    payload = json.dumps({"recipe": recipe.as_dict(), "shape": PRETRAINED_SHAPE, "vocab": VOCAB_SIZE,
                          "template": CHAT_TEMPLATE, "code": PRETRAIN_CODE_VERSION, "prompt": PROMPT_VERSION,
                          "tenant": hashlib.sha256(standin_tenant_path().read_bytes()).hexdigest(),
                          "corpus_sample": corpus_sample_sha256(recipe)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _encode(tokenizer, rows: list[list[dict]], max_length: int) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) per row; only the final answer is learned (labels -100 elsewhere).

    Earlier assistant turns were answered from another question's grounding, so learning them would
    teach the model to state facts its system turn does not hold.
    """
    encoded = []
    for row in rows:
        out = tokenizer.apply_chat_template(row, return_dict=True, return_assistant_tokens_mask=True)
        ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
        if len(ids) > max_length or not any(mask):
            continue
        start = max(i for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1]))
        encoded.append((ids, [t if i >= start and mask[i] else -100 for i, t in enumerate(ids)]))
    return encoded


def _batches(encoded: list[tuple[list[int], list[int]]], size: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped by length (little padding), in a shuffled order."""
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i][0]), rng.random()))
    batches = [order[i:i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def _learning_rate(step: int, recipe: PretrainRecipe) -> float:
    if step < recipe.warmup_steps:
        return recipe.learning_rate * (step + 1) / recipe.warmup_steps
    progress = (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps)
    return recipe.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def pretrain(model, tokenizer, rows: list[list[dict]], recipe: PretrainRecipe, *, progress: bool = True,
             on_step=None) -> list[list[float]]:
    """Full-parameter causal-LM training on the assistant turns of ``rows``; returns [step, loss] every 10 steps."""
    import torch

    encoded = _encode(tokenizer, rows, recipe.max_length)
    if not encoded:
        raise ValueError("pre-training: no row fits max_length")
    rng = random.Random(recipe.seed)
    torch.manual_seed(recipe.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, betas=(0.9, 0.95), weight_decay=0.01)
    pad = tokenizer.pad_token_id
    batches: list[list[int]] = []
    history: list[list[float]] = []
    model.train()
    bar = _progress(progress)
    with bar:
        task = bar.add_task("pre-training the stand-in base", total=recipe.steps, loss="")
        running = None
        for step in range(recipe.steps):
            if not batches:
                batches = _batches(encoded, recipe.batch_size, rng)
            chosen = [encoded[i] for i in batches.pop()]
            width = max(len(ids) for ids, _ in chosen)
            input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in chosen])
            labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in chosen])
            attention = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in chosen])
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(step, recipe)
            loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            value = float(loss.detach())
            running = value if running is None else 0.9 * running + 0.1 * value
            if step % 10 == 0 or step == recipe.steps - 1:
                history.append([step, round(running, 4)])
            bar.update(task, advance=1, loss=f"loss {running:.3f}")
            if on_step is not None:
                on_step(step, value)
    model.eval()
    return history


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs):
        return 0

    def update(self, *args, **kwargs):
        pass


class _LineProgress(_NoProgress):
    """Where no terminal shows a bar (logs, CI): one line every tenth of the way."""

    def __init__(self) -> None:
        self.total, self.done, self.started = 0, 0, time.perf_counter()

    def add_task(self, description, total=0, **fields):
        self.description, self.total = description, total
        return 0

    def update(self, task, advance=0, **fields):
        self.done += advance
        if self.total and (self.done % max(1, self.total // 10) == 0 or self.done == self.total):
            print(f"{self.description}: {self.done}/{self.total} {fields.get('loss', '')} "
                  f"({time.perf_counter() - self.started:.0f}s)", flush=True)


def _progress(enabled: bool):
    import sys

    if not enabled:
        return _NoProgress()
    if not sys.stdout.isatty():
        return _LineProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn())


def _cpu_threads() -> None:
    """Torch's intra-op threads on CPU as training.cpu_threads says (ops this small run faster on one)."""
    import torch

    from hibachi.settings import get_settings

    threads = getattr(get_settings().training, "cpu_threads", 0)
    if threads and not torch.cuda.is_available():
        torch.set_num_threads(threads)


def build_pretrained_base(out_dir: Path | str, recipe: PretrainRecipe | None = None, *, progress: bool = True) -> Path:
    """Build (or reuse) the pre-trained stand-in at ``out_dir``; rebuilt only when the recipe's fingerprint changes."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    recipe = recipe or PretrainRecipe()
    out = Path(out_dir)
    fingerprint = pretrain_fingerprint(recipe)
    _cpu_threads()
    if _is_built(out, fingerprint) and (out / "model.safetensors").is_file():
        marker = json.loads((out / MARKER_FILE).read_text())
        if marker.get("built_now"):
            (out / MARKER_FILE).write_text(json.dumps({**marker, "built_now": False}))
        return out
    if out.resolve() != SHIPPED_BASE.resolve() and _copy_shipped(out, fingerprint):
        return out
    started = time.perf_counter()
    rows = pretraining_rows(recipe)
    texts = [m["content"] for row in rows for m in row] + GENERIC_CHAT
    if recipe.copy_rows:
        rows = rows + copy_rows(rows)
    tokenizer = _train_tokenizer(texts)
    tokenizer.model_max_length = PRETRAINED_SHAPE["max_position_embeddings"]
    config = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=True, **PRETRAINED_SHAPE)
    torch.manual_seed(recipe.seed)
    model = LlamaForCausalLM(config)
    losses = pretrain(model, tokenizer, rows, recipe, progress=progress)
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id,
                                               eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id, do_sample=False,
                                               max_new_tokens=128)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER_FILE).unlink(missing_ok=True)  # a half-written directory never passes for a built one
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    (out / MARKER_FILE).write_text(json.dumps({
        "fingerprint": fingerprint, "seed": recipe.seed, "parameters": params, "kind": "pretrained",
        "tenant": STANDIN_TENANT, "rows": len(rows), "recipe": recipe.as_dict(), "loss_history": losses,
        "build_seconds": round(time.perf_counter() - started, 1), "built_now": True}))
    return out


def _copy_shipped(out: Path, fingerprint: str) -> bool:
    """Copy the shipped stand-in into ``out`` when it was built from this very recipe; False otherwise."""
    import shutil

    if not (_is_built(SHIPPED_BASE, fingerprint) and (SHIPPED_BASE / "model.safetensors").is_file()):
        return False
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER_FILE).unlink(missing_ok=True)  # a half-copied directory never passes for a built one
    for name in _CHECKPOINT_FILES:
        if (SHIPPED_BASE / name).is_file():
            shutil.copyfile(SHIPPED_BASE / name, out / name)
    marker = json.loads((SHIPPED_BASE / MARKER_FILE).read_text())
    (out / MARKER_FILE).write_text(json.dumps({**marker, "built_now": False, "copied_from": str(SHIPPED_BASE)}))
    return True
