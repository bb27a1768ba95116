"""Gradient diagnostics and distances used by the lemma notebooks."""
from __future__ import annotations

import torch

from mspd_core.metrics import effective_rank, gradient_cosine, l2_distance, linf_distance, ssim, subspace_energy
from tests.conftest import tiny_cnn


def test_gradient_cosine_of_a_model_with_itself_is_one():
    m = tiny_cnn(0)
    x = torch.rand(3, 3, 32, 32)
    y = torch.tensor([0, 1, 2])
    torch.testing.assert_close(gradient_cosine(m, m, x, y), torch.ones(3), atol=1e-5, rtol=0)


def test_subspace_energy_inside_and_orthogonal():
    basis = torch.zeros(2, 2, 4)
    basis[:, 0, 0] = 1
    basis[:, 1, 1] = 1
    v = torch.tensor([[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    torch.testing.assert_close(subspace_energy(v, basis), torch.tensor([1.0, 0.0]))


def test_effective_rank_collinear_vs_spread():
    collinear = torch.ones(5, 1) * torch.randn(1, 20)
    assert effective_rank(collinear) < 1.01
    assert effective_rank(torch.eye(5, 20)) > 4.99


def test_distances_and_ssim():
    a = torch.rand(2, 3, 16, 16)
    b = (a + 0.01).clamp(0, 1)
    assert (linf_distance(a, b) <= 0.01 + 1e-6).all() and (l2_distance(a, a) == 0).all()
    s = ssim(a, b)
    assert s.shape == (2,) and (s > 0.9).all() and (ssim(a, a) == 1).all()
