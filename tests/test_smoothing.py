"""SPEC's Smooth under memory pressure: a pass that runs out of device memory is halved and retried
with the same gradients (a simulated GPU on CPU: no GPU was lent to this project's sessions)."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st


class _MemoryLimited(torch.nn.Module):
    """A model that raises CUDA's out-of-memory error for passes above ``limit`` images (a simulated GPU)."""

    def __init__(self, inner, limit):
        super().__init__()
        self.inner, self.limit, self.sizes = inner, limit, []

    def forward(self, x):
        self.sizes.append(len(x))
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return self.inner(x)


@settings(max_examples=10, deadline=None)
@given(limit=st.integers(1, 40), n=st.integers(2, 70))
def test_out_of_memory_halves_the_pass_and_gives_the_same_gradients(limit, n):
    """On an out-of-memory error the pass is halved and retried: the gradients equal one image per pass,
    and the size that worked is kept for the next call."""
    from mspd_core.smoothing import input_gradient

    torch.manual_seed(0)
    inner = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 10)).double().eval()
    model = _MemoryLimited(inner, limit)
    z, y = torch.rand(n, 3, 4, 4, dtype=torch.float64), torch.randint(0, 10, (n,))
    got = input_gradient(model, z, y)
    assert torch.allclose(got, input_gradient(inner, z, y, max_batch=1), atol=1e-12)
    model.sizes.clear()
    input_gradient(model, z, y)
    assert max(model.sizes) <= limit  # learned: no failing pass the second time


def test_other_errors_are_not_retried():
    from mspd_core.smoothing import input_gradient

    class Broken(torch.nn.Module):
        calls = 0

        def forward(self, x):
            Broken.calls += 1
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        input_gradient(Broken(), torch.rand(8, 3, 4, 4), torch.zeros(8, dtype=torch.long))
    assert Broken.calls == 1
