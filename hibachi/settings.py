"""The platform's settings: one pydantic-settings class, read from the environment and an optional YAML file.

Environment variables use the ``HIBACHI_`` prefix and ``__`` for nested sections
(``HIBACHI_GATEWAY__PORT=8080``); ``DATABASE_URL`` is accepted as well. A YAML file named by
``HIBACHI_CONFIG_FILE`` (default ``hibachi.yaml`` in the working directory, if present) can hold
any of them, which is the convenient place for the provider list.

The embedded default and a cluster differ only in these values (URLs, files, sizes); no code
below the configuration layer branches on the runtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from hibachi.errors import UserError

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_KNOWLEDGE_BASE = PACKAGE_DIR / "data" / "my-hibachi.yaml"

# Values that must never reach production: a deployment that still carries one refuses to start.
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "dev-admin-key", "dev-customer-key", "secret"}


class Section(BaseModel):
    """A settings section: an unknown key is an error, as at the top level. A typo such as gate.min_acuracy would
    otherwise be dropped in silence and the gate keep its default."""

    model_config = ConfigDict(extra="forbid")


class ProviderConfig(Section):
    """One LLM endpoint the gateway can call; the key is read from ``api_key_env`` at call time."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    kind: Literal["openai", "anthropic", "openai_compatible"]
    role: Literal["teacher", "student"] = "teacher"
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float = Field(default=20.0, gt=0, le=600)
    max_retries: int = Field(default=2, ge=0, le=10)
    price_in_per_1k: float = Field(default=0.0, ge=0)
    price_out_per_1k: float = Field(default=0.0, ge=0)
    enabled: bool = True

    def api_key(self) -> str:
        # Simulators and an in-cluster student accept any key; the SDKs insist on one being set.
        if self.api_key_env and os.environ.get(self.api_key_env):
            return os.environ[self.api_key_env]
        return "not-needed-for-loopback"


def _default_providers() -> list[ProviderConfig]:
    """The embedded default: loopback simulators speaking each provider's wire protocol."""
    sim = "http://127.0.0.1:8901"
    return [
        ProviderConfig(
            name="openai", kind="openai", model="gpt-4o", base_url=f"{sim}/v1",
            api_key_env="OPENAI_API_KEY", price_in_per_1k=0.0025, price_out_per_1k=0.01,
        ),
        ProviderConfig(
            name="anthropic", kind="anthropic", model="claude-sonnet-4-5", base_url=sim,
            api_key_env="ANTHROPIC_API_KEY", price_in_per_1k=0.003, price_out_per_1k=0.015,
        ),
        ProviderConfig(
            name="xai", kind="openai_compatible", model="grok-4", base_url=f"{sim}/xai/v1",
            api_key_env="XAI_API_KEY", price_in_per_1k=0.003, price_out_per_1k=0.015,
        ),
        ProviderConfig(
            name="local", kind="openai_compatible", role="student", model="hibachi-llama",
            base_url="http://127.0.0.1:8902/openai/v1", timeout_s=30.0, max_retries=0,
        ),
    ]


def _key_hash(value: str) -> str:
    digest = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError("must be the sha256 hex digest of a key (64 characters 0-9, a-f; "
                         "`hibachi keys hash KEY` prints one)")
    return digest


def _key_hashes_from_text(value: Any) -> Any:
    """An environment variable holds text: one digest, several separated by commas, or a JSON list.

    The YAML file and code give a list, which passes through.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            # The position only, never the text: the reader sees which variable from the setting's name.
            raise ValueError(f"starts with '[' but is not a JSON list ({exc.msg} at character {exc.pos})") from None
    return [part for part in re.split(r"[\s,]+", text) if part]


# NoDecode: pydantic-settings would otherwise read a list from the environment as JSON only, and the plain digest
# `hibachi keys hash` prints (what an operator puts in the Secret) crashed the gateway naming no setting.
KeyHashes = Annotated[list[Annotated[str, AfterValidator(_key_hash)]], NoDecode,
                      BeforeValidator(_key_hashes_from_text)]


class GatewaySettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8900, ge=1, le=65535)
    # sha256 hex digests of the keys; `hibachi keys hash KEY` prints one. Plain keys are never stored.
    customer_key_hashes: KeyHashes = Field(default_factory=list)
    admin_key_hashes: KeyHashes = Field(default_factory=list)
    # Development only: plain keys accepted when no hashes are configured (refused in production).
    dev_customer_key: str = "dev-customer-key"
    dev_admin_key: str = "dev-admin-key"
    rate_limit_per_minute: int = Field(default=600, ge=1)
    max_body_bytes: int = Field(default=64_000, ge=1024)
    max_messages: int = Field(default=50, ge=1)
    max_message_chars: int = Field(default=4_000, ge=1)
    cors_origins: list[str] = Field(default_factory=list)
    # Where signals wait when the database is unreachable (an append-only journal, replayed later). Each process
    # journals in a directory of its own below it (gateway.outbox).
    outbox_dir: Path | None = None
    # Processes `hibachi gateway serve` starts on one port (one core each): a Python process tops out at one core.
    workers: int = Field(default=1, ge=1, le=64)
    # How long an idle client connection stays open. Longer than a load balancer's own idle timeout (60 s on the
    # common ones): if the gateway closed first, a request the balancer sends just then on that connection is lost
    # (a 502 to the customer). uvicorn's default is 5 s.
    keep_alive_s: int = Field(default=75, ge=1, le=3600)
    retry_after_s: int = Field(default=5, ge=1)
    # Capture: journal entries are drained to the database in batches; the writer backs off while it is down.
    capture_batch_size: int = Field(default=200, ge=1, le=5000)
    capture_max_backoff_s: float = Field(default=5.0, gt=0)
    # Who stores the journals in the database: each gateway process its own ("worker"), or the supervisor of
    # `hibachi gateway serve --workers N`, which sets "supervisor" for its workers (they then only append).
    capture_writer: Literal["worker", "supervisor"] = "worker"
    # Files the workers of one `hibachi gateway serve --workers N` share (set by serve for them): the per-key
    # rate-limit buckets, so rate_limit_per_minute holds for the gateway, not once per worker. None: in memory.
    worker_shared_dir: Path | None = None
    migrate_on_start: bool = True
    # Streamed replies (`stream: true`). "verified": the ensemble answers and the critic judges as for a plain reply,
    # then the chosen answer is streamed, so a streaming customer never sees an answer the critic failed (the first
    # token waits for the whole answer). "relay": the first healthy teacher's tokens are relayed as they arrive and
    # judged only once complete (a failed answer has already been read by then; it is stored with its verdict).
    stream_mode: Literal["verified", "relay"] = "verified"
    # Once one teacher's answer passed the critic, the others may take this much longer (then they are cancelled and
    # recorded as such): a teacher that is slow but never fails would otherwise add its latency to every answer.
    # None: always wait for every teacher (each still under its own timeout).
    ensemble_grace_s: float | None = Field(default=1.0, ge=0)
    # Resilience: a provider failing this many calls in a row gets no traffic for cooldown_s.
    breaker_failures: int = Field(default=3, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    retry_initial_backoff_s: float = Field(default=0.05, ge=0)
    # The SDKs' HTTP transport: aiohttp costs far less CPU per call than httpx's pool under load.
    http_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    # Shadow calls waiting at once beyond this are skipped (counted), so shadowing never piles up.
    max_pending_shadows: int = Field(default=200, ge=1)
    # Every replica re-reads the stored traffic policy this often (in the background, never per request).
    policy_refresh_s: float = Field(default=2.0, gt=0, le=300)
    # The admin dashboard's login: a signed, expiring session cookie (HttpOnly, SameSite=Strict). The secret
    # signs it; production refuses to start without a real one. Unset outside production: a random secret
    # per process (sessions end when the process restarts and are not shared between replicas).
    session_secret: SecretStr | None = None
    session_ttl_s: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    session_cookie_secure: bool | None = None  # None: Secure in production, plain HTTP allowed elsewhere
    # Wrong keys (login form or bearer) per client IP: this many are free, then each waits twice the last.
    login_free_failures: int = Field(default=5, ge=1, le=1000)
    login_backoff_s: float = Field(default=1.0, gt=0, le=3600)
    login_max_backoff_s: float = Field(default=900.0, gt=0, le=86400)


class TrafficSettings(Section):
    policy: Literal["teacher", "shadow", "split"] = "teacher"
    split_percent: float = Field(default=0.0, ge=0, le=100)
    student_timeout_s: float = Field(default=10.0, gt=0)


class GateSettings(Section):
    """The evaluation gate: the strategy's targets, versioned here rather than in code branches."""

    min_accuracy: float = Field(default=0.85, ge=0, le=1)
    max_hallucination_rate: float = Field(default=0.05, ge=0, le=1)
    min_business_logic: float = Field(default=0.95, ge=0, le=1)
    min_samples: int = Field(default=20, ge=1)
    similarity_threshold: float = Field(default=0.75, ge=0, le=1)
    # A candidate may be at most this much worse than production on any metric.
    production_tolerance: float = Field(default=0.0, ge=0, le=1)
    max_new_tokens: int = Field(default=96, ge=1)  # per generated holdout answer
    max_eval_samples: int = Field(default=200, ge=1)  # holdout rows scored per model (the first N)


class FilterSettings(Section):
    min_quality: float = Field(default=0.9, ge=0, le=1)
    min_rating: int = Field(default=4, ge=1, le=5)
    require_outcome: bool = True
    require_critic_pass: bool = True
    dedup_threshold: float = Field(default=0.9, ge=0, le=1)
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 13
    apply_corrections: bool = True  # the newest admin correction replaces the served answer
    scrub_pii: bool = True


class TrainingSettings(Section):
    """The training step's whole configuration (the step takes this model itself, with CLI overrides)."""

    # A Hugging Face checkpoint directory; unset, the embedded default's stand-in under data_dir/models/base.
    base_model: Path | None = None
    # r 64 rather than 32: the stand-in copied more quote totals right (see quote_repeats); r 128 did not
    # (0.040) and made a step a quarter slower.
    lora_r: int = Field(default=64, ge=1)
    lora_alpha: int = Field(default=128, ge=1)
    # No dropout, as torchtune's Llama LoRA recipes: with it, peft copies every adapted layer's input through a
    # dropout mask, and a stand-in step took 0.43 s instead of 0.33 s; on a quick-demo holdout 800 steps without
    # it scored 0.95 / 0.05 / 0.95 (accuracy / hallucination / business logic), with it 0.93 / 0.05 / 0.95.
    lora_dropout: float = Field(default=0.0, ge=0, lt=1)
    # Attention and MLP: a tenant's facts (prices, names, policies) are learned in the MLPs; attention-only
    # LoRA left the stand-in repeating its pre-training menu (measured: 0.24 vs 0.39 accuracy, same steps).
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj",
                                                               "gate_proj", "up_proj", "down_proj"])
    max_steps: int = Field(default=400, ge=1)
    learning_rate: float = Field(default=3e-3, gt=0)
    batch_size: int = Field(default=8, ge=1)
    max_length: int = Field(default=640, ge=16)  # tokens; a row in the prompt contract (grounding + turns) fits
    seed: int = 13
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    packing: bool = False
    # Batching without padding waste (benchmarks/bench_training.py measures each): group_by_length batches
    # examples of similar length (the seeded order stays reproducible); padding_free flattens a batch into one
    # row with per-example position_ids, so attention stops at each example's boundary (made for
    # flash-attention's varlen kernels on GPU; with CPU sdpa the block mask costs (batch x length)^2).
    group_by_length: bool = True
    padding_free: bool = False
    # torch intra-op threads when training and evaluating on CPU; 0 keeps torch's default (one per core). The
    # stand-in's ops are too small to split: on the shared 2-core machine one thread ran a step 5x faster than two.
    cpu_threads: int = Field(default=1, ge=0)
    # trl's fused LM head scores only the trained positions in tiles, never holding (batch, length, vocab)
    # logits: the memory that matters with a 128k vocabulary on GPU; on CPU its tiles cost more than the
    # stand-in's whole LM head. None: fused on CUDA, the model's own loss on CPU.
    fused_lm_head: bool | None = None
    gradient_checkpointing: bool = False
    assistant_only_loss: bool = True
    # Loss on each row's final answer only. The prompt contract grounds only the current question, so an
    # earlier assistant turn in the history was answered from facts this row's system turn may not hold:
    # learning it would teach stating facts from memory instead of from the grounding.
    final_answer_only: bool = True
    # Rows whose grounding carries a computed quote (party totals, upgrade costs, travel fees), in all this many
    # times in the training mix: about one row in ten, they held nearly all of the stand-in's failures.
    # Measured on one full demo's capture, 800 steps, scored on all 1288 held-out rows (hallucination rate;
    # failed quote questions of 93): r 32 once 0.050 (51), r 64 once 0.030 (33), r 64 twice 0.021 (25),
    # three times 0.023 (22, but more failures elsewhere), five times 0.036; r 32 three times 0.030.
    quote_repeats: int = Field(default=2, ge=1)
    quantize_4bit: bool = True  # QLoRA through bitsandbytes, used only when CUDA is present
    save_steps: int = Field(default=20, ge=1)
    logging_steps: int = Field(default=5, ge=1)
    resume: bool = True  # a rerun continues from the newest checkpoint in its output directory


class PreferenceSettings(Section):
    """The preference step after SFT: DPO (trl) on the SFT adapter with pairs (chosen passed the critic)."""

    enabled: bool = True
    min_pairs: int = Field(default=16, ge=1)  # fewer training pairs: the step is skipped, saying so
    beta: float = Field(default=0.1, gt=0)
    max_steps: int = Field(default=20, ge=1)
    learning_rate: float = Field(default=5e-4, gt=0)
    batch_size: int = Field(default=4, ge=1)
    max_length: int = Field(default=640, ge=16)  # prompt (grounding + turns) and answer, as in training
    seed: int = 13


class RetrainingSettings(Section):
    """When the monitoring pipeline starts a training run (``hibachi.retraining.decide``)."""

    window_hours: float = Field(default=24.0, gt=0)
    min_student_turns: int = Field(default=20, ge=1)  # local-routed turns (or shadow answers) before rates count
    max_fallback_rate: float = Field(default=0.15, ge=0, le=1)  # student answers replaced by the teacher's
    max_critic_failure_rate: float = Field(default=0.15, ge=0, le=1)  # student answers the critic rejected
    min_new_examples: int = Field(default=500, ge=1)  # quality signals since the last export
    on_drift: bool = True
    on_facts_change: bool = True
    cooldown_hours: float = Field(default=24.0, ge=0)  # no new run this soon after the last triggered one


class RetentionSettings(Section):
    """How long raw conversations are kept (``hibachi data retention``); None keeps them for ever.

    Older transcripts (chat messages) are deleted, and sessions left with no signal; the training
    signals stay, since exports and the scrubbed training rows are built from them.
    """

    conversation_days: int | None = Field(default=None, ge=1)


class RolloutSettings(Section):
    isvc_name: str = "hibachi-llama"
    namespace: str = "hibachi"
    steps: list[int] = Field(default_factory=lambda: [10, 50, 90])
    entry: Literal["shadow", "canary"] = "shadow"
    entry_percent: int = Field(default=10, ge=0, le=100)
    # Use the kubernetes client against a cluster; otherwise the overlay files are the state.
    use_cluster: bool = False
    # Where the base checkpoint lives for KServe's storage initializer, and which predictor variant serves it.
    base_storage_uri: str = "pvc://hibachi-models/base"
    variant: Literal["cpu", "gpu", "vllm"] = "cpu"
    # Each step on isvc_name (the gateway's student) also records the gateway's traffic policy, which every replica
    # re-reads (serving.rollout.gateway_policy). False: the policy is set by hand (PUT /admin/api/traffic).
    gateway_follows: bool = True


class ServingSettings(Section):
    """The local predictor (`hibachi serve`): where it listens and what a request may ask for."""

    model_name: str = "hibachi-llama"  # the KServe model name; requests naming it get the default adapter
    port: int = Field(default=8902, ge=1, le=65535)
    base_model: Path | None = None  # unset: the same checkpoint as training.base_model
    max_tokens_limit: int = Field(default=256, ge=1)
    default_max_tokens: int = Field(default=128, ge=1)
    # Concurrent chat requests answered in one batched generate call (1 turns batching off).
    max_batch: int = Field(default=8, ge=1, le=64)
    # torch intra-op threads of the predictor on CPU (0: torch's default, one per core). The stand-in's ops are too
    # small to split: 16 chats at once took p50 1.4 s on one thread and 1.7 s on two, alone on the 2-core machine.
    cpu_threads: int = Field(default=1, ge=0)
    # Without a cluster, rollout writes the overlay files here (None: the repository's manifests/).
    manifests_dir: Path | None = None


class PipelineSettings(Section):
    """Compiling and submitting the Kubeflow pipelines (read when a pipeline is built, not by the steps)."""

    # The one image every step runs in (the project installed from constraints.txt).
    components_image: str = "ghcr.io/hibachi-distill/components:0.1.0"
    # A Secret whose key `database-url` is handed to the export, evaluate and deploy steps as DATABASE_URL.
    db_secret: str | None = None
    # A PersistentVolumeClaim mounted by the train step for its checkpoints, so a retried pod resumes.
    checkpoint_pvc: str | None = None
    # The runs' pods use this ServiceAccount: manifests/base/deployer-rbac.yaml lets it get and patch
    # InferenceServices in the rollout namespace and nothing else (the deploy step's least privilege).
    service_account: str | None = "hibachi-deployer"


class AnalysisSettings(Section):
    """Canary analysis and monitoring thresholds (Flagger-style), versioned here rather than in code."""

    window_hours: float = Field(default=24.0, gt=0)
    min_samples: int = Field(default=50, ge=1)  # local answers per arm before any decision
    min_outcomes: int = Field(default=30, ge=1)  # sessions with a known outcome before conversion counts
    alpha: float = Field(default=0.05, gt=0, lt=1)  # significance of a one-sided test
    # A rate may be this much (absolute) worse on the canary and still be promoted.
    rate_tolerance: float = Field(default=0.02, ge=0, le=1)
    # Canary p95 latency may be this many times the stable one.
    latency_tolerance: float = Field(default=1.25, ge=1)
    # Violation categories counted as hallucinations; empty means every violation is one.
    hallucination_categories: list[str] = Field(default_factory=list)
    # Embedding drift: classifier ROC AUC above this between training and production prompts is drift.
    drift_auc_threshold: float = Field(default=0.6, gt=0.5, le=1)
    # Each side of the drift report is a seeded sample of at most this many prompts (embedding is the cost).
    drift_max_prompts: int = Field(default=1500, ge=10)
    # Drift also needs the AUC to beat this many label permutations at alpha (same-distribution samples
    # reach AUC 0.6 by chance); 0 turns the permutation test off.
    drift_permutations: int = Field(default=20, ge=0, le=1000)
    # An answer whose word-level similarity to the teacher's answer for the same turn is below this does
    # not address the question (hibachi.monitoring.addressed).
    min_answer_similarity: float = Field(default=0.3, ge=0, le=1)
    quality_target: int = Field(default=1000, ge=1)  # quality examples before the first training run
    days_per_month: float = Field(default=30.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HIBACHI_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    environment: Literal["development", "test", "production"] = "development"
    tenant: str = "my-hibachi"
    data_dir: Path = Path("var")
    database_url: str = Field(
        default="", validation_alias=AliasChoices("HIBACHI_DATABASE_URL", "DATABASE_URL", "database_url")
    )
    knowledge_base: Path = DEFAULT_KNOWLEDGE_BASE
    log_level: str = "INFO"
    log_json: bool = True

    providers: list[ProviderConfig] = Field(default_factory=_default_providers)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    traffic: TrafficSettings = Field(default_factory=TrafficSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    filter: FilterSettings = Field(default_factory=FilterSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    preference: PreferenceSettings = Field(default_factory=PreferenceSettings)
    retraining: RetrainingSettings = Field(default_factory=RetrainingSettings)
    rollout: RolloutSettings = Field(default_factory=RolloutSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    # The admin key this machine's commands present to a running gateway (`hibachi gateway traffic`).
    admin_key: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = config_file_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @field_validator("data_dir")
    @classmethod
    def _data_dir_is_a_directory(cls, value: Path) -> Path:
        # Checked here, not where each command first writes below it, so every command refuses it the same way.
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} exists and is not a directory (data_dir is created when missing)")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            # SQLAlchemy picks psycopg2 for a bare scheme; this project ships psycopg 3.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @model_validator(mode="after")
    def _derive_and_refuse_placeholders(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'hibachi.db'}"
        if self.gateway.outbox_dir is None:
            self.gateway.outbox_dir = self.data_dir / "outbox"
        if self.training.base_model is None:
            self.training.base_model = self.data_dir / "models" / "base"
        if self.serving.base_model is None:
            self.serving.base_model = self.training.base_model
        names = [p.name for p in self.providers]
        if len(names) != len(set(names)):
            raise ValueError(f"providers: names must be unique, got {names}")
        if self.environment == "production":
            if not self.gateway.admin_key_hashes or not self.gateway.customer_key_hashes:
                raise ValueError(
                    "gateway: production needs customer_key_hashes and admin_key_hashes "
                    "(the development keys are refused outside development)"
                )
            if self.database_url.startswith("sqlite"):
                raise ValueError("database_url: production needs PostgreSQL, not SQLite")
            self._refuse_placeholder_secrets()
        return self

    def _refuse_placeholder_secrets(self) -> None:
        """Production never starts with a development key or a placeholder such as 'changeme'."""
        placeholder_hashes = {hashlib.sha256(p.encode()).hexdigest() for p in PLACEHOLDER_SECRETS}
        for name in ("customer_key_hashes", "admin_key_hashes"):
            if any(h.strip().lower() in placeholder_hashes for h in getattr(self.gateway, name)):
                raise ValueError(f"gateway.{name}: holds the hash of a development or placeholder key "
                                 f"(one of {sorted(p for p in PLACEHOLDER_SECRETS if p)}); use a random key")
        if self.admin_key is not None and self.admin_key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError("admin_key: a development or placeholder key is refused in production")
        secret = self.gateway.session_secret.get_secret_value().strip() if self.gateway.session_secret else ""
        if secret in PLACEHOLDER_SECRETS or len(secret) < 32:
            raise ValueError("gateway.session_secret: production needs a random secret of at least 32 characters "
                             "to sign admin sessions (python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        for provider in self.providers:
            value = os.environ.get(provider.api_key_env or "")
            if provider.api_key_env and value is not None and value.strip() in PLACEHOLDER_SECRETS:
                raise ValueError(f"providers[{provider.name}].api_key_env: ${provider.api_key_env} holds a "
                                 "placeholder, not a key")

    @property
    def accepts_dev_keys(self) -> bool:
        return self.environment != "production"

    def provider(self, name: str) -> ProviderConfig:
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise KeyError(f"no provider named {name!r}; configured: {[p.name for p in self.providers]}")

    @property
    def teachers(self) -> list[ProviderConfig]:
        return [p for p in self.providers if p.enabled and p.role == "teacher"]

    @property
    def students(self) -> list[ProviderConfig]:
        return [p for p in self.providers if p.enabled and p.role == "student"]


def config_file_path() -> Path:
    return Path(os.environ.get("HIBACHI_CONFIG_FILE", "hibachi.yaml"))


class InvalidSettingsError(UserError):
    """The environment or the config file holds a setting that does not validate (a one-line CLI error)."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings every command and server reads; invalid ones are an InvalidSettingsError naming the setting,
    where it was set and what is allowed, so each CLI prints one line instead of pydantic's traceback."""
    from hibachi.settings_errors import describe_undecodable_environment, describe_validation_error

    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettingsError(describe_validation_error(exc)) from None
    except SettingsError as exc:
        raise InvalidSettingsError(describe_undecodable_environment(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidSettingsError(f"config file {config_file_path()} is not valid YAML{where}: {reason}") from None


def reset_settings_cache() -> None:
    """Tests and commands that change the environment call this so the next read sees it."""
    get_settings.cache_clear()
