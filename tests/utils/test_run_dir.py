from datetime import datetime
from pathlib import Path

import pytest

from drift.utils import run_dir
from drift.utils.run_dir import claim_run_dir, discard_unstarted_run_dir, path_component


class _FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
        return cls(2030, 1, 2, 3, 4, 5, 678)


def test_runs_claimed_at_the_same_instant_get_their_own_directories(tmp_path, monkeypatch):
    monkeypatch.setattr(run_dir, "datetime", _FrozenClock)
    first = Path(claim_run_dir(str(tmp_path / "runs"), "demo"))
    second = Path(claim_run_dir(str(tmp_path / "runs"), "demo"))
    assert first.name == "2030-01-02_03-04-05-000678_demo"
    assert second.name == "2030-01-02_03-04-05-000678-1_demo"
    assert first.is_dir() and second.is_dir()


@pytest.mark.parametrize("name", ["../../../x", "/etc", "a/../../b", "..\\x"])
def test_a_hostile_name_stays_one_component_under_the_parent(tmp_path, name):
    made = Path(claim_run_dir(str(tmp_path / "runs"), name))
    assert made.parent == tmp_path / "runs"
    assert path_component(name) in made.name and "/" not in made.name


def test_override_dirnames_keep_their_usual_characters():
    assert path_component("method.beta=0.05,seed=1,+x=a-b") == "method.beta=0.05,seed=1,+x=a-b"
    assert path_component("name=../../x") == "name=.._.._x"


def _hydra_files(run: Path) -> None:
    (run / ".hydra").mkdir(parents=True)
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        (run / ".hydra" / name).write_text("{}\n")
    (run / "cli.log").write_text("config error\n")


def test_a_run_dir_with_only_hydra_files_is_discarded(tmp_path):
    run = tmp_path / "run"
    _hydra_files(run)
    assert discard_unstarted_run_dir(run, "cli")
    assert not run.exists()


@pytest.mark.parametrize("extra", ["results.json", ".hydra/notes.txt", "other.log"])
def test_a_run_dir_with_anything_else_is_kept(tmp_path, extra):
    run = tmp_path / "run"
    _hydra_files(run)
    (run / extra).write_text("keep me\n")
    assert not discard_unstarted_run_dir(run, "cli")
    assert (run / extra).read_text() == "keep me\n"
    assert (run / ".hydra" / "config.yaml").exists() and (run / "cli.log").exists()


def test_a_run_directory_that_cannot_be_made_ends_the_run_with_one_line(tmp_path, capsys):
    """Hydra resolves the run directory while it composes; an OSError there (read-only, full
    or, here, a file in the way) exits with a line naming the path, not a Hydra traceback."""
    blocker = tmp_path / "outputs"
    blocker.write_text("a file, not a directory")
    with pytest.raises(SystemExit) as exit_info:
        claim_run_dir(str(blocker / "runs"), "demo")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot create the run directory: ") and str(blocker) in err
