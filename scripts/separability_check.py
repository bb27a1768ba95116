"""Issue 22: can MSPD be told apart from UnAdv(100) and No Pre. on the main target and on the separation target?

    MSPD_CIFAR10=../shared/data/cifar10-jpeg.zip .venv/bin/python scripts/separability_check.py

cpu profile, the paired subset (100 images), APGD-CE + APGD-DLR L-inf; prints accuracies, the separability table and
the paired comparison with No Pre. on each target (README, "The embedded zoo", quotes one run). Bi-Level(100) is left
out: its 100 releases took longer than 27 minutes on a loaded 2-core CPU; the cpu book computes them.
"""
import sys
import time

from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import pandas as pd  # noqa: E402

from mspd_core import claims, experiments as ex
from mspd_core.evaluate import Attack
from mspd_core.notebook import start
pd.set_option("display.width", 250); pd.set_option("display.max_columns", 20)
t = time.time()
S = ex.setup(start("cpu", 0, "auto"))
P = S.profile
print("targets:", S.zoo.targets, "separation:", S.zoo.separation_target, flush=True)
attacks = [Attack("clean"), ex.autoattack(P, "Linf")]
aa = attacks[1].name
for target in dict.fromkeys([S.zoo.main_target, S.zoo.separation_target]):
    table = S.grid([d for d in ex.main_defenses(P) if d.name != "Bi-Level"], attacks, [target], reference="MSPD", progress=True)
    print(f"\n=== {target} ===")
    print(ex.pivot_accuracy(table).to_string())
    print(ex.separability(table, "MSPD", ["UnAdv", "No Pre."]).drop(columns=["separable here"]).to_string())
    out = claims.check("t4_mspd_vs_none", a=ex.outcomes(table, "MSPD", aa), b=ex.outcomes(table, "No Pre.", aa))
    print("MSPD vs No Pre. (t4_mspd_vs_none rule, n = 100):", out.verdict, "|", out.size, "|", claims.format_effect(out.__dict__), "| p", round(out.p, 3),
          "| discordant", out.discordant, "| MDE", round(out.mde, 1), flush=True)
print("done in", round(time.time() - t), "s")
