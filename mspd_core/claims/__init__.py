"""The papers' claims: a registry with an audited history, the statistics, and verdicts on two axes.

Each chapter measures per-image outcomes and calls ``check(key, ...)`` for the claims it owns
(see :mod:`.registry`), then ``record(notebook, outcomes, profile)``; the summary page reads
them back with ``load_all()``. Claims live next to the executed notebooks
(``$MSPD_CLAIMS_DIR``, set by ``scripts/run_notebooks.py``), so the summary can only show what
this build computed.
"""
from .engine import (SIZES, VERDICTS, Outcome, by_paper, check, claims_dir, format_effect, load_all, multiplicity,
                     paired_values, record, show, summary_counts, table)
from .protocol import used_settings
from .registry import PAPERS, REGISTRY, ClaimSpec, bilevel_pass_ratio, claim_target, claims_of, get_spec, paper_of

__all__ = ["SIZES", "multiplicity", "VERDICTS", "Outcome", "by_paper", "check", "claims_dir", "format_effect", "load_all",
           "paired_values", "record", "show", "summary_counts", "table", "PAPERS", "REGISTRY", "ClaimSpec", "bilevel_pass_ratio",
           "claim_target", "claims_of", "get_spec", "paper_of", "used_settings"]
