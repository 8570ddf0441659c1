"""A tiny Llama built offline: the stand-in base model for training, evaluation and serving on a CPU.

``build_tiny_model(out_dir)`` trains a byte-level BPE tokenizer on the knowledge base (plus some
generic chat text), wraps it in ``PreTrainedTokenizerFast`` with a Llama-3-style chat template whose
assistant turns sit inside ``{% generation %}`` markers (trl's ``assistant_only_loss`` needs them),
and saves a randomly initialised ``LlamaForCausalLM`` beside it. The directory then loads through
``AutoTokenizer`` / ``AutoModelForCausalLM.from_pretrained`` exactly like a downloaded Llama, so
every later step runs the same code on this model and on a real one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

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


def ensure_base_model(path: Path | str) -> Path:
    """The embedded default's base: a real checkpoint already at ``path`` is left alone, else the stand-in.

    Production code never builds a model; the dev kit makes sure the configured base exists before the
    demo trains or serves.
    """
    out = Path(path)
    if (out / "config.json").is_file() and not (out / MARKER_FILE).is_file():
        return out
    return build_tiny_model(out)


def build_command() -> None:
    """Build (or reuse) the stand-in base model at training.base_model (the embedded default's Llama)."""
    from hibachi.settings import get_settings

    path = ensure_base_model(get_settings().training.base_model)
    print(f"base model ready at {path}")
