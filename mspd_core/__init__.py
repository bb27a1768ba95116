"""mspd_core: MSPD / MCGS, Fast Preemption and Bi-Level preemptive defenses, reversion and evaluation."""
__version__ = "0.1.0"
