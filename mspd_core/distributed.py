"""The Ray engine of the evaluation grid: each cell a task, results in the same content-addressed cache.

    run_grid(defenses, attacks, targets, data, zoo, engine="ray", address="auto")

Two waves of Ray tasks: one per defense (its released images: :func:`~mspd_core.cells.released_images`),
then one per (defense, attack, target) (:func:`~mspd_core.cells.attack_outcomes`), each started as
soon as its defense is done. Every task writes its result into the driver's cache folder (keys as in
:mod:`mspd_core.cells`), so a re-run after a node failure recomputes only the missing cells.

What a cluster needs, and what this checks before any cell runs:

- **the environment**: every task gets the driver's ``MSPD_*`` variables (cache, zoo, data folders)
  and :data:`CACHE_FOLDER_ENV`, the cache folder as the workers should see it (set it in
  ``runtime_env`` where the shared folder is mounted elsewhere on the workers); with
  ``ship_code=True`` (the default when ``address`` names a cluster) the driver's ``mspd_core`` is
  shipped to the workers (Ray ``py_modules``);
- **a pre-flight** (:func:`preflight`): on every node a task reads a sentinel file the driver wrote
  into the cache folder and writes one back, and reports its code fingerprint and torch version;
  any mismatch fails at once with :class:`RayPreflightFailed`, naming the node and the problem.

Ray retries a task whose worker died (``max_retries``) and the declared transient errors
(:data:`TRANSIENT_ERRORS`: a dropped connection, a time-out), never a deterministic bug; cells that
still fail are reported by name at the end (:class:`GridCellsFailed`), after every other cell is
cached. After the Ray phase the driver reads every cell from the cache and recomputes none
(:class:`mspd_core.grid.CellsNotVisible` names any it cannot see).
"""
from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

import torch

from .cells import (Attack, Defense, ResultCache, attack_outcomes, cell_name, code_fingerprint, release_key,
                    released_images)
from .data import ImageSet
from .zoo.registry import Zoo

#: The cache folder as the workers see it (the driver's, unless the runtime_env says otherwise).
CACHE_FOLDER_ENV = "MSPD_RAY_CACHE_FOLDER"
#: Errors worth retrying on another attempt; anything else is a bug that would fail again.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


class GridCellsFailed(RuntimeError):
    """Some cells failed after Ray's retries; all other cells are computed and cached."""

    def __init__(self, failed: dict[str, str]):
        self.failed = failed
        lines = "\n".join(f"  {cell}: {why}" for cell, why in failed.items())
        super().__init__(f"{len(failed)} grid cell(s) failed after retries (every other cell is cached; "
                         f"re-running recomputes only these):\n{lines}")


class RayPreflightFailed(RuntimeError):
    """The workers cannot share the driver's cache folder, or run other code or another torch."""


def worker_environment(folder: Path, extra: dict | None = None) -> dict:
    """The environment variables every task gets: the driver's ``MSPD_*`` and the cache folder."""
    env = {k: v for k, v in os.environ.items() if k.startswith("MSPD_")}
    env[CACHE_FOLDER_ENV] = str(folder)
    env.update(extra or {})
    return env


def _worker_cache() -> ResultCache:
    return ResultCache(Path(os.environ[CACHE_FOLDER_ENV]))


def _preflight_task(sentinel: str, token: str) -> dict:
    """On a worker: read the driver's sentinel from the cache folder, write one back, say what runs here."""
    folder = Path(os.environ.get(CACHE_FOLDER_ENV, ""))
    host = socket.gethostname()
    path = folder / sentinel
    seen = path.exists() and path.read_text() == token
    reply = f"{sentinel}.{host}.{os.getpid()}"
    try:
        (folder / reply).write_text(token)
    except OSError:
        reply = ""
    return {"host": host, "folder": str(folder), "seen": seen, "reply": reply, "code": code_fingerprint(),
            "torch": torch.__version__, "environment": _environment()}


def _environment() -> dict:
    """The lock and the Python version a node runs (together they fix every library version)."""
    from .cells import python_minor
    from .dependencies import lock_fingerprint

    return {"lock": lock_fingerprint(), "python": python_minor()}


def preflight(ray, folder: Path, options: dict, nodes: int | None = None) -> list[dict]:
    """Prove that workers and driver share ``folder`` and run the same code and torch; one task per node.

    Raises :class:`RayPreflightFailed` with every problem found (node, folder, what differs)."""
    nodes = nodes or max(1, sum(1 for n in ray.nodes() if n.get("Alive")))
    sentinel, token = f".ray-preflight-{secrets.token_hex(6)}", secrets.token_hex(16)
    (folder / sentinel).write_text(token)
    task = ray.remote(_preflight_task).options(**{k: v for k, v in options.items() if k != "retry_exceptions"},
                                               scheduling_strategy="SPREAD")
    try:
        reports = ray.get([task.remote(sentinel, token) for _ in range(nodes)])
        problems = []
        for r in reports:
            where = f"worker on {r['host']} (cache folder {r['folder'] or 'unset'})"
            if not r["seen"]:
                problems.append(f"{where} cannot read the driver's sentinel in {folder}: the folder is not shared")
            elif not r["reply"] or not (folder / r["reply"]).exists():
                problems.append(f"{where} wrote a file the driver cannot see in {folder}: the folder is not shared")
            if r["code"] != code_fingerprint():
                problems.append(f"{where} runs other mspd_core code ({r['code']} vs the driver's {code_fingerprint()}): "
                                "install the same version on every node, or pass ship_code=True")
            if r.get("environment") != _environment():
                problems.append(f"{where} runs another environment ({r.get('environment')} vs the driver's "
                                f"{_environment()}): install requirements/lock.txt with the same Python on every node")
            if r["torch"] != torch.__version__:
                problems.append(f"{where} runs torch {r['torch']}, the driver {torch.__version__}: results would differ")
        if problems:
            raise RayPreflightFailed("Ray pre-flight failed; no cell was run:\n" + "\n".join(f"  {p}" for p in problems))
        return reports
    finally:
        for path in folder.glob(f"{sentinel}*"):
            path.unlink(missing_ok=True)


def _release_task(defense: Defense, data: ImageSet, zoo: Zoo, eps: float, seed: int, device: str, batch_size: int,
                  quantize: bool) -> str:
    released_images(defense, data, zoo, eps, seed, device, batch_size, quantize, _worker_cache())
    return release_key(defense, data, zoo, eps, seed, quantize, batch_size, device)


def _attack_task(defense: Defense, attack: Attack, target: str, data: ImageSet, zoo: Zoo, eps: float, seed: int,
                 device: str, batch_size: int, quantize: bool) -> None:
    store = _worker_cache()
    rel = released_images(defense, data, zoo, eps, seed, device, batch_size, quantize, store)  # a cache hit
    rkey = release_key(defense, data, zoo, eps, seed, quantize, batch_size, device)
    attack_outcomes(attack, target, rel["x_eval"], data.y, rkey, zoo, seed, device, batch_size, store, x_orig=data.x)


def compute_cells_on_ray(defenses: list[Defense], attacks: list[Attack], targets: list[str], data: ImageSet, zoo: Zoo,
                         eps: float, seed: int, device: str | torch.device, batch_size: int, quantize: bool,
                         cache: ResultCache, address: str | None = None, max_retries: int = 2,
                         resources: dict | None = None, progress: bool = True, runtime_env: dict | None = None,
                         ship_code: bool | None = None, check: bool = True) -> None:
    """Compute every release and every (defense, attack, target) cell as Ray tasks into ``cache``.

    Starts a local Ray (all cores) unless one is running or ``address`` names a cluster. ``runtime_env``
    adds to what every task gets (:func:`worker_environment`; its ``env_vars`` override the driver's);
    ``check=False`` skips the pre-flight. Raises :class:`RayPreflightFailed` before any cell runs when the
    workers cannot share the cache, and :class:`GridCellsFailed` naming the cells that failed after retries."""
    try:
        import ray
    except ImportError as err:
        raise ImportError("engine='ray' needs Ray: pip install -e .[ray]") from err
    from tqdm.auto import tqdm

    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
    device = str(torch.device(device))
    folder = cache.folder.resolve()
    extra = dict(runtime_env or {})
    env = {"env_vars": worker_environment(folder, extra.pop("env_vars", None)), **extra}
    if ship_code if ship_code is not None else address is not None:
        env["py_modules"] = [str(Path(__file__).resolve().parent)]
    opts = {"num_cpus": 1, "num_gpus": 1 if device.startswith("cuda") else 0, **(resources or {}),
            "max_retries": max_retries, "retry_exceptions": list(TRANSIENT_ERRORS), "runtime_env": env}
    if check:
        preflight(ray, folder, opts)
    release = ray.remote(_release_task).options(**opts)
    attack = ray.remote(_attack_task).options(**opts)
    data_ref = ray.put(data)
    pending = {release.remote(d, data_ref, zoo, eps, seed, device, batch_size, quantize): (d, None, None)
               for d in defenses}
    failed: dict[str, str] = {}
    total = len(defenses) * (1 + len(attacks) * len(targets))
    bar = tqdm(total=total, desc="grid (ray)", disable=not progress)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        d, a, t = pending.pop(done[0])
        try:
            ray.get(done[0])
        except Exception as err:  # after Ray's retries
            failed[cell_name(d, a, t)] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:200]}"
            if a is None:  # the release failed: its attack cells cannot run
                for aa in attacks:
                    for tt in targets:
                        failed[cell_name(d, aa, tt)] = f"its release ({d.name}) failed"
                bar.update(len(attacks) * len(targets))
        else:
            if a is None:
                for aa in attacks:
                    for tt in targets:
                        ref = attack.remote(d, aa, tt, data_ref, zoo, eps, seed, device, batch_size, quantize)
                        pending[ref] = (d, aa, tt)
        bar.update()
    bar.close()
    if failed:
        raise GridCellsFailed(failed)
