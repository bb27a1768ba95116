"""Preemptive Reversion, JPEG and the 8-bit release."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mspd_core.reversion import jpeg, preemptive_reversion, reversion_error
from mspd_core.tensors import from_uint8, project, to_uint8_release

EPS = 8 / 255


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.sampled_from([2 / 255, 8 / 255, 16 / 255]))
def test_reversion_undoes_an_input_independent_defense(seed, eps):
    """D(x) = Proj(x + d, x, eps) with a fixed d: reversion returns x exactly away from the bounds."""
    g = torch.Generator().manual_seed(seed)
    x = 0.15 + 0.7 * torch.rand(2, 3, 16, 16, generator=g)  # 2 eps away from 0 and 1
    d = (torch.rand(x.shape, generator=g) * 2 - 1) * eps

    def defense(v):
        return project(v + d, v, eps)

    x_p = defense(x)
    x_r = preemptive_reversion(defense, x_p)
    torch.testing.assert_close(x_r, x, atol=1e-6, rtol=0)
    assert float(reversion_error(x, x_p, x_r).max()) < 1e-4


def test_reversion_stays_in_unit_box():
    x = torch.rand(2, 3, 8, 8)
    x_r = preemptive_reversion(lambda v: (v + 0.5).clamp(0, 1), x)
    assert float(x_r.min()) >= 0 and float(x_r.max()) <= 1


def test_jpeg_distorts_but_keeps_shape_and_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 32, 32, generator=g)
    out = jpeg(x, quality=50)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    assert float((out - x).abs().mean()) > 0.01  # random noise does not survive JPEG at q=50


def test_jpeg_bad_quality():
    with pytest.raises(ValueError, match="quality"):
        jpeg(torch.rand(1, 3, 8, 8), quality=0)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.sampled_from([1 / 255, 4 / 255, 8 / 255, 16 / 255]), eight_bit=st.booleans())
def test_uint8_release_stays_in_eps_ball(seed, eps, eight_bit):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 8, 8, generator=g)
    if eight_bit:
        x = torch.round(x * 255) / 255
    x_p = project(x + (torch.rand(x.shape, generator=g) * 2 - 1) * 2 * eps, x, eps)
    x8 = to_uint8_release(x_p, x, eps)
    assert x8.dtype == torch.uint8
    back = from_uint8(x8)
    assert float((back - x).abs().max()) <= eps + 1e-6
    assert float((back - x_p).abs().max()) <= 1 / 255 + 1e-6


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.sampled_from([1 / 255, 4 / 255, 8 / 255]))
def test_protected_png_read_back_is_within_eps_of_original(seed, eps, tmp_path_factory):
    """Release -> PNG on disk -> read back: every pixel within eps of the 8-bit original."""
    import numpy as np
    from PIL import Image

    from mspd_core.images import write_png_atomic

    g = torch.Generator().manual_seed(seed)
    x = torch.round(torch.rand(1, 3, 16, 16, generator=g) * 255) / 255
    x_p = project(x + (torch.rand(x.shape, generator=g) * 2 - 1) * 3 * eps, x, eps)
    path = tmp_path_factory.mktemp("png") / "p.png"
    write_png_atomic(to_uint8_release(x_p, x, eps)[0], path)
    back = np.asarray(Image.open(path), dtype=np.int16)
    orig = np.round(x[0].permute(1, 2, 0).numpy() * 255).astype(np.int16)
    assert np.abs(back - orig).max() <= round(eps * 255)


def tiny_purifier():
    """A tiny randomly initialised diffusers UNet + DDPM schedule (no download)."""
    diffusers = pytest.importorskip("diffusers")
    from mspd_core.diffpure import Purifier

    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=3, out_channels=3, layers_per_block=1,
                                 block_out_channels=(8, 16), norm_num_groups=4,
                                 down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"))
    return Purifier(unet.eval(), diffusers.DDPMScheduler(num_train_timesteps=20))


def test_diffpure_runs_end_to_end_on_a_tiny_random_unet():
    from mspd_core.diffpure import diffpure

    purifier = tiny_purifier()
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    out = diffpure(x, purifier, t_star=0.5, seed=3)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, diffpure(x, purifier, t_star=0.5, seed=3))  # deterministic under a seed
    assert not torch.allclose(out, x)
    near = diffpure(x, purifier, t_star=0.05, seed=3)  # one step: barely any noise added or removed
    assert (near - x).abs().mean() < (out - x).abs().mean()
    with pytest.raises(ValueError, match="t_star"):
        diffpure(x, purifier, t_star=0)


def test_diffpure_offline_says_unavailable(monkeypatch, capfd):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from mspd_core.diffpure import _load, diffpure_status

    _load.cache_clear()
    status = diffpure_status("no-such-org/no-such-ddpm")
    assert status.startswith("DiffPure unavailable")
    assert "accelerate" not in capfd.readouterr().err  # the page says why in one line, no library warning


class _OracleNoise(torch.nn.Module):
    """A perfect noise predictor for one known clean batch x0 (in [-1, 1]): eps = (x_t - sqrt(abar_t) x0) /
    sqrt(1 - abar_t). With it, DDPM's reverse process must give x0 back exactly."""

    def __init__(self, x0, scheduler):
        super().__init__()
        self.x0, self.abar = x0, scheduler.alphas_cumprod

    def forward(self, x_t, t):
        from types import SimpleNamespace

        abar = self.abar[int(t)].to(x_t.dtype)
        return SimpleNamespace(sample=(x_t - abar.sqrt() * self.x0) / (1 - abar).sqrt())


@pytest.mark.parametrize("t_star", [0.05, 0.3, 0.9])
def test_the_sampler_with_an_oracle_noise_predictor_gives_the_image_back(t_star):
    """The sampler itself, not only shapes: diffusion then reverse DDPM steps with the true noise
    predictor reconstruct the input, at any t*, in batches."""
    diffusers = pytest.importorskip("diffusers")
    from mspd_core.diffpure import Purifier, diffpure

    x = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=100)
    out = diffpure(x, Purifier(_OracleNoise(x * 2 - 1, scheduler), scheduler), t_star=t_star, seed=0, batch_size=5)
    assert torch.allclose(out, x, atol=1e-4)
    wrong = diffpure(x, Purifier(_OracleNoise(torch.zeros_like(x), scheduler), scheduler), t_star=t_star, seed=0)
    assert not torch.allclose(wrong, x, atol=1e-2)  # the check can fail: a wrong predictor does not reconstruct


def test_diffpure_batches_and_the_key_names_the_diffusion_weights(monkeypatch):
    from mspd_core import cells, diffpure as dp

    purifier = tiny_purifier()
    x = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    a, b = dp.diffpure(x, purifier, t_star=0.5, seed=3, batch_size=2), dp.diffpure(x, purifier, t_star=0.5, seed=3, batch_size=2)
    assert a.shape == x.shape and torch.equal(a, b)
    assert "substitute" in dp.SUBSTITUTE_NOTE and dp.CIFAR10_DDPM in dp.SUBSTITUTE_NOTE
    monkeypatch.setattr(dp, "_load", lambda model_id: (purifier, ""))
    first = dp.weights_fingerprint("tiny")
    with torch.no_grad():
        next(purifier.unet.parameters()).add_(1.0)
    assert dp.weights_fingerprint("tiny") != first
