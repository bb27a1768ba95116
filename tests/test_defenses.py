"""Property tests of the defenses on tiny models (SPEC "Algorithms")."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mspd_core.defenses import bilevel, fast_preemption, mcgs, unadv, unadv_bilevel_cascade
from mspd_core.defenses.bilevel import first_order_outer_loss, from_tanh_space, to_tanh_space, box_bounds
from mspd_core.defenses.mcgs import forward_epoch
from mspd_core.smoothing import CPU_PASS_SIZE, draw_smoothing_noise, pass_size, smooth
from tests.conftest import linear_model, tiny_cnn

EPS = 8 / 255
MODEL = tiny_cnn(0)


def images(draw, n_max=3):
    n = draw(st.integers(1, n_max))
    seed = draw(st.integers(0, 2**16))
    kind = draw(st.sampled_from(["uniform", "binary", "edges"]))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 32, 32, generator=g)
    if kind == "binary":  # saturated 0/1 pixels
        x = (x > 0.5).float()
    elif kind == "edges":
        x = torch.where(x < 0.3, torch.zeros_like(x), torch.where(x > 0.7, torch.ones_like(x), x))
    y = torch.randint(0, 10, (n,), generator=g)
    return x, y


@st.composite
def image_batches(draw):
    return images(draw)


def assert_in_ball(x_p, x, eps):
    assert x_p.shape == x.shape
    assert float(x_p.min()) >= 0.0 and float(x_p.max()) <= 1.0
    assert float((x_p - x).abs().max()) <= eps + 1e-6


DEFENSES = {
    "mcgs": lambda x, y, eps, seed: mcgs(MODEL, x, y, eps=eps, n_samples=3, seed=seed),
    "mcgs_fbfb_pgd": lambda x, y, eps, seed: mcgs(MODEL, x, y, eps=eps, n_samples=2, steps=3, step=eps / 4, schedule="FBFB", seed=seed),
    "fast_preemption": lambda x, y, eps, seed: fast_preemption(MODEL, x, y, eps=eps, n_samples=3, seed=seed),
    "unadv": lambda x, y, eps, seed: unadv(MODEL, x, y, eps=eps, epochs=2, seed=seed),
    "bilevel": lambda x, y, eps, seed: bilevel(MODEL, x, y, eps=eps, epochs=2, inner_steps=2, seed=seed),
    "cascade": lambda x, y, eps, seed: unadv_bilevel_cascade(MODEL, x, y, eps=eps, seed=seed),
}


@pytest.mark.parametrize("name", list(DEFENSES))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=image_batches(), eps=st.sampled_from([1 / 255, 4 / 255, 8 / 255, 16 / 255]), seed=st.integers(0, 1000))
def test_output_in_eps_ball_and_unit_box(name, batch, eps, seed):
    x, y = batch
    assert_in_ball(DEFENSES[name](x, y, eps, seed), x, eps)


@pytest.mark.parametrize("name", list(DEFENSES))
def test_same_seed_same_output(name, batch):
    x, y = batch
    a, b = DEFENSES[name](x, y, EPS, 7), DEFENSES[name](x, y, EPS, 7)
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["mcgs", "fast_preemption", "unadv"])
def test_different_seed_differs(name, batch):
    x, y = batch
    assert not torch.equal(DEFENSES[name](x, y, EPS, 1), DEFENSES[name](x, y, EPS, 2))


def test_inputs_untouched(batch):
    x, y = batch
    before = x.clone()
    for fn in DEFENSES.values():
        fn(x, y, EPS, 0)
    assert torch.equal(x, before)


PROTECTIONS = {
    "one forward epoch": lambda m, x, y, seed: forward_epoch(m, x, x, y, EPS, 1.0, step=EPS, steps=1, n_samples=8, noise=True, seed=seed),
    "MCGS (FB)": lambda m, x, y, seed: mcgs(m, x, y, n_samples=8, seed=seed),
    "Fast Preemption": lambda m, x, y, seed: fast_preemption(m, x, y, n_samples=8, seed=seed),
}


@pytest.mark.parametrize("name", list(PROTECTIONS))
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 1000))
def test_protection_lowers_backbone_loss_on_average(name, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(16, 3, 32, 32, generator=g)
    model = tiny_cnn(seed % 3)
    with torch.no_grad():
        y = model(x).argmax(1)
        before = F.cross_entropy(model(x), y)
        after = F.cross_entropy(model(PROTECTIONS[name](model, x, y, seed)), y)
    assert after < before


@settings(max_examples=5, deadline=None)
@given(n=st.integers(1, 5), steps=st.integers(1, 3), descend=st.booleans(), seed=st.integers(0, 999))
def test_batched_smoothing_equals_mean_of_single_copies(n, steps, descend, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (2,), generator=g)
    noise = draw_smoothing_noise(x, EPS, n, g)
    batched = smooth(MODEL, x, y, EPS, EPS / 2, steps=steps, n_samples=n, descend=descend, noise=noise)
    singles = torch.stack([
        smooth(MODEL, x, y, EPS, EPS / 2, steps=steps, n_samples=1, descend=descend, noise=noise[i:i + 1])
        for i in range(n)
    ]).mean(0)
    torch.testing.assert_close(batched, singles, atol=1e-6, rtol=0)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 6), max_batch=st.integers(1, 13), steps=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_pass_size_does_not_change_smoothing(n, max_batch, steps, seed):
    """Cutting the N x B copies into passes of any size gives the one-batch result (eval-mode model)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (2,), generator=g)
    one_batch = smooth(MODEL, x, y, EPS, EPS, steps=steps, n_samples=n, seed=seed, max_batch=2 * n)
    in_passes = smooth(MODEL, x, y, EPS, EPS, steps=steps, n_samples=n, seed=seed, max_batch=max_batch)
    torch.testing.assert_close(in_passes, one_batch, atol=1e-6, rtol=0)


def test_pass_size_defaults():
    assert pass_size(320, torch.device("cpu")) == CPU_PASS_SIZE
    assert pass_size(10, torch.device("cpu")) == 10
    assert pass_size(320, torch.device("cuda")) == 320
    assert pass_size(320, torch.device("cpu"), max_batch=7) == 7
    with pytest.raises(ValueError, match="max_batch"):
        pass_size(320, torch.device("cpu"), max_batch=0)


def test_no_noise_single_copy_is_fgsm_step(batch):
    x, y = batch
    x_req = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(MODEL(x_req), y, reduction="sum"), x_req)
    fgsm = (x - EPS * g.sign()).clamp(0, 1)
    out = smooth(MODEL, x, y, EPS, EPS, steps=1, n_samples=1, descend=True, noise=False)
    torch.testing.assert_close(out, fgsm)


def test_schedule_f_equals_one_forward_epoch(batch):
    x, y = batch
    out = mcgs(MODEL, x, y, schedule="F", n_samples=4, seed=5)
    gen = torch.Generator().manual_seed(5)
    ref = forward_epoch(MODEL, x, x, y, EPS, 1.0, step=EPS, steps=1, n_samples=4, noise=True, seed=gen)
    torch.testing.assert_close(out, ref)


def test_tanh_parametrisation_round_trip():
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    low, high = box_bounds(x, EPS)
    x_prime = low + (high - low) * torch.rand_like(x).clamp(0.01, 0.99)
    torch.testing.assert_close(from_tanh_space(to_tanh_space(x_prime, low, high), low, high), x_prime)


def test_bilevel_first_order_gradient_matches_finite_differences():
    model = linear_model(0)
    g = torch.Generator().manual_seed(0)
    x_prime = torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64)
    delta = (torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64) * 2 - 1) * EPS
    x_adv = x_prime + delta
    y = torch.tensor([3])
    xp = x_prime.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(first_order_outer_loss(model, xp, x_adv, y), xp)

    def loss_at(v):  # the same loss with the inner perturbation held constant
        with torch.no_grad():
            return float(F.cross_entropy(model(v + delta), y, reduction="sum"))

    h = 1e-6
    flat = x_prime.flatten()
    for i in torch.randperm(flat.numel(), generator=g)[:20].tolist():
        e = torch.zeros_like(flat)
        e[i] = h
        fd = (loss_at((flat + e).view_as(x_prime)) - loss_at((flat - e).view_as(x_prime))) / (2 * h)
        assert abs(fd - float(grad.flatten()[i])) < 1e-6


@pytest.mark.parametrize("bad, match", [
    (torch.rand(3, 32, 32), "NCHW"),
    (torch.rand(2, 1, 32, 32), "3 channels"),
    (torch.full((1, 3, 32, 32), float("nan")), "NaN"),
    (torch.rand(1, 3, 32, 32) * 2, r"\[0, 1\]"),
])
def test_bad_images_are_clear_errors(bad, match):
    y = torch.zeros(bad.shape[0] if bad.dim() == 4 else 1, dtype=torch.long)
    for fn in (mcgs, fast_preemption, bilevel, unadv):
        with pytest.raises(ValueError, match=match):
            fn(MODEL, bad, y)


@pytest.mark.parametrize("kwargs, match", [
    ({"eps": 0}, "eps"), ({"eps": -1.0}, "eps"), ({"n_samples": 0}, "n_samples"),
    ({"schedule": "FX"}, "schedule"), ({"schedule": ""}, "schedule"), ({"eta": float("nan")}, "eta"),
])
def test_bad_parameters_are_clear_errors(batch, kwargs, match):
    x, y = batch
    with pytest.raises(ValueError, match=match):
        mcgs(MODEL, x, y, **kwargs)


def test_label_count_mismatch(batch):
    x, _ = batch
    with pytest.raises(ValueError, match="labels"):
        mcgs(MODEL, x, torch.zeros(2, dtype=torch.long))


def test_smooth_is_mean_of_smoothing_points(batch):
    from mspd_core.smoothing import smoothing_points

    x, y = batch
    pts = smoothing_points(MODEL, x, y, EPS, EPS, n_samples=3, seed=4)
    assert pts.shape == (3, *x.shape)
    torch.testing.assert_close(smooth(MODEL, x, y, EPS, EPS, n_samples=3, seed=4), pts.mean(0))
