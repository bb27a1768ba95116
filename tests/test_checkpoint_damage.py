"""A RobustBench checkpoint that is there but damaged gets its own message and what to do (issue 37, item 3)."""
from __future__ import annotations

import pytest
import torch

from mspd_core.zoo import registry

NAME = "Wong2020Fast"  # a small PreActResNet-18: cheap to build
DELETE = "RobustBench never re-downloads a file that exists"


@pytest.fixture
def checkpoint(tmp_path):
    path = registry.robustbench_checkpoint(NAME, tmp_path)
    path.parent.mkdir(parents=True)
    return path


def _state():
    torch.manual_seed(0)
    return registry.robustbench_architecture(NAME).state_dict()


def _message(tmp_path) -> str:
    with pytest.raises(registry.ModelUnavailableError) as err:
        registry.load_robustbench(NAME, model_dir=tmp_path)
    return str(err.value)


class _Pickled:  # not a tensor: weights_only=True refuses it
    pass


@pytest.mark.parametrize("kind, write, expected", [
    ("empty", lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    ("html", lambda p: p.write_text("<!DOCTYPE html><html><title>Google Drive - Virus scan warning</title>"),
     "is an HTML page, not a checkpoint"),
    ("truncated", lambda p: (torch.save({"state_dict": _state()}, p), p.write_bytes(p.read_bytes()[:100_000])),
     "is truncated or corrupt"),
    ("pickled", lambda p: torch.save({"state_dict": _state(), "extra": _Pickled()}, p),
     "refused by torch.load(weights_only=True)"),
])
def test_each_damaged_file_kind_gets_its_own_message_and_the_fix(tmp_path, checkpoint, kind, write, expected):
    write(checkpoint)
    text = _message(tmp_path)
    assert expected in text and str(checkpoint) in text and DELETE in text and "robustbench.utils.load_model" in text
    assert "could not be downloaded" not in text  # the file is there: not reported as missing


def test_another_models_weights_are_named_as_such(tmp_path, checkpoint):
    torch.save({"state_dict": {k: v[:1] if v.ndim else v for k, v in _state().items()}}, checkpoint)
    assert "do not fit its architecture" in _message(tmp_path)


def test_a_missing_file_is_named_and_not_called_damaged(tmp_path, checkpoint, monkeypatch):
    from mspd_core._compat import import_robustbench

    import_robustbench()  # RobustBench imports "autoattack": the project's shim maps it to pyautoattack
    import robustbench.utils

    def offline(**kwargs):
        raise ConnectionError("no network (simulated)")
    monkeypatch.setattr(robustbench.utils, "load_model", offline)
    text = _message(tmp_path)
    assert f"not at {checkpoint}" in text and "could not be downloaded" in text and DELETE not in text


def test_a_sound_checkpoint_has_no_problem_and_loads(tmp_path, checkpoint):
    torch.save({"state_dict": _state()}, checkpoint)
    assert registry.checkpoint_problem(checkpoint) is None
    assert registry.load_robustbench(NAME, model_dir=tmp_path)(torch.rand(1, 3, 32, 32)).shape == (1, 10)


def test_the_preflight_reports_every_unloadable_model_at_once(tmp_path, monkeypatch):
    """Before the first chapter: a damaged and a missing model are both reported, each by name, in one list."""
    from mspd_core._compat import import_robustbench

    import_robustbench()  # RobustBench imports "autoattack": the project's shim maps it to pyautoattack
    import robustbench.utils

    monkeypatch.setenv(registry.ROBUSTBENCH_ENV, str(tmp_path))
    monkeypatch.setattr(robustbench.utils, "load_model", lambda **kw: (_ for _ in ()).throw(ConnectionError("offline")))
    damaged = registry.robustbench_checkpoint(NAME, tmp_path)
    damaged.parent.mkdir(parents=True)
    damaged.write_text("<html>quota exceeded</html>")
    zoo = registry.Zoo(NAME, NAME, ("Addepalli2022Efficient_RN18",), (NAME,), "robustbench")
    problems = registry.preflight(zoo)
    assert len(problems) == 2
    assert problems[0].startswith(f"{NAME}: ") and "HTML page" in problems[0]
    assert problems[1].startswith("Addepalli2022Efficient_RN18: ") and "could not be downloaded" in problems[1]


def test_the_embedded_zoo_passes_its_preflight():
    assert registry.preflight(registry.zoo_for("embedded")) == []


def test_a_key_computed_before_a_download_equals_the_key_after_it(tmp_path, monkeypatch):
    """No cache key names a model instead of its weights: without a local file the model is loaded first (here a
    simulated RobustBench download that writes the file), and the key is the file's SHA-256 either way."""
    monkeypatch.setenv(registry.ROBUSTBENCH_ENV, str(tmp_path))
    path = registry.robustbench_checkpoint(NAME, tmp_path)
    state = _state()

    def download(name, device="cpu"):
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": state}, path)
        return registry.robustbench_architecture(name)
    monkeypatch.setattr(registry, "load_cached", download)
    before = registry.weights_fingerprint(NAME)
    assert before == registry.weights_fingerprint(NAME) == registry.sha256_of(path)
    assert not before.startswith(("robustbench:", "state:"))


def test_weights_without_a_file_here_are_keyed_by_their_tensors(tmp_path, monkeypatch):
    """timm's hub cache: no file in the RobustBench folder after loading; the key is the weights' own SHA-256."""
    monkeypatch.setenv(registry.ROBUSTBENCH_ENV, str(tmp_path))
    a, b = registry.robustbench_architecture(NAME), registry.robustbench_architecture(NAME)
    b.load_state_dict(a.state_dict())
    monkeypatch.setattr(registry, "load_cached", lambda name, device="cpu": a)
    key = registry.weights_fingerprint(NAME)
    assert key == "state:" + registry.state_sha256(b)
    with torch.no_grad():
        next(b.parameters()).add_(1e-3)
    assert key != "state:" + registry.state_sha256(b)


def test_a_checkpoint_that_changes_under_the_same_name_is_warned_about(tmp_path, checkpoint, monkeypatch):
    monkeypatch.setenv("MSPD_CACHE", str(tmp_path / "cache"))
    torch.save({"state_dict": _state()}, checkpoint)
    registry.load_robustbench(NAME, model_dir=tmp_path)
    registry.load_robustbench(NAME, model_dir=tmp_path)  # the same file: silent
    other = {k: v + 1 if v.is_floating_point() else v for k, v in _state().items()}
    torch.save({"state_dict": other}, checkpoint)
    with pytest.warns(RuntimeWarning, match="other weights under the same name"):
        registry.load_robustbench(NAME, model_dir=tmp_path)
