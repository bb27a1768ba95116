"""Where things live: the one place for project paths and the environment variables that move them."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Environment variable naming another embedded-zoo folder (checkpoints + manifest.json).
ZOO_ENV = "MSPD_ZOO_DIR"
ZOO_DIR = Path(os.environ.get(ZOO_ENV) or PROJECT_ROOT / "data" / "zoo")
ZOO_MANIFEST = ZOO_DIR / "manifest.json"

#: Environment variable naming a local CIFAR-10 copy (folder or zip in the
#: ``train/<class>/NNNN.jpg`` / ``test/<class>/NNNN.jpg`` layout).
CIFAR10_ENV = "MSPD_CIFAR10"
#: Environment variable naming a local ImageNet evaluation folder (torchvision ImageFolder layout:
#: ``<root>/<wnid>/<image>.JPEG``, e.g. the validation split sorted into class folders).
IMAGENET_ENV = "MSPD_IMAGENET"
#: Environment variable naming the cache folder (decoded data, experiment results).
CACHE_ENV = "MSPD_CACHE"
#: Environment variable naming where RobustBench weights live (``model_dir``).
ROBUSTBENCH_ENV = "MSPD_ROBUSTBENCH_DIR"


def cache_dir() -> Path:
    """The cache folder (``$MSPD_CACHE``, else ``~/.cache/mspd``), created on demand."""
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mspd")
    path.mkdir(parents=True, exist_ok=True)
    return path


def robustbench_dir() -> Path:
    """Where RobustBench checkpoints are looked for (``$MSPD_ROBUSTBENCH_DIR``, else cache/robustbench)."""
    return Path(os.environ.get(ROBUSTBENCH_ENV) or cache_dir() / "robustbench")

#: Environment variables that name user paths (resolved once against the caller's directory).
USER_PATH_ENVS = (CIFAR10_ENV, CACHE_ENV, ROBUSTBENCH_ENV, ZOO_ENV, IMAGENET_ENV)


def absolutize_user_paths(base: str | os.PathLike | None = None) -> dict[str, str]:
    """Rewrite relative paths in :data:`USER_PATH_ENVS` as absolute ones, resolved against ``base``
    (default: the directory the command was typed in, ``$PWD`` where it names the current directory,
    else ``os.getcwd()``). Call once, before anything changes directory (papermill runs notebooks in
    ``notebooks/``). Returns what was rewritten."""
    here = Path(base) if base is not None else _invocation_dir()
    changed = {}
    for name in USER_PATH_ENVS:
        value = os.environ.get(name)
        if value and not Path(value).expanduser().is_absolute():
            os.environ[name] = changed[name] = str((here / Path(value).expanduser()).resolve())
        elif value and value.startswith("~"):
            os.environ[name] = changed[name] = str(Path(value).expanduser())
    return changed


def _invocation_dir() -> Path:
    pwd = os.environ.get("PWD")
    if pwd and Path(pwd).is_dir() and Path(pwd).resolve() == Path.cwd().resolve():
        return Path(pwd)
    return Path.cwd()
