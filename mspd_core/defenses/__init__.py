"""The defenses: MCGS/MSPD, Fast Preemption, Bi-Level, UnAdv and their cascade, and A5."""
from .a5 import a5
from .bilevel import bilevel, unadv, unadv_bilevel_cascade
from .fast_preemption import fast_preemption
from .labels import LABEL_SOURCES, defense_labels, predict
from .mcgs import mcgs

__all__ = ["a5", "mcgs", "fast_preemption", "bilevel", "unadv", "unadv_bilevel_cascade", "defense_labels", "predict", "LABEL_SOURCES"]
