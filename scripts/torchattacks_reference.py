"""Record torchattacks 3.5.1's outputs on a small fixed model, for tests/test_attack_equivalence.py.

The companion no longer depends on torchattacks (its ``requests~=2.25.1`` pin holds four published
advisories: issue 35); this script was run once, in a virtual environment that still had it, and its
output ``tests/data/torchattacks_reference.pt`` (a few kB) is committed. To regenerate it:

    python -m venv /tmp/ta && /tmp/ta/bin/pip install torch==2.14.1 torchattacks==3.5.1 -e .
    /tmp/ta/bin/python scripts/torchattacks_reference.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import torchattacks

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.attack_fixtures import EPS_L2, EPS_LINF, reference_inputs, reference_model  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "torchattacks_reference.pt"


def main() -> None:
    model = reference_model()
    x, y = reference_inputs()
    outputs = {}
    for start in (False, True):
        torch.manual_seed(0)
        outputs[f"pgd_linf_start{int(start)}"] = torchattacks.PGD(model, eps=EPS_LINF, alpha=2 / 255, steps=10,
                                                                   random_start=start)(x, y)
        torch.manual_seed(0)
        outputs[f"pgd_l2_start{int(start)}"] = torchattacks.PGDL2(model, eps=EPS_L2, alpha=2.5 * EPS_L2 / 10, steps=10,
                                                                   random_start=start)(x, y)
        torch.manual_seed(0)
        outputs[f"eot_pgd_start{int(start)}"] = torchattacks.EOTPGD(model, eps=EPS_LINF, alpha=2 / 255, steps=10,
                                                                     eot_iter=4, random_start=start)(x, y)
    outputs["square"] = torchattacks.Square(model, norm="Linf", eps=EPS_LINF, n_queries=200, n_restarts=1, seed=0)(x, y)
    torch.save({"torchattacks": torchattacks.__version__, "torch": str(torch.__version__),
                **{k: v.detach() for k, v in outputs.items()}}, OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
