"""The creator CLI, end to end on the embedded zoo, and its hardening against bad files."""
from __future__ import annotations

import hashlib
import os
import stat

import numpy as np
import pytest
from PIL import Image

from mspd_core import cli
from mspd_core.zoo.recipes import DEFAULT_BACKBONE, DEFAULT_CLASSIFIER
from mspd_core.zoo.registry import available_embedded

pytestmark = pytest.mark.skipif(not {DEFAULT_BACKBONE, DEFAULT_CLASSIFIER} <= set(available_embedded()),
                                reason="embedded backbone/classifier not trained")
EPS = 8 / 255


@pytest.fixture
def cifar_pngs(tmp_path, cifar_root, monkeypatch):
    monkeypatch.setenv("MSPD_CIFAR10", cifar_root)
    from mspd_core.data import evaluation_subset

    data = evaluation_subset(4, seed=1)
    folder = tmp_path / "in"
    folder.mkdir()
    for i, img in enumerate(data.x):
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def test_protect_folder_end_to_end_within_eps(cifar_pngs, tmp_path, capsys):
    before = digest(cifar_pngs)
    out = tmp_path / "out"
    assert cli.main(["protect", str(cifar_pngs), "--out", str(out), "--n-samples", "4"]) == 0
    assert "4 image(s) protected, 0 skipped" in capsys.readouterr().out
    assert digest(cifar_pngs) == before, "inputs must never change"
    for src in cifar_pngs.glob("*.png"):
        a = np.asarray(Image.open(src), dtype=np.int16)
        b = np.asarray(Image.open(out / f"{src.stem}_mspd.png"), dtype=np.int16)
        assert b.shape == a.shape and np.abs(a - b).max() <= 8
    assert not list(out.glob("*.tmp"))


def test_same_seed_gives_byte_identical_files(cifar_pngs, tmp_path):
    for name in ("a", "b"):
        cli.main(["protect", str(cifar_pngs), "--out", str(tmp_path / name), "--n-samples", "3", "--seed", "5"])
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_reverse_runs(cifar_pngs, tmp_path, capsys):
    cli.main(["protect", str(cifar_pngs), "--out", str(tmp_path / "p"), "--n-samples", "3"])
    assert cli.main(["reverse", str(tmp_path / "p"), "--out", str(tmp_path / "r"), "--n-samples", "3"]) == 0
    assert len(list((tmp_path / "r").glob("*_reverted.png"))) == 4


def _bad_files(folder):
    (folder / "empty.png").write_bytes(b"")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10)
    good = folder / "good.png"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(good)
    (folder / "truncated.png").write_bytes(good.read_bytes()[:60])
    Image.fromarray(np.zeros((64, 48, 3), np.uint8)).save(folder / "wrong_size.png")
    Image.fromarray(np.zeros((9000, 5000), np.uint8)).save(folder / "huge.png")


def test_bad_files_are_skipped_and_reported(tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    _bad_files(folder)
    code = cli.main(["protect", str(folder), "--out", str(tmp_path / "out"), "--n-samples", "2"])
    err = capsys.readouterr()
    assert code == 1
    assert "1 image(s) protected, 5 skipped" in err.out
    for name, why in [("empty.png", "empty file"), ("corrupt.jpg", "cannot read"), ("truncated.png", "cannot read"),
                      ("wrong_size.png", "--resize"), ("huge.png", "too large")]:
        assert f"{name}: " in err.err and why in err.err.split(f"{name}: ")[1].splitlines()[0]


def test_modes_are_converted_with_a_note(tmp_path, capsys):
    folder = tmp_path / "modes"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(folder / "grey.png")
    Image.fromarray(rng.integers(0, 255, (32, 32, 4), dtype=np.uint8)).save(folder / "rgba.png")
    Image.fromarray(rng.integers(0, 65535, (32, 32), dtype=np.uint16)).save(folder / "deep16.png")
    frames = [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(folder / "anim.webp", save_all=True, append_images=frames[1:])
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / "big.jpg")
    code = cli.main(["protect", str(folder), "--out", str(tmp_path / "out"), "--n-samples", "2", "--resize"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "mode L converted" in err and "mode RGBA converted" in err and "16-bit" in err
    assert "animated" in err and "resized from 40x40" in err
    for p in (tmp_path / "out").glob("*.png"):
        assert Image.open(p).mode == "RGB" and Image.open(p).size == (32, 32)


def test_unwritable_output_is_a_clear_error(cifar_pngs, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SystemExit, match="cannot write to output folder"):
        cli.main(["protect", str(cifar_pngs), "--out", str(blocker / "sub")])
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
        with pytest.raises(SystemExit, match="cannot write"):
            cli.main(["protect", str(cifar_pngs), "--out", str(ro)])


def test_existing_outputs_are_kept_and_inputs_never_overwritten(cifar_pngs, tmp_path, capsys):
    out = tmp_path / "o"
    cli.main(["protect", str(cifar_pngs), "--out", str(out), "--n-samples", "2"])
    before = digest(out)
    assert cli.main(["protect", str(cifar_pngs), "--out", str(out), "--n-samples", "2", "--seed", "9"]) == 1
    assert "exists" in capsys.readouterr().err and digest(out) == before
    # protecting the outputs into their own folder would need <stem>_mspd_mspd.png: allowed, inputs untouched
    assert cli.main(["protect", str(out), "--out", str(out), "--n-samples", "2"]) == 0
    assert {k: v for k, v in digest(out).items() if k in before} == before


@pytest.mark.parametrize("argv, message", [
    (["protect", "x.png", "--out", "o", "--zoo", "imagenet-hub"], "invalid choice"),
    (["protect", "x.png", "--out", "o", "--eps", "two"], "eps must be"),
    (["protect", "x.png", "--out", "o", "--eps", "300/255"], "eps must be in"),
])
def test_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert message in capsys.readouterr().err


def test_a_random_weight_zoo_says_so():
    from mspd_core.cli import random_weights_banner
    from mspd_core.zoo.registry import paper_zoo, zoo_for

    assert "RANDOM WEIGHTS" in random_weights_banner(paper_zoo(dry=True))
    assert random_weights_banner(paper_zoo()) is None and random_weights_banner(zoo_for("embedded")) is None
