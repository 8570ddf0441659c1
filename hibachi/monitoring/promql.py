"""The canary analysis as PromQL over the gateway's metrics, so a cluster's Prometheus (or a Flagger
MetricTemplate) can drive the same decisions as ``hibachi.monitoring.canary`` does from the records.

Each query gives one arm's value (``version`` is the adapter version) over ``window`` (e.g. ``24h``).
Metrics the gateway does not export per adapter yet are listed in ``NOT_EXPORTED`` with what is missing.
"""

from __future__ import annotations

import re

_ATTEMPTS = ('(sum(increase(gateway_requests_total{{served_by="local",adapter_version="{v}"}}[{w}])) '
             '+ sum(increase(gateway_fallbacks_total{{adapter_version="{v}"}}[{w}])))')

QUERIES = {
    "critic_failure_rate": ('sum(increase(gateway_critic_rejections_total'
                            '{{role="student",adapter_version="{v}"}}[{w}])) / ' + _ATTEMPTS),
    "hallucination_rate": ('sum(increase(gateway_hallucinated_answers_total'
                           '{{role="student",adapter_version="{v}"}}[{w}])) / ' + _ATTEMPTS),
    "fallback_rate": 'sum(increase(gateway_fallbacks_total{{adapter_version="{v}"}}[{w}])) / ' + _ATTEMPTS,
    "error_rate": ('sum(increase(gateway_requests_total{{served_by="local",adapter_version="{v}",status!="ok"}}[{w}]))'
                   ' / sum(increase(gateway_requests_total{{served_by="local",adapter_version="{v}"}}[{w}]))'),
    "latency_p50_ms": ('1000 * histogram_quantile(0.5, sum by (le) (rate(gateway_request_latency_seconds_bucket'
                       '{{served_by="local",adapter_version="{v}"}}[{w}])))'),
    "latency_p95_ms": ('1000 * histogram_quantile(0.95, sum by (le) (rate(gateway_request_latency_seconds_bucket'
                       '{{served_by="local",adapter_version="{v}"}}[{w}])))'),
    # Per session: the gateway counts an outcome once, for whoever served the session's last turn; the analysis
    # over the records counts it for each turn the adapter served in that session.
    "booking_loss_rate": ('sum(increase(gateway_outcomes_total'
                          '{{served_by="local",adapter_version="{v}",led_to_booking="false"}}[{w}])) / '
                          'sum(increase(gateway_outcomes_total{{served_by="local",adapter_version="{v}"}}[{w}]))'),
}

NOT_EXPORTED = {
    "non_answer_rate": "judged in the analysis over stored answers (similarity to the teacher's answer, claims the "
                       "question needs), never in the gateway's hot path; no series exists",
}


def analysis_queries(version: str, window: str = "24h") -> dict[str, str]:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", version) or not re.fullmatch(r"\d+[smhdw]", window):
        raise ValueError(f"bad adapter version {version!r} or window {window!r}")
    return {metric: query.format(v=version, w=window) for metric, query in QUERIES.items()}


def referenced_series(query: str) -> dict[str, set[str]]:
    """Metric names in a query with the label names it filters on (for checking against the exporter)."""
    found: dict[str, set[str]] = {}
    for name, labels in re.findall(r"(gateway_[a-z_]+)\{([^}]*)\}", query):
        found.setdefault(name, set()).update(re.findall(r"([a-z_]+)!?=", labels))
    return found
