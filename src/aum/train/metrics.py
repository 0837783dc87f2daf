"""Classification metrics in numpy: average precision, ROC AUC, d-prime, accuracy, top-k, per-class report.

Inputs are `scores` (N, C) (probabilities or logits, higher = more likely) and `targets` (N, C) multi-hot or
one-hot (soft targets are binarised at 0.5). Classes with no positive (or no negative) example have no AP / AUC;
they are left out of the means and counted in `classes_without_positives` / `classes_without_negatives`.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from aum.errors import ConfigError


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """AP of one class: sum over score thresholds of (R_n - R_{n-1}) * P_n; tied scores form one threshold."""
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives).astype(bool)
    n_pos = int(positives.sum())
    if n_pos == 0:
        return math.nan
    order = np.argsort(-scores, kind="mergesort")
    s, p = scores[order], positives[order]
    tp = np.cumsum(p)
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # keep the last index of every run of equal scores
    tp, ranks = tp[last_of_tie], np.flatnonzero(last_of_tie) + 1
    precision, recall = tp / ranks, tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties get the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + 1 + b) / 2.0
    return ranks


def roc_auc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction)."""
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives).astype(bool)
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    rank_sum = _average_ranks(scores)[positives].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def d_prime(auc: float) -> float:
    """d' = sqrt(2) * Phi^-1(AUC), as AST reports it (from the mean AUC)."""
    if math.isnan(auc):
        return math.nan
    auc = min(max(auc, 1e-12), 1 - 1e-12)
    return math.sqrt(2.0) * NormalDist().inv_cdf(auc)


def _binarise(targets: np.ndarray) -> np.ndarray:
    return np.asarray(targets) >= 0.5


def _check(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, targets = np.asarray(scores, dtype=np.float64), np.asarray(targets)
    if scores.ndim != 2 or scores.shape != targets.shape:
        raise ConfigError(f"scores {scores.shape} and targets {targets.shape} must both be (N, C)")
    return scores, _binarise(targets)


def topk_accuracy(scores: np.ndarray, targets: np.ndarray, k: int = 1) -> float:
    """Fraction of clips whose top-k predicted classes contain a true class."""
    scores, pos = _check(scores, targets)
    if len(scores) == 0:
        return math.nan
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="mergesort")[:, :k]
    return float(np.take_along_axis(pos, top, axis=1).any(axis=1).mean())


def confusion_matrix(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(C, C) counts, rows = true class (argmax of targets), columns = predicted class."""
    scores, targets = np.asarray(scores), np.asarray(targets)
    num_classes = scores.shape[1]
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (targets.argmax(axis=1), scores.argmax(axis=1)), 1)
    return cm


def per_class_report(scores: np.ndarray, targets: np.ndarray, labels: list[str] | None = None) -> list[dict]:
    """Per class: support, precision, recall, F1 (single-label argmax decisions), AP and AUC."""
    scores, pos = _check(scores, targets)
    cm = confusion_matrix(scores, pos)
    labels = labels or [str(i) for i in range(scores.shape[1])]
    rows = []
    for c, label in enumerate(labels):
        tp, predicted, support = cm[c, c], cm[:, c].sum(), cm[c, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else math.nan
        f1 = 2 * precision * recall / (precision + recall) if support and (precision + recall) > 0 else 0.0
        rows.append({"label": label, "support": int(support), "precision": float(precision),
                     "recall": float(recall), "f1": float(f1),
                     "ap": average_precision(scores[:, c], pos[:, c]), "auc": roc_auc(scores[:, c], pos[:, c])})
    return rows


def summary_metrics(scores: np.ndarray, targets: np.ndarray, multilabel: bool) -> dict[str, float]:
    """mAP, mean AUC, d-prime (from mean AUC), accuracy and top-5 (accuracy = top-1 class is a true class)."""
    scores, pos = _check(scores, targets)
    aps = np.array([average_precision(scores[:, c], pos[:, c]) for c in range(scores.shape[1])])
    aucs = np.array([roc_auc(scores[:, c], pos[:, c]) for c in range(scores.shape[1])])
    mean_auc = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else math.nan
    out = {
        "mAP": float(np.nanmean(aps)) if np.isfinite(aps).any() else math.nan,
        "mAUC": mean_auc,
        "d_prime": d_prime(mean_auc),
        "accuracy": topk_accuracy(scores, pos, 1),
        "top5": topk_accuracy(scores, pos, 5),
        "num_clips": float(len(scores)),
        "classes_without_positives": float(int((~pos.any(axis=0)).sum())),
    }
    if not multilabel:
        out["macro_f1"] = float(np.mean([r["f1"] for r in per_class_report(scores, pos) if r["support"]] or [0]))
    return out
