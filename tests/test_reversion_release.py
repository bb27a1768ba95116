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


def test_diffpure_offline_says_unavailable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from mspd_core.diffpure import _load, diffpure_status

    _load.cache_clear()
    status = diffpure_status("no-such-org/no-such-ddpm")
    assert status.startswith("DiffPure unavailable")
