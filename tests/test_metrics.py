import math

import numpy as np
import pytest

from aum.train import metrics as M


def test_average_precision_by_hand():
    # ranking: + - + -  -> precision at the positives 1/1 and 2/3 -> AP = (1 + 2/3) / 2
    assert M.average_precision(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    # a tie between a positive and a negative is one threshold: precision 1/2 at recall 1
    assert M.average_precision(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)
    assert math.isnan(M.average_precision(np.array([0.2, 0.1]), np.array([0, 0])))


def test_roc_auc_by_hand():
    # positives 0.9, 0.4; negatives 0.8, 0.1: pairs won 0.9>0.8, 0.9>0.1, 0.4>0.1, lost 0.4<0.8 -> 3/4
    assert M.roc_auc(np.array([0.9, 0.8, 0.4, 0.1]), np.array([1, 0, 1, 0])) == pytest.approx(0.75)
    assert M.roc_auc(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)  # a tie counts half
    assert math.isnan(M.roc_auc(np.array([0.5, 0.4]), np.array([1, 1])))


def test_d_prime():
    assert M.d_prime(0.5) == pytest.approx(0.0)
    assert M.d_prime(0.76025) == pytest.approx(1.0, abs=1e-4)  # Phi^-1(0.76025) = 0.70711 = 1 / sqrt(2)


def test_accuracy_topk_confusion_and_report():
    scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.5, 0.4, 0.1]])
    targets = np.eye(3)[[0, 1, 1, 1]]
    assert M.topk_accuracy(scores, targets, 1) == pytest.approx(0.5)
    assert M.topk_accuracy(scores, targets, 2) == pytest.approx(1.0)
    assert M.confusion_matrix(scores, targets).tolist() == [[1, 0, 0], [1, 1, 1], [0, 0, 0]]
    report = {r["label"]: r for r in M.per_class_report(scores, targets, ["a", "b", "c"])}
    assert report["a"]["precision"] == pytest.approx(0.5) and report["a"]["recall"] == pytest.approx(1.0)
    assert report["b"]["precision"] == pytest.approx(1.0) and report["b"]["recall"] == pytest.approx(1 / 3)
    assert report["b"]["f1"] == pytest.approx(0.5)
    assert report["c"]["support"] == 0 and math.isnan(report["c"]["ap"])


def test_summary_multilabel_skips_classes_without_positives():
    scores = np.array([[0.9, 0.1, 0.3], [0.2, 0.8, 0.1], [0.7, 0.6, 0.2]])
    targets = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    out = M.summary_metrics(scores, targets, multilabel=True)
    assert out["mAP"] == pytest.approx(1.0) and out["mAUC"] == pytest.approx(1.0)
    assert out["classes_without_positives"] == 1 and out["accuracy"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="must both be"):
        M.summary_metrics(scores, targets[:, :2], multilabel=True)
