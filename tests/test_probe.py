"""The linear probe: torch logistic regression on frozen embeddings, checked against its own optimality
condition and on data with a known answer."""

import pytest
import torch

from aum.experiments.probe import LogisticRegression, clip_embeddings, probe_accuracy, probe_objective
from aum.models import create_model


def blobs(n_per_class, classes, dim, seed, spread=0.3):
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(classes, dim, generator=g)
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    return centres[labels] + spread * torch.randn(len(labels), dim, generator=g), labels


def test_separable_blobs_are_classified():
    train, test = blobs(7, 5, 13, seed=0), blobs(11, 5, 13, seed=0)
    assert probe_accuracy(train, test, num_classes=5) == 1.0


def test_fit_reaches_the_optimum_of_the_regularised_loss():
    x, y = blobs(9, 3, 17, seed=1, spread=3.0)  # overlapping classes: a non-trivial optimum
    probe = LogisticRegression(3, l2=0.05).fit(x, y)
    weight = probe.weight.clone().requires_grad_(True)
    bias = probe.bias.clone().requires_grad_(True)
    probe_objective(weight, bias, probe._standardise(x), y, 0.05).backward()
    assert weight.grad.abs().max() < 1e-6 and bias.grad.abs().max() < 1e-6
    moved = probe_objective(weight.detach() + 1e-3 * torch.randn_like(weight), bias.detach(),
                            probe._standardise(x), y, 0.05)
    optimum = probe_objective(weight.detach(), bias.detach(), probe._standardise(x), y, 0.05)
    assert moved > optimum  # strictly convex: any step away is worse


def test_bad_inputs_are_refused():
    x, y = blobs(3, 2, 4, seed=2)
    with pytest.raises(ValueError, match="labels must be in"):
        LogisticRegression(2).fit(x, y + 1)
    with pytest.raises(ValueError, match="must be"):
        LogisticRegression(2).fit(x[:3], y)
    with pytest.raises(RuntimeError, match="fit"):
        LogisticRegression(2).predict(x)


def test_clip_embeddings_mean_pool_the_tokens():
    torch.manual_seed(0)
    model = create_model("ssast_tiny", depth=1, embed_dim=24, num_heads=2, input_frames=48, mel_bins=32,
                         num_classes=0)
    x = torch.randn(5, 48, 32)
    emb = clip_embeddings(model, x, batch_size=2)
    with torch.no_grad():
        expect = model.forward_features(x).mean(dim=1)
    assert emb.shape == (5, 24)
    torch.testing.assert_close(emb, expect)
