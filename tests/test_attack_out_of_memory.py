"""Attack cells survive running out of device memory: the batch is attacked in halves (issue 37, item 4)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from mspd_core import cells
from mspd_core.cells import Attack, ResultCache, attack_outcomes, split_on_out_of_memory

MODEL = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10)).eval()


def limited(limit: int, calls: list[int]):
    """A per-image deterministic 'attack' (each image moved by its own label) that raises CUDA's out-of-memory error
    above ``limit`` images, like a GPU with too little memory; ``calls`` records the sizes that succeeded."""
    def attack(model, x, y, seed=0, **params):
        if len(x) > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        calls.append(len(x))
        return (x + 0.5 * (y.view(-1, 1, 1, 1) % 2)).clamp(0, 1)
    return attack


@pytest.mark.parametrize("limit", [1, 2, 3, 6])
def test_the_split_keeps_every_image_in_order_within_the_limit(limit):
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(7, 3, 8, 8, generator=g), torch.arange(7)
    calls: list[int] = []
    out = split_on_out_of_memory(lambda a, b: limited(limit, calls)(MODEL, a, b), x, y)
    assert torch.equal(out, limited(100, [])(MODEL, x, y))  # image i's own result at position i
    assert sum(calls) == 7 and max(calls) <= limit


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_an_attack_cell_splits_until_it_fits_and_keeps_every_image_in_order(monkeypatch, limit):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(7, 3, 8, 8, generator=g), torch.randint(0, 10, (7,), generator=g)
    monkeypatch.setattr(cells, "load_cached", lambda name, device: MODEL)
    monkeypatch.setattr(cells, "attack_key", lambda *a, **k: "k")
    calls: list[int] = []
    monkeypatch.setitem(cells.ATTACK_METHODS, "pgd", limited(limit, calls))
    attack = Attack("PGD", "pgd", {"eps": 8 / 255})
    with pytest.warns(RuntimeWarning, match="out of memory"):
        out = attack_outcomes(attack, "m", x, y, "k", None, batch_size=7, cache=ResultCache(enabled=False))
    monkeypatch.setitem(cells.ATTACK_METHODS, "pgd", limited(100, []))
    whole = attack_outcomes(attack, "m", x, y, "k", None, batch_size=7, cache=ResultCache(enabled=False))
    assert torch.equal(out["correct"], whole["correct"]) and len(out["correct"]) == 7
    assert max(calls) <= limit and sum(calls) == 7 and out["out_of_memory_splits"]
    assert "out_of_memory_splits" not in whole


def test_a_cached_split_cell_still_says_so(monkeypatch, tmp_path):
    x, y = torch.rand(4, 3, 8, 8), torch.arange(4)
    monkeypatch.setattr(cells, "load_cached", lambda name, device: MODEL)
    monkeypatch.setattr(cells, "attack_key", lambda *a, **k: "k")
    monkeypatch.setitem(cells.ATTACK_METHODS, "pgd", limited(2, []))
    cache, attack = ResultCache(tmp_path), Attack("PGD", "pgd", {"eps": 8 / 255})
    with pytest.warns(RuntimeWarning, match="out of memory"):
        attack_outcomes(attack, "m", x, y, "k", None, batch_size=4, cache=cache)
    monkeypatch.setitem(cells.ATTACK_METHODS, "pgd", lambda *a, **k: pytest.fail("a cache hit runs no attack"))
    with pytest.warns(RuntimeWarning, match="attacked in halves"):
        attack_outcomes(attack, "m", x, y, "k", None, batch_size=4, cache=cache)


def test_other_errors_and_a_single_image_out_of_memory_propagate():
    x, y = torch.rand(4, 3, 8, 8), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="bad"):
        split_on_out_of_memory(lambda a, b: (_ for _ in ()).throw(ValueError("bad")), x, y)
    with pytest.raises(torch.cuda.OutOfMemoryError):  # a limit of 0: even one image does not fit
        split_on_out_of_memory(lambda a, b: limited(0, [])(MODEL, a, b), x, y)


def test_budget_dictionaries_are_joined_per_budget():
    x, y = torch.rand(5, 3, 8, 8), torch.zeros(5, dtype=torch.long)

    def per_budget(a, b):
        if len(a) > 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        return {"half": a * 0.5, "full": a}
    out = split_on_out_of_memory(per_budget, x, y)
    assert torch.equal(out["full"], x) and torch.equal(out["half"], x * 0.5)
