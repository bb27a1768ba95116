"""mspd_core: MSPD / MCGS, Fast Preemption and Bi-Level preemptive defenses, reversion and evaluation."""
import warnings as _warnings

# tqdm.auto warns when ipywidgets is absent (plain-text bars work fine); keep notebooks clean.
_warnings.filterwarnings("ignore", message=r".*IProgress not found.*")

__version__ = "0.1.0"
