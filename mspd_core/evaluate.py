"""The evaluation engine, one import: the cells (:mod:`mspd_core.cells`: defense and attack
configurations, cache keys, the cache, one defense's release, one attack cell) and the grid
(:mod:`mspd_core.grid`: ``run_grid`` with its local and Ray engines, ``format_table``).

    from mspd_core.evaluate import Attack, Defense, run_grid
"""
from __future__ import annotations

from .cells import (ATTACK_METHODS, BUILD_ENV, CLEAN, DEFENSE_METHODS, NO_DEFENSE, Attack, Defense,  # noqa: F401
                    ResultCache, attack_key, attack_outcomes, cache_key, code_fingerprint, computation, cpu_model,
                    defense_method, environment_fingerprint, measurement_context, model_fingerprint, no_defense,
                    post_process, protect, release, release_key, released_images, timing_provenance)
from .grid import ENGINES, CellsNotVisible, format_table, missing_cells, run_grid  # noqa: F401
