"""The attacks that replaced torchattacks 3.5.1 (issue 35) against its recorded outputs on a small fixed model
(tests/data/torchattacks_reference.pt, written by scripts/torchattacks_reference.py).

Same semantics, same numbers: PGD L-inf and EOT-PGD from the same start (no random start) are identical, and so is
Square (pyautoattack's, which torchattacks copied). Documented differences: the random start is drawn from NumPy's
RNG by ART (torchattacks: torch's), so started runs differ image by image, and ART's L2 start is uniform over the
ball's volume (torchattacks: a uniform radius); ART's L2 PGD clips to [0, 1] before it projects onto the ball
(torchattacks after), which moves pixels by up to 0.01 here. Bit-identity was recorded on an Intel Xeon (AMX) and
holds on an AMD EPYC too (2026-12-06).
"""
from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

from mspd_core import attacks
from tests.attack_fixtures import EPS_L2, EPS_LINF, reference_inputs, reference_model

REFERENCE = Path(__file__).parent / "data" / "torchattacks_reference.pt"


@pytest.fixture(scope="module")
def recorded():
    return torch.load(REFERENCE, weights_only=True)


@pytest.fixture(scope="module")
def model_and_data():
    return reference_model(), *reference_inputs()


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def test_pgd_linf_without_random_start_is_identical(recorded, model_and_data):
    model, x, y = model_and_data
    ours = attacks.art_pgd(model, x, y, EPS_LINF, 2 / 255, 10, "inf", random_start=False)
    assert torch.equal(ours, recorded["pgd_linf_start0"])


def test_eot_pgd_without_random_start_is_identical(recorded, model_and_data):
    model, x, y = model_and_data
    ours = attacks.art_pgd(model, x, y, EPS_LINF, 2 / 255, 10, "inf", random_start=False, eot_samples=4)
    assert torch.equal(ours, recorded["eot_pgd_start0"])


def test_square_is_identical(recorded, model_and_data):
    model, x, y = model_and_data
    assert torch.equal(attacks.square(model, x, y, EPS_LINF, n_queries=200, seed=0), recorded["square"])


def test_pgd_l2_differs_only_by_the_order_of_clipping_and_projection(recorded, model_and_data):
    model, x, y = model_and_data
    ours = attacks.art_pgd(model, x, y, EPS_L2, 2.5 * EPS_L2 / 10, 10, "2", random_start=False)
    assert (ours - recorded["pgd_l2_start0"]).abs().max() < 0.02
    assert _accuracy(model, ours, y) == _accuracy(model, recorded["pgd_l2_start0"], y)


@pytest.mark.parametrize("name,norm,eps", [("pgd_linf_start1", "inf", EPS_LINF), ("pgd_l2_start1", "2", EPS_L2)])
def test_random_starts_differ_but_reach_the_same_accuracy(recorded, model_and_data, name, norm, eps):
    model, x, y = model_and_data
    ours = attacks.pgd_linf(model, x, y, eps, steps=10) if norm == "inf" else attacks.pgd_l2(model, x, y, eps, steps=10)
    assert not torch.equal(ours, recorded[name])  # NumPy's draws, not torch's
    assert _accuracy(model, x, y) == 1.0 and _accuracy(model, ours, y) < 0.5  # the attack works at all
    assert _accuracy(model, ours, y) == _accuracy(model, recorded[name], y)
    loss = torch.nn.functional.cross_entropy
    with torch.no_grad():
        assert loss(model(ours), y).item() == pytest.approx(loss(model(recorded[name]), y).item(), rel=1e-3)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), norm=st.sampled_from(["inf", "2"]))
def test_pgd_stays_in_the_ball_and_the_box_and_is_deterministic_under_a_seed(seed, norm):
    model = reference_model()
    x, y = reference_inputs(4)
    attack = attacks.pgd_linf if norm == "inf" else attacks.pgd_l2
    eps = EPS_LINF if norm == "inf" else EPS_L2
    a, b = attack(model, x, y, eps, steps=3, seed=seed), attack(model, x, y, eps, steps=3, seed=seed)
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    delta = (a - x).flatten(1)
    dist = delta.abs().amax(1) if norm == "inf" else delta.norm(dim=1)
    assert (dist <= eps + 1e-5).all()


def test_attacks_restore_the_global_rngs_and_the_models_gradients(model_and_data):
    import numpy as np

    model, x, y = model_and_data
    torch.manual_seed(7)
    np.random.seed(7)
    expected_torch, expected_numpy = torch.rand(1), np.random.rand()
    torch.manual_seed(7)
    np.random.seed(7)
    attacks.pgd_linf(model, x, y, steps=2, seed=3)
    assert torch.equal(torch.rand(1), expected_torch) and np.random.rand() == expected_numpy
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


class _NoisyModel(torch.nn.Module):
    """A randomized model (Gaussian noise on its input at every forward), in training mode."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x + 0.01 * torch.randn_like(x))


@pytest.mark.parametrize("attack", [lambda m, x, y: attacks.pgd_linf(m, x, y, steps=2, seed=3),
                                    lambda m, x, y: attacks.eot_pgd(m, x, y, steps=2, eot_iter=3, seed=3)])
def test_a_randomized_model_in_training_mode_is_left_as_it_was(model_and_data, attack):
    """ART puts the model in eval mode and probes it once for its class count: both are undone (mode restored,
    the probe's noise drawn from a forked RNG), so the caller's model and random streams are unchanged."""
    import numpy as np

    inner, x, y = model_and_data
    model = _NoisyModel(inner).train()
    torch.manual_seed(7)
    np.random.seed(7)
    expected_torch, expected_numpy = torch.rand(1), np.random.rand()
    torch.manual_seed(7)
    np.random.seed(7)
    attack(model, x, y)
    assert model.training and inner.training
    assert torch.equal(torch.rand(1), expected_torch) and np.random.rand() == expected_numpy
    inner.eval()


def test_mixed_module_modes_survive_an_attack(model_and_data):
    """A model in eval mode with one module kept in training mode (dropout left on for MC sampling, say) keeps it."""
    model, x, y = model_and_data
    model.eval()
    model[1].train()
    attacks.pgd_linf(model, x, y, steps=2, seed=3)
    assert [m.training for m in model.modules()] == [False, False, True, False, False, False]
    model.eval()


@pytest.mark.parametrize("bad,message", [(lambda x, y: (x[0], y), "batch, channels"),
                                         (lambda x, y: (x * 2, y), r"\[0, 1\]"),
                                         (lambda x, y: (x.masked_fill(x > 0.5, float("nan")), y), "NaN"),
                                         (lambda x, y: (x, y[:2]), "labels")])
def test_bad_input_is_refused_with_what_is_wrong(model_and_data, bad, message):
    model, x, y = model_and_data
    with pytest.raises(ValueError, match=message):
        attacks.pgd_linf(model, *bad(x, y), steps=1)
