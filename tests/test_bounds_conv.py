"""Certified margin bounds through convolutions (mspd_core.bounds: Conv2d and the margin specification registered
with bound-propagation's factory)."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mspd_core.attacks import pgd_linf
from mspd_core.bounds import certified_margin, margin_bounds, margin_matrix
from mspd_core.zoo.architectures import CertifiedCNN


def _margins(model, x, y):
    z = model(x)
    keep = torch.arange(z.shape[1])[None, :] != y[:, None]
    return (z.gather(1, y[:, None]) - z)[keep].view(len(y), -1)


def test_margin_matrix_rows_are_e_y_minus_e_j():
    c = margin_matrix(torch.tensor([2]), 4)
    assert c.tolist() == [[[-1, 0, 1, 0], [0, -1, 1, 0], [0, 0, 1, -1]]]


def test_zero_radius_bounds_are_the_margins():
    torch.manual_seed(0)
    model = CertifiedCNN().eval()
    x, y = torch.rand(4, 3, 32, 32), torch.tensor([0, 3, 5, 9])
    for method in ("ibp", "crown-ibp", "crown"):
        assert torch.allclose(margin_bounds(model, x, y, 0.0, method), _margins(model, x, y), atol=1e-5)


def test_bound_is_exact_on_a_one_layer_network():
    """One linear layer: the margin is affine in x, so its minimum over the box is at a corner and IBP with the
    specification attains it exactly (so do CROWN-IBP and CROWN: no ReLU to relax)."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    x, y, eps = torch.rand(6, 12), torch.randint(0, 5, (6,)), 0.1
    w = margin_matrix(y, 5) @ net[1].weight  # (B, 4, 12): each margin's slope
    lo, hi = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    corner = torch.where(w > 0, lo[:, None, :], hi[:, None, :])  # the minimising corner of each margin
    z = corner @ net[1].weight.T + net[1].bias  # (B, 4, 5)
    exact = (z.gather(2, y[:, None, None].expand(-1, 4, 1)).squeeze(2)
             - z.gather(2, torch.stack([torch.tensor([j for j in range(5) if j != int(t)]) for t in y])[..., None]).squeeze(2))
    for method in ("ibp", "crown-ibp", "crown"):
        assert torch.allclose(margin_bounds(net, x, y, eps, method), exact, atol=1e-5), method


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.sampled_from([1 / 255, 4 / 255, 8 / 255]))
def test_certified_bound_never_exceeds_the_pgd_margin(seed, eps):
    torch.manual_seed(seed)
    model = CertifiedCNN().eval()
    x, y = torch.rand(3, 3, 32, 32), torch.randint(0, 10, (3,))
    x_adv = pgd_linf(model, x, y, eps=eps, steps=10, alpha=eps / 4, seed=seed)
    empirical = _margins(model, x_adv, y).amin(1)
    for method in ("ibp", "crown-ibp", "crown"):
        assert (certified_margin(model, x, y, eps, method) <= empirical + 1e-5).all()


@pytest.mark.parametrize("conv", [nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
                                  nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"),
                                  nn.Conv2d(3, 4, 3, padding="same")])
def test_convolutions_whose_padding_the_bound_does_not_model_are_refused(conv):
    """The bound pads with zeros: a reflect/circular/'same' convolution would get an unsound bound, so it is refused."""
    net = nn.Sequential(conv, nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    net.input_shape = (3, 8, 8)
    with pytest.raises(ValueError, match="only zero padding"):
        margin_bounds(net, torch.rand(1, 3, 8, 8), torch.tensor([0]), 0.01)
