"""Where `detect` writes: mirrored input paths, never two inputs onto one file, never silently over old output."""

import os
from pathlib import Path

import pytest

from ops_pipelines.lib.aiops.detect_paths import UsageError, plan_outputs


def touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("timestamp,value\n")


def targets(jobs, out: Path) -> dict[str, str]:
    return {str(j.source): j.target.relative_to(out.resolve()).as_posix() for j in jobs}


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    touch(Path("nab/data/realTraffic/speed.csv"), Path("nab/data/realTweets/aapl.csv"),
          Path("a/cpu.csv"), Path("b/cpu.csv"), Path("a/mem.csv"))
    return tmp_path


def test_one_folder_keeps_its_own_tree(tree):
    jobs = plan_outputs(["nab/data"], "out")
    assert targets(jobs, tree / "out") == {"nab/data/realTraffic/speed.csv": "realTraffic/speed.csv",
                                           "nab/data/realTweets/aapl.csv": "realTweets/aapl.csv"}


def test_one_file_or_files_of_one_folder_go_to_the_top(tree):
    assert targets(plan_outputs(["a/cpu.csv"], "out"), tree / "out") == {"a/cpu.csv": "cpu.csv"}
    assert targets(plan_outputs(["a/cpu.csv", "a/mem.csv"], "out"), tree / "out") == {
        "a/cpu.csv": "cpu.csv", "a/mem.csv": "mem.csv"}


def test_several_inputs_mirror_their_paths_below_the_common_parent(tree):
    assert targets(plan_outputs(["a/cpu.csv", "b/cpu.csv"], "out"), tree / "out") == {
        "a/cpu.csv": "a/cpu.csv", "b/cpu.csv": "b/cpu.csv"}
    jobs = plan_outputs(["nab/data/realTraffic", "nab/data/realTweets", "a/cpu.csv"], "out")
    assert targets(jobs, tree / "out") == {"nab/data/realTraffic/speed.csv": "nab/data/realTraffic/speed.csv",
                                           "nab/data/realTweets/aapl.csv": "nab/data/realTweets/aapl.csv",
                                           "a/cpu.csv": "a/cpu.csv"}


def test_the_same_file_named_twice_is_scored_once(tree):
    jobs = plan_outputs(["a", "a/cpu.csv", "./a/cpu.csv"], "out")
    assert sorted(j.target.name for j in jobs) == ["cpu.csv", "mem.csv"]


def test_two_inputs_onto_one_output_are_refused_naming_both(tree):
    Path("out/b").mkdir(parents=True)
    os.symlink(tree / "out" / "b", tree / "out" / "a")  # out/a/cpu.csv is out/b/cpu.csv
    with pytest.raises(UsageError, match=r"a/cpu.csv and b/cpu.csv would both be written to .*out/b/cpu.csv"):
        plan_outputs(["a/cpu.csv", "b/cpu.csv"], "out", overwrite=True)


def test_existing_outputs_are_refused_unless_overwrite(tree):
    touch(Path("out/b/cpu.csv"))
    with pytest.raises(UsageError, match=r"1 output file\(s\) exist already, first .*out/b/cpu.csv; pass --overwrite"):
        plan_outputs(["a/cpu.csv", "b/cpu.csv"], "out")
    assert len(plan_outputs(["a/cpu.csv", "b/cpu.csv"], "out", overwrite=True)) == 2


def test_an_output_over_its_own_input_is_refused_even_with_overwrite(tree):
    with pytest.raises(UsageError, match="is an input file"):
        plan_outputs(["a/cpu.csv"], "a", overwrite=True)


def test_an_output_folder_inside_the_input_folder_is_not_read_back(tree):
    touch(Path("a/scored/cpu.csv"))  # a previous run's output
    jobs = plan_outputs(["a"], "a/scored", overwrite=True)
    assert sorted(str(j.source) for j in jobs) == ["a/cpu.csv", "a/mem.csv"]


@pytest.mark.parametrize("inputs, output, message", [
    (["nope.csv", "a/cpu.csv"], "out", "no such file or folder: nope.csv"),
    (["a/cpu.csv"], "a/mem.csv", "is a file, not a folder"),
    ([], "out", "no input given"),
])
def test_usage_errors(tree, inputs, output, message):
    Path("empty").mkdir()
    with pytest.raises(UsageError, match=message):
        plan_outputs(inputs, output)
    with pytest.raises(UsageError, match="empty: no .csv files"):
        plan_outputs(["empty"], "out")
