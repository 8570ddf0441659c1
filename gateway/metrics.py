"""Prometheus metrics, one registry per app (several apps can live in one test process).

Labels carry what canary analysis compares: ``served_by`` and ``adapter_version`` on requests,
critic failures, fallbacks and latency, so stable and canary adapters can be told apart.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("gateway_requests_total", "Chat requests answered, by who served and the outcome.",
                                ["served_by", "adapter_version", "policy", "status"], registry=r)
        self.request_latency = Histogram("gateway_request_latency_seconds", "Served latency of chat requests.",
                                         ["served_by", "adapter_version"], buckets=LATENCY_BUCKETS, registry=r)
        self.provider_latency = Histogram("gateway_provider_latency_seconds", "Latency of provider calls.",
                                          ["provider", "role"], buckets=LATENCY_BUCKETS, registry=r)
        self.provider_errors = Counter("gateway_provider_errors_total", "Provider calls that gave no answer.",
                                       ["provider", "kind"], registry=r)
        self.provider_skipped = Counter("gateway_provider_skipped_total",
                                        "Calls not made because the provider was cooling down.", ["provider"],
                                        registry=r)
        self.ensemble_cancelled = Counter("gateway_ensemble_cancelled_total",
                                          "Teacher calls cancelled: still answering gateway.ensemble_grace_s after "
                                          "another teacher's answer had passed the critic.", ["provider"], registry=r)
        self.fallbacks = Counter("gateway_fallbacks_total", "Local answers replaced by the teacher's, and why.",
                                 ["adapter_version", "reason"], registry=r)
        self.critic_rejections = Counter("gateway_critic_rejections_total", "Candidates the critic failed.",
                                         ["provider", "role", "adapter_version"], registry=r)
        self.tokens = Counter("gateway_tokens_total", "Tokens used, by provider and direction.",
                              ["provider", "direction"], registry=r)
        self.cost = Counter("gateway_cost_usd_total", "Provider cost in US dollars.", ["provider"], registry=r)
        self.safe_answers = Counter("gateway_safe_answers_total", "Requests no teacher could answer acceptably.",
                                    ["mode"], registry=r)
        self.stream_errors = Counter("gateway_stream_errors_total", "Streams that broke after their first token.",
                                     ["provider"], registry=r)
        self.shadow = Counter("gateway_shadow_total", "Shadow comparisons by result.", ["result"], registry=r)
        self.violations = Counter("gateway_violations_total", "Critic violations, by category and who made them.",
                                  ["provider", "role", "adapter_version", "category"], registry=r)
        self.hallucinations = Counter("gateway_hallucinated_answers_total", "Answers with at least one violation of "
                                      "analysis.hallucination_categories (of any category when none are set), by "
                                      "who gave them.", ["provider", "role", "adapter_version"], registry=r)
        self.bookings = Counter("gateway_outcomes_total", "Session outcomes reported through feedback, by who "
                                "last served the session.", ["led_to_booking", "served_by", "adapter_version"],
                                registry=r)
        self.ratings = Histogram("gateway_customer_rating", "Customer ratings (1-5), by who last served.",
                                 ["served_by", "adapter_version"], buckets=(1, 2, 3, 4, 5), registry=r)
        self.rate_limited = Counter("gateway_rate_limited_total", "Requests refused by the per-key rate limit.",
                                    registry=r)
        self.capture_failures = Counter("gateway_capture_failures_total", "Records the journal could not confirm on "
                                        "disk (a full or broken disk): the customer was answered all the same, the "
                                        "record may be missing from the database.", ["type"], registry=r)
        self.signals_stored = Counter("gateway_signals_stored_total", "Journal records stored in the database.",
                                      registry=r)
        # Under several workers the most recent value wins: the backlog is measured over every worker's journal.
        self.capture_backlog = Gauge("gateway_capture_backlog_bytes", "Journal bytes not yet in the database.",
                                     registry=r, multiprocess_mode="mostrecent")
        self.database_up = Gauge("gateway_database_up", "1 while the capture writer reaches the database.",
                                 registry=r, multiprocess_mode="mostrecent")

    def render(self) -> bytes:
        """The text exposition: this app's registry, or under ``gateway serve --workers N`` (which sets
        PROMETHEUS_MULTIPROC_DIR) every worker's series added up, whichever worker answers the scrape."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
