"""`mspd`: protect your images with MSPD before you upload them, or run the reversion diagnostic.

    mspd protect photos/ --out protected/            # every PNG/JPEG/WebP in photos/
    mspd protect a.png b.jpg --out out/ --eps 8/255 --n-samples 20 --seed 0
    mspd reverse protected/ --out reverted/          # Preemptive Reversion (adaptive diagnostic)
    mspd evaluate --n 100                            # No Pre. / UnAdv / Bi-Level / MSPD vs AutoAttack
    mspd evaluate --n 1000 --engine ray --address auto   # the same grid as Ray tasks on a cluster
    mspd notebook table15_attack_budget -p profile smoke -p target tg-cnn-pgd -o out.ipynb

Outputs are lossless 8-bit PNGs named <input stem>_mspd.png (reverse: _reverted.png), each
pixel within eps of the input; inputs are never overwritten; files are written atomically.
Files that cannot be read are skipped and reported, and the exit code is 1 if any failed.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from .defenses import defense_labels, mcgs
from .images import ImageReadError, find_images, read_image, write_png_atomic
from .metrics import linf_distance, ssim
from .reversion import preemptive_reversion
from .tensors import from_uint8, to_uint8_release
from .zoo.registry import NAMED_ZOOS, ModelUnavailableError, load, zoo_for


def parse_eps(text: str) -> float:
    """'8/255' or '0.0314' -> float in (0, 1) (the range check is the notebooks' :func:`check_eps`)."""
    from .notebook import check_eps

    try:
        return check_eps(float(Fraction(text)) if "/" in text else float(text))
    except (ValueError, ZeroDivisionError) as err:
        raise argparse.ArgumentTypeError(f"eps must be in (0, 1), a number like 8/255 or 0.0314, got {text!r}") from err


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mspd", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("protect", "protect images with MSPD (MCGS) before release"),
                           ("reverse", "Preemptive Reversion x_r = 2 x_p - D(x_p) of protected images (diagnostic)")):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("inputs", nargs="+", help="image files (PNG/JPEG/WebP) or folders of them")
        p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
        p.add_argument("--zoo", default="embedded-cifar10", choices=sorted(NAMED_ZOOS),
                       help="which models: the embedded CIFAR-10 zoo (offline) or the paper's RobustBench models")
        p.add_argument("--eps", type=parse_eps, default=8 / 255, help="L-inf budget, e.g. 8/255 (default)")
        p.add_argument("--n-samples", type=int, default=20, help="noisy copies N per smoothing step (default 20)")
        p.add_argument("--seed", type=int, default=0, help="random seed (same seed -> byte-identical outputs)")
        p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--resize", action="store_true",
                       help="resize images whose size differs from the model's input (otherwise they are refused)")
        p.add_argument("--overwrite", action="store_true", help="replace existing output files (never an input)")
    ev = sub.add_parser("evaluate", help="evaluate No Pre. / UnAdv / Bi-Level / MSPD against AutoAttack on one target",
                        description="Table IV in one call: the four defenses on the shared evaluation subset, attacked "
                                    "with the official AutoAttack on one unseen target; accuracies with 95%% Wilson intervals "
                                    "and exact McNemar p-values against no defense. Results are cached ($MSPD_CACHE).")
    ev.add_argument("--n", type=int, default=100, help="evaluation images (class-balanced CIFAR-10 test subset)")
    ev.add_argument("--target", default=None, help="target model name (default: the zoo's main target)")
    ev.add_argument("--zoo", default="embedded-cifar10", choices=sorted(NAMED_ZOOS))
    ev.add_argument("--version", default="standard", choices=["standard", "rand"], help="AutoAttack version")
    ev.add_argument("--epochs", type=int, default=100, help="outer iterations of UnAdv and Bi-Level (paper: 100)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="auto")
    ev.add_argument("--batch-size", type=int, default=100)
    ev.add_argument("--engine", default="local", choices=["local", "ray"],
                    help="local (default) or ray: each grid cell a Ray task (pip install -e .[ray])")
    ev.add_argument("--address", default=None, help="Ray cluster address (e.g. auto, or ray://head:10001); default: a local Ray")
    nb = sub.add_parser("notebook", help="re-run one chapter of the book with papermill parameters",
                        description="Execute the committed notebooks/<name>.ipynb with papermill (no book build needed), "
                                    "e.g. `mspd notebook table15_attack_budget -p profile smoke -p seed 1 -o out.ipynb`. "
                                    "Parameters: profile, seed, device, and per chapter n_images, n_large, eps, target, backbone.")
    nb.add_argument("name", help="the chapter, e.g. table04_main")
    nb.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="a papermill parameter (repeatable); values like 8/255, 500, None are parsed")
    nb.add_argument("-o", "--output", default=None, help="executed notebook (default: <name>-out.ipynb here)")
    nb.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def parse_parameter(text: str):
    """A papermill parameter value: None/True/False, an int, a float, a fraction like 8/255, else the string."""
    import ast

    if re.fullmatch(r"\s*\d+\s*/\s*\d+\s*", text):
        return float(Fraction(text.replace(" ", "")))
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run_notebook(args: argparse.Namespace) -> int:
    """Execute one chapter's committed notebook with papermill and the given parameters."""
    import papermill as pm

    from .paths import PROJECT_ROOT

    folder = PROJECT_ROOT / "notebooks"
    known = sorted(p.stem for p in folder.glob("*.ipynb"))
    if args.name not in known:
        print(f"unknown notebook {args.name!r}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    source = folder / f"{args.name}.ipynb"
    accepted = pm.inspect_notebook(str(source))
    params = {k: parse_parameter(v) for k, v in args.parameter}
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        print(f"{args.name} has no parameter(s) {', '.join(unknown)}; its parameters: {', '.join(accepted)}", file=sys.stderr)
        return 2
    out = Path(args.output or f"{args.name}-out.ipynb").resolve()
    import os

    os.environ.setdefault("MSPD_CLAIMS_DIR", str(out.parent / f"{out.stem}-claims"))
    try:
        pm.execute_notebook(str(source), str(out), parameters=params, cwd=str(folder), kernel_name="python3",
                            progress_bar=not args.quiet)
    except pm.PapermillExecutionError as err:
        print(f"{args.name} failed: {err.ename}: {err.evalue} (executed notebook: {out})", file=sys.stderr)
        return 1
    print(f"executed {args.name} with {params or 'its defaults'} -> {out}")
    return 0


def random_weights_banner(zoo) -> str | None:
    """The line every output of a random-weight (paper-dry) zoo starts with; None for real weights."""
    if not zoo.source.endswith("-dry"):
        return None
    return ("RANDOM WEIGHTS: this zoo's checkpoints were written by `python -m mspd_core.zoo.dry`; "
            "the numbers below measure nothing (a check of the code path only)")


def evaluate(args: argparse.Namespace) -> int:
    """`mspd evaluate`: the Table IV grid on one target, printed with intervals and timings."""
    from . import experiments as ex
    from .data import evaluation_subset
    from .evaluate import Attack, format_table, run_grid

    device = _device(args.device)
    zoo = zoo_for(NAMED_ZOOS[args.zoo][0])
    target = args.target or zoo.main_target
    defenses = [ex.no_defense(), ex.unadv(args.epochs), ex.bilevel(args.epochs), ex.mspd()]
    attacks = [Attack("clean"), Attack(f"AutoAttack {args.version} Linf 8/255", "autoattack", {"version": args.version})]
    start = time.perf_counter()
    table = run_grid(defenses, attacks, [target], evaluation_subset(args.n, args.seed), zoo, seed=args.seed,
                     device=device, batch_size=args.batch_size, engine=args.engine, address=args.address)
    view = format_table(table)[["defense", "attack", "accuracy (95% CI)", "p_vs_baseline", "sec_per_image", "ssim"]]
    if random_weights_banner(zoo):
        print(random_weights_banner(zoo))
    print(f"target {target}, {args.n} images, device {device}, LPIPS: {table.attrs['lpips']}")
    print(view.to_string(index=False, float_format="{:.4g}".format))
    print(f"total {time.perf_counter() - start:.0f} s (cached cells cost nothing; cache: $MSPD_CACHE)")
    return 0


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"mspd: error: --device {name} but CUDA is not available here")
    return torch.device(name)


def run(args: argparse.Namespace) -> int:
    if args.n_samples < 1:
        raise SystemExit("mspd: error: --n-samples must be >= 1")
    device = _device(args.device)
    source, side = NAMED_ZOOS[args.zoo]
    try:
        zoo = zoo_for(source, n_targets=0)
        backbone, classifier = load(zoo.backbone, device), load(zoo.classifier, device)
    except ModelUnavailableError as err:
        raise SystemExit(f"mspd: error: {err}")
    paths, failed = find_images(args.inputs)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        probe = args.out / ".mspd-write-test"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise SystemExit(f"mspd: error: cannot write to output folder {args.out} ({err.strerror or err})")
    inputs_resolved = {p.resolve() for p in paths}
    suffix = "_mspd" if args.command == "protect" else "_reverted"
    loaded, notes = [], []
    for p in paths:
        target = args.out / f"{p.stem}{suffix}.png"
        if target.resolve() in inputs_resolved:
            failed.append((p, f"output {target} would overwrite an input"))
            continue
        if target.exists() and not args.overwrite:
            failed.append((p, f"output {target} exists (pass --overwrite to replace it)"))
            continue
        try:
            img = read_image(p, side, args.resize)
        except ImageReadError as err:
            failed.append((p, str(err)))
            continue
        loaded.append((img, target))
        notes += [f"{p}: {n}" for n in img.notes]
    from tqdm.auto import tqdm

    linf, sims, done = [], [], 0
    start = time.perf_counter()
    bar = tqdm(total=len(loaded), desc=args.command, unit="img", disable=not loaded)
    for i in range(0, len(loaded), args.batch_size):
        chunk = loaded[i:i + args.batch_size]
        x = torch.stack([img.pixels for img, _ in chunk]).to(device)
        if args.command == "protect":
            y = defense_labels(x, "decouple", backbone, classifier)
            x_out = mcgs(backbone, x, y, eps=args.eps, n_samples=args.n_samples, seed=args.seed + i)
            x8 = to_uint8_release(x_out, x, args.eps)
        else:
            def defense(v):
                return mcgs(backbone, v, defense_labels(v, "decouple", backbone, classifier), eps=args.eps,
                            n_samples=args.n_samples, seed=args.seed + i)
            x8 = torch.round(preemptive_reversion(defense, x) * 255).to(torch.uint8)
        released = from_uint8(x8)
        linf.append(linf_distance(released, x).cpu())
        sims.append(torch.from_numpy(ssim(released, x)))
        for (img, target), pixels in zip(chunk, x8):
            write_png_atomic(pixels, target)
            done += 1
        bar.update(len(chunk))
    bar.close()
    seconds = time.perf_counter() - start
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    for p, why in failed:
        print(f"skipped: {p}: {why}", file=sys.stderr)
    verb = "protected" if args.command == "protect" else "reverted"
    summary = f"{done} image(s) {verb}, {len(failed)} skipped"
    if done:
        lin = torch.cat(linf)
        summary += (f"; mean L-inf {float(lin.mean()) * 255:.2f}/255 (max {float(lin.max()) * 255:.2f}/255), "
                    f"mean SSIM {float(torch.cat(sims).mean()):.4f}, {seconds / done:.3f} s/image on {device}; output in {args.out}")
    print(summary)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    from .paths import absolutize_user_paths

    absolutize_user_paths()
    args = build_parser().parse_args(argv)
    if args.command == "notebook":
        return run_notebook(args)
    return evaluate(args) if args.command == "evaluate" else run(args)


if __name__ == "__main__":
    sys.exit(main())
