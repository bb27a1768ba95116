"""What a bare, offline GPU machine needs to run scripts/gpu_check.sh, in one folder that travels with the tree.

    python scripts/gpu_bundle.py                        # make gpu-bundle: for the lent machines (Python 3.12, see below)
    python scripts/gpu_bundle.py --python-version 3.11 --present none -o _build/gpu-bundle-cpu   # everything, torch too

writes ``_build/gpu-bundle/`` (ignored by git; pass it with the device tool's ``carry``):

- ``wheels/``: the lock's pinned releases, hashes checked, for every package the companion and its chapters need
  (pyproject's dependencies, papermill, jupytext, ipykernel, transitively) that the target does not already hold,
  as wheels for the target's Python and Linux x86-64, and the companion's own wheel;
- ``cifar10-test-subset.zip``: the first ``--per-class`` test images of each class, copied byte for byte from the
  local CIFAR-10 copy (``$MSPD_CIFAR10``: the JPEG zip, so every page's set-up line says JPEG). For timing and the
  code path only: not an evaluation sample;
- ``MANIFEST.json``: the target, what was left out as present, sizes.

``--present device`` (default) leaves out what the lent machines' image holds (:data:`DEVICE_IMAGE`: the package
list the device tool's KINDS.md read on 2026-11-17: torch, NumPy, SciPy, pandas, timm, ...); pip on that machine
then resolves against those. ``--present none`` bundles everything, torch included: the CPU-mode check of a bare
Python here. The device tool carries at most 64 MiB: the script says when the bundle is larger.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

CARRY_LIMIT_MIB = 64  # the device tool's limit on what travels: the tracked tree (about 18 MiB) and carried paths
SLIMMED = {"pyautoattack": ("pyautoattack/examples/", ()),
           "babel": ("babel/locale-data/", ("root.dat", "en.dat", "en_001.dat", "en_US.dat", "en_150.dat", "en_GB.dat"))}
"""Members left out of a downloaded wheel (after its hash was checked), and those kept under that prefix: pyautoattack
0.2.0's examples hold a 44.7 MB demo checkpoint that the companion never loads; Babel (Sphinx's, pulled in by
myst-nb's ``glue``) carries every locale's data, of which English is kept. Both would not fit the carry limit."""
RUNNERS = ["papermill", "jupytext", "ipykernel", "myst-nb"]  # what `mspd notebook` and the chapters need beside the companion's own dependencies (myst_nb.glue)
DEVICE_IMAGE = """absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder cuda-toolkit
cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools formulaic frozenlist
fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta
jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities
linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack
multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas
nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand
nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13
nvidia-nvtx onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil
pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core
scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm
tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp""".split()
"""The packages of the lent machines' image ('cuda'), as the device tool's KINDS.md lists them (read there 2026-11-17;
Python 3.12.3, torch 2.11.0). Their installed versions are used there; a requirement they do not meet fails the
offline install, and gpu_check.sh logs it."""


def target_environment(python_version: str) -> dict[str, str]:
    """PEP 508 marker values of a CPython ``python_version`` on Linux x86-64 (the lent machines)."""
    return {"python_version": python_version, "python_full_version": f"{python_version}.0", "sys_platform": "linux",
            "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "extra": ""}


def bundle_requirements(python_version: str, present: set[str]) -> tuple[str, list[str]]:
    """The lock's hashed lines for what the target lacks, and the names left out as present."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from mspd_core.dependencies import PYPROJECT, lock_closure, lock_entries

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    entries = lock_entries()
    core = [Requirement(line) for line in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]]
    environment = target_environment(python_version)
    names = lock_closure([r.name for r in core if r.marker is None or r.marker.evaluate(environment)] + RUNNERS, entries)
    capped = {canonicalize_name(r.name) for r in core if any(spec.operator in ("==", "<", "<=", "~=") for spec in r.specifier)}
    present = present - capped  # e.g. setuptools<81: the image's own release may be newer, so the lock's travels
    left_out = sorted(n for n in names if canonicalize_name(n) in present)
    wanted = [n for n in names if canonicalize_name(n) not in present]
    lines = [f"{e.pin.name}=={e.pin.version} " + " ".join(f"--hash=sha256:{h}" for h in e.hashes)
             for e in entries if e.pin.name in wanted and e.pin.applies(environment)]
    return "\n".join(lines) + "\n", left_out


def download_wheels(requirements: str, python_version: str, folder: Path) -> None:
    """``pip download`` of binary wheels for the target (hashes checked, no dependency resolution: the lock is closed)."""
    folder.mkdir(parents=True, exist_ok=True)
    abi = "cp" + python_version.replace(".", "")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(requirements)
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(35, 4, -1)] + \
        ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]  # glibc 2.35: Ubuntu 22.04
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--require-hashes",
               "--python-version", python_version, "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none",
               *[a for p in platforms for a in ("--platform", p)], "-d", str(folder), "-r", handle.name]
    try:
        subprocess.run(command, check=True)
    finally:
        Path(handle.name).unlink()


def slim_wheel(path: Path, prefix: str, keep: tuple[str, ...] = ()) -> int:
    """Rewrite a wheel without its members under ``prefix`` but those named in ``keep`` (and without their RECORD
    lines); returns the bytes saved."""
    before = path.stat().st_size
    slim = path.with_suffix(".slim")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as out:
        def dropped(name: str) -> bool:
            return name.startswith(prefix) and name.rsplit("/", 1)[-1] not in keep

        for info in source.infolist():
            if dropped(info.filename):
                continue
            data = source.read(info.filename)
            if info.filename.endswith(".dist-info/RECORD"):
                data = "".join(line for line in data.decode().splitlines(keepends=True)
                               if not dropped(line.split(",", 1)[0])).encode()
            out.writestr(info, data)
    slim.replace(path)
    return before - path.stat().st_size


def cifar10_subset(source: Path, per_class: int, target: Path) -> int:
    """The first ``per_class`` test images of each class of a JPEG (or PNG) zip or folder in the
    ``test/<class>/NNNN.ext`` layout, copied unchanged into ``target`` (a zip); returns the count."""
    def wanted(names: list[str]) -> list[str]:
        by_class: dict[str, list[str]] = {}
        for name in sorted(names):
            parts = name.strip("/").split("/")
            if len(parts) >= 3 and parts[-3] == "test" and "." in parts[-1]:
                by_class.setdefault(parts[-2], []).append(name)
        return [n for members in by_class.values() for n in members[:per_class]]

    count = 0
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
        if source.is_dir():
            files = {p.relative_to(source).as_posix(): p for p in source.rglob("*") if p.is_file()}
            for name in wanted(list(files)):
                out.writestr(name, files[name].read_bytes())
                count += 1
        else:
            with zipfile.ZipFile(source) as archive:
                for name in wanted(archive.namelist()):
                    out.writestr(name, archive.read(name))
                    count += 1
    if count == 0:
        raise SystemExit(f"no test/<class>/<image> members in {source}")
    return count


def main(argv: list[str] | None = None) -> int:
    from course import build_wheel
    from mspd_core.paths import CIFAR10_ENV, absolutize_user_paths

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python-version", default="3.12", help="the target's Python (default 3.12: the lent machines')")
    parser.add_argument("--present", choices=["device", "none"], default="device",
                        help="leave out the lent image's packages (device) or bundle everything, torch included (none)")
    parser.add_argument("--per-class", type=int, default=50, help="test images per class in the CIFAR-10 subset")
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "_build" / "gpu-bundle")
    args = parser.parse_args(argv)
    import os

    absolutize_user_paths()
    source = os.environ.get(CIFAR10_ENV)
    if not source or not Path(source).exists():
        raise SystemExit(f"set {CIFAR10_ENV} to the local CIFAR-10 copy (e.g. ../shared/data/cifar10-jpeg.zip): the bundle "
                         "carries a small test subset of it")
    from packaging.utils import canonicalize_name

    present = {canonicalize_name(n) for n in DEVICE_IMAGE} if args.present == "device" else set()
    shutil.rmtree(args.out, ignore_errors=True)
    requirements, left_out = bundle_requirements(args.python_version, present)
    download_wheels(requirements, args.python_version, args.out / "wheels")
    slimmed = {}
    for name, (prefix, keep) in SLIMMED.items():
        for wheel in (args.out / "wheels").glob(f"{name}-*.whl"):
            slimmed[wheel.name] = f"{prefix} left out but {', '.join(keep) or 'nothing'} ({slim_wheel(wheel, prefix, keep) / 2**20:.1f} MiB)"
    wheel = build_wheel(args.out / "project")
    shutil.move(str(wheel), str(args.out / "wheels" / wheel.name))
    shutil.rmtree(args.out / "project")
    images = cifar10_subset(Path(source), args.per_class, args.out / "cifar10-test-subset.zip")
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file()) / 2**20
    manifest = {"python_version": args.python_version, "present": args.present, "left_out_as_present": left_out,
                "wheels": sorted(p.name for p in (args.out / "wheels").iterdir()), "cifar10_test_images": images,
                "cifar10_source": Path(source).name, "slimmed": slimmed, "size_mib": round(size, 1)}
    (args.out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    print(f"[gpu-bundle] {args.out}: {len(manifest['wheels'])} wheels for Python {args.python_version}, {images} test images, "
          f"{size:.1f} MiB")
    if size > CARRY_LIMIT_MIB:
        print(f"[gpu-bundle] larger than the device tool's {CARRY_LIMIT_MIB} MiB carry limit: fine on this machine, too big "
              "to travel", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
