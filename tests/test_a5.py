"""A5 and its certified bounds (issue 24): bounds agree with brute force, A5 stays in the ball and raises its
certified margin, unsupported layers are named, IBP training lowers the worst-case loss."""
from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from mspd_core.bounds import bound_network, certified_margin, logit_bounds, margin_bounds, verified_cross_entropy
from mspd_core.defenses import a5
from mspd_core.zoo.architectures import MLP, CertifiedCNN
from tests.conftest import tiny_cnn

EPS = 8 / 255


def tiny_mlp(seed: int = 0, in_features: int = 3 * 32 * 32, hidden=(16, 16)) -> MLP:
    torch.manual_seed(seed)
    return MLP(hidden=hidden, in_features=in_features).eval()


def interval_arithmetic(layers: nn.Sequential, lower: torch.Tensor, upper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Textbook interval arithmetic, written out independently of the package: W+ l + W- u + b, W+ u + W- l + b."""
    for layer in layers:
        if isinstance(layer, nn.Linear):
            w_pos, w_neg = layer.weight.clamp(min=0), layer.weight.clamp(max=0)
            lower, upper = (lower @ w_pos.T + upper @ w_neg.T + layer.bias, upper @ w_pos.T + lower @ w_neg.T + layer.bias)
        else:
            lower, upper = lower.relu(), upper.relu()
    return lower, upper


def test_ibp_matches_brute_force_interval_arithmetic_on_a_two_layer_net():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    x = torch.rand(6, 4)
    lo, up = logit_bounds(net, x.view(6, 4), 0.05, "ibp")
    ref_lo, ref_up = interval_arithmetic(net, (x - 0.05).clamp(0, 1), (x + 0.05).clamp(0, 1))
    torch.testing.assert_close(lo, ref_lo)
    torch.testing.assert_close(up, ref_up)


@pytest.mark.parametrize("method", ["ibp", "crown-ibp", "crown"])
def test_bounds_contain_every_corner_of_the_box(method):
    """Sound bounds: every logit at every corner of a 3-pixel box (and random interior points) lies inside them."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    x = torch.rand(1, 3) * 0.8 + 0.1
    eps = 0.05
    lo, up = logit_bounds(net, x, eps, method)
    corners = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=3))) * eps + x
    inside = x + (torch.rand(200, 3) * 2 - 1) * eps
    with torch.no_grad():
        z = net(torch.cat([corners, inside]))
    assert bool((z >= lo - 1e-5).all()) and bool((z <= up + 1e-5).all())


def test_zero_radius_bounds_are_the_logits():
    model = tiny_mlp(4)
    x = torch.rand(3, 3, 32, 32)
    lo, up = logit_bounds(model, x, 0.0)
    torch.testing.assert_close(lo, model(x))
    torch.testing.assert_close(up, model(x))


def tiny_certified_cnn(seed: int = 0) -> CertifiedCNN:
    torch.manual_seed(seed)
    return CertifiedCNN(channels=(4, 8), hidden=16).eval()


def test_verified_cross_entropy_is_log_k_at_zero_margins_and_falls_as_they_grow():
    zero = verified_cross_entropy(torch.zeros(2, 9))
    torch.testing.assert_close(zero, torch.log(torch.tensor(10.0)))
    assert float(verified_cross_entropy(torch.full((2, 9), 3.0))) < float(zero)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), eps=st.sampled_from([1 / 255, 4 / 255, 8 / 255, 16 / 255]),
       kind=st.sampled_from(["uniform", "binary"]))
def test_a5_release_stays_in_the_eps_ball_and_unit_box(seed, eps, kind):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, 3, 32, 32, generator=g)
    if kind == "binary":
        x = (x > 0.5).float()
    y = torch.randint(0, 10, (3,), generator=g)
    x_p = a5(tiny_certified_cnn(seed % 5), x, y, eps=eps, steps=3)
    assert x_p.shape == x.shape
    assert float(x_p.min()) >= 0.0 and float(x_p.max()) <= 1.0
    assert float((x_p - x).abs().max()) <= eps + 1e-6


def test_a5_raises_the_certified_margin_on_a_seeded_tiny_model():
    model = tiny_certified_cnn(5)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)
    x_p = a5(model, x, y, eps=EPS, steps=30)
    with torch.no_grad():
        before, after = certified_margin(model, x, y, EPS), certified_margin(model, x_p, y, EPS)
    assert float((after - before).mean()) > 0 and int((after > before).sum()) >= 6


def test_a5_is_deterministic():
    model = tiny_certified_cnn(6)
    x, y = torch.rand(2, 3, 32, 32), torch.tensor([1, 2])
    torch.testing.assert_close(a5(model, x, y, steps=3, seed=0), a5(model, x, y, steps=3, seed=5))


def test_a5_on_an_unsupported_model_names_the_layer():
    with pytest.raises(ValueError, match=r"cannot bound layer"):
        a5(tiny_cnn(0), torch.rand(1, 3, 32, 32), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"layer '1' \(GELU\)"):
        bound_network(nn.Sequential(nn.Linear(3, 3), nn.GELU()))


@pytest.mark.parametrize("bad", [dict(eps=0.0), dict(steps=0), dict(method="lirpa"), dict(attack_eps=-1.0)])
def test_a5_rejects_bad_parameters(bad):
    with pytest.raises(ValueError):
        a5(tiny_mlp(0), torch.rand(1, 3, 32, 32), torch.tensor([0]), **bad)


def test_a5_rejects_out_of_range_images():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        a5(tiny_mlp(0), torch.rand(1, 3, 32, 32) + 1, torch.tensor([0]))


def test_ibp_training_step_lowers_the_worst_case_loss():
    """One seeded IBP step (train.ibp_loss at full radius) lowers the worst-case cross-entropy on its batch."""
    from mspd_core.zoo.train import ibp_loss

    model = tiny_certified_cnn(7).train()
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(32, 3, 32, 32, generator=g), torch.randint(0, 10, (32,), generator=g)

    def worst_ce():
        with torch.no_grad():
            return float(verified_cross_entropy(margin_bounds(model, x, y, EPS)))

    before = worst_ce()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss, _ = ibp_loss(model, x, y, progress=1.0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert worst_ce() < before
