"""Linear probe: multinomial logistic regression on frozen clip embeddings (mean-pooled encoder tokens).

A small torch implementation (full-batch L-BFGS on the L2-regularised cross-entropy), so that the probe needs no
extra dependency. Features are standardised with the training set's mean/std first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aum.errors import ConfigError


@torch.no_grad()
def clip_embeddings(model, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """(N, T, F) normalised fbank -> (N, D) mean of the encoder's output tokens (CLS included when present)."""
    model.eval()
    return torch.cat([model.forward_features(x[i:i + batch_size]).mean(dim=1) for i in range(0, len(x), batch_size)])


def probe_objective(weight: torch.Tensor, bias: torch.Tensor, features: torch.Tensor, labels: torch.Tensor,
                    l2: float) -> torch.Tensor:
    """Mean cross-entropy of softmax(features @ weight.T + bias) plus l2/2 * |weight|^2."""
    return F.cross_entropy(features @ weight.T + bias, labels) + 0.5 * l2 * weight.pow(2).sum()


class LogisticRegression:
    """`fit(features (N, D), labels (N,) int64)`, `predict(features) -> labels`; deterministic (zero init)."""

    def __init__(self, num_classes: int, l2: float = 1e-3, max_iter: int = 200):
        if l2 < 0:
            raise ConfigError(f"probe l2 must be >= 0, got {l2}")
        self.num_classes, self.l2, self.max_iter = num_classes, l2, max_iter
        self.weight = self.bias = self.mean = self.std = None

    def _standardise(self, features: torch.Tensor) -> torch.Tensor:
        return (features.double() - self.mean) / self.std

    def fit(self, features: torch.Tensor, labels: torch.Tensor) -> LogisticRegression:
        if features.ndim != 2 or len(features) != len(labels) or len(labels) == 0:
            raise ConfigError(f"probe: features {tuple(features.shape)} and labels {tuple(labels.shape)} must be "
                             "(N, D) and (N,) with N > 0")
        if int(labels.min()) < 0 or int(labels.max()) >= self.num_classes:
            raise ConfigError(f"probe: labels must be in [0, {self.num_classes}), got {int(labels.min())}.."
                             f"{int(labels.max())}")
        features = features.double()
        self.mean, self.std = features.mean(0), features.std(0, unbiased=False).clamp_min(1e-8)
        features = self._standardise(features)
        weight = torch.zeros(self.num_classes, features.shape[1], dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(self.num_classes, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([weight, bias], max_iter=self.max_iter, tolerance_grad=1e-9,
                                      tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = probe_objective(weight, bias, features, labels, self.l2)
            loss.backward()
            return loss

        with torch.enable_grad():
            optimizer.step(closure)
        self.weight, self.bias = weight.detach(), bias.detach()
        return self

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        if self.weight is None:
            raise RuntimeError("probe: call fit() before predict()")
        return (self._standardise(features) @ self.weight.T + self.bias).argmax(dim=1)


def probe_accuracy(train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                   num_classes: int, l2: float = 1e-3) -> float:
    """Fit on `train` = (features, labels), return the accuracy on `test`."""
    probe = LogisticRegression(num_classes, l2).fit(*train)
    return float((probe.predict(test[0]) == test[1]).double().mean())
