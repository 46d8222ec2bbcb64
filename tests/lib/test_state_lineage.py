"""Carried-state lineage: which later days a re-run of an earlier day made stale, and which it did not."""

from pathlib import Path

from ops_pipelines.lib.state_lineage import carried, day_reason, stale_days, write_lineage

D1, D2, D3, D4 = "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"


def put(root: Path, folder: str, day: str, content: bytes, carry: dict[str, Path | None], since: str | None = None,
        suffix: str = ".zip") -> Path:
    """Write a day's state file the way an asset does (state first, then what it continued from)."""
    path = root / folder / f"{day}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    write_lineage(root, folder, day, [carried(f, p, since) for f, p in carry.items()])
    return path


def chain(root: Path, folder: str = "det") -> list[Path]:
    """Three days, each continuing from the day before (the first from a cold start)."""
    first = put(root, folder, D1, b"s1", {folder: None})
    second = put(root, folder, D2, b"s2", {folder: first})
    return [first, second, put(root, folder, D3, b"s3", {folder: second})]


def test_a_chain_computed_in_order_is_current(tmp_path):
    chain(tmp_path)
    assert stale_days(tmp_path, ["det"]) == {}


def test_rerunning_a_day_with_the_same_result_leaves_later_days_current(tmp_path):
    first, _, _ = chain(tmp_path)
    put(tmp_path, "det", D1, b"s1", {"det": None})  # same input, same bytes (state files are deterministic)
    assert stale_days(tmp_path, ["det"]) == {}


def test_rerunning_a_day_with_another_result_makes_every_later_day_stale(tmp_path):
    chain(tmp_path)
    put(tmp_path, "det", D1, b"s1-corrected", {"det": None})
    stale = stale_days(tmp_path, ["det"])["det"]
    assert list(stale) == [D2, D3]
    assert stale[D2] == f"it continued from det {D1}, which was recomputed since"
    assert stale[D3] == f"it continued from det {D2}, which is stale"
    assert stale_days(tmp_path, ["det"], after=D2) == {"det": {D3: stale[D3]}}
    assert day_reason(tmp_path, "det", D1) == ""  # the re-run day itself is current

    # Re-running day 2 on the new state: day 2 is current again; day 3 only if day 2 came out the same.
    put(tmp_path, "det", D2, b"s2", {"det": tmp_path / "det" / f"{D1}.zip"})
    assert stale_days(tmp_path, ["det"]) == {}
    put(tmp_path, "det", D2, b"s2-new", {"det": tmp_path / "det" / f"{D1}.zip"})
    assert list(stale_days(tmp_path, ["det"])["det"]) == [D3]


def test_a_gap_filled_later_makes_the_days_after_it_stale(tmp_path):
    first = put(tmp_path, "det", D1, b"s1", {"det": None})
    put(tmp_path, "det", D3, b"s3", {"det": first})  # day 2 had not run: day 3 continued from day 1
    assert stale_days(tmp_path, ["det"]) == {}
    put(tmp_path, "det", D2, b"s2", {"det": first})
    assert stale_days(tmp_path, ["det"]) == {"det": {D3: "det now has state for 2026-03-03, which it did not continue from"}}
    # A history run before a cold-started first day: the first day is stale too.
    put(tmp_path, "det", "2026-03-01", b"s0", {"det": None})
    assert list(stale_days(tmp_path, ["det"])["det"]) == [D1, D2, D3]


def test_state_carried_across_folders_goes_stale_with_its_source(tmp_path):
    templates = chain(tmp_path, "templates")
    put(tmp_path, "alerts", D2, b"a2", {"alerts": None, "templates": templates[0]})
    put(tmp_path, "alerts", D3, b"a3", {"alerts": tmp_path / "alerts" / f"{D2}.zip", "templates": templates[1]})
    assert stale_days(tmp_path, ["alerts", "templates"]) == {}
    put(tmp_path, "templates", D2, b"t2-changed", {"templates": templates[0]})
    stale = stale_days(tmp_path, ["alerts", "templates"])
    assert stale == {"templates": {D3: f"it continued from templates {D2}, which was recomputed since"},
                     "alerts": {D3: f"it continued from templates {D2}, which was recomputed since"}}


def test_exact_yesterday_semantics_only_watch_the_day_before(tmp_path):
    # drift_report continues from yesterday's record only: an older day is no reason to be stale.
    put(tmp_path, "drift", D1, b"{}", {"drift": None}, since="2026-02-28", suffix=".json")
    put(tmp_path, "drift", D3, b"{}", {"drift": None}, since=D1, suffix=".json")  # no day 2 yet
    assert stale_days(tmp_path, ["drift"]) == {}
    put(tmp_path, "drift", D2, b"{}", {"drift": tmp_path / "drift" / f"{D1}.json"}, since=D1, suffix=".json")
    assert list(stale_days(tmp_path, ["drift"])["drift"]) == [D3]


def test_a_carried_state_that_is_gone_makes_the_day_stale_and_unfinished_writes_are_ignored(tmp_path):
    first, second, _ = chain(tmp_path)
    (tmp_path / "det" / f".{D4}.zip.abc.tmp").write_bytes(b"half")  # a write killed before its rename
    assert stale_days(tmp_path, ["det"]) == {}
    second.unlink()
    assert stale_days(tmp_path, ["det"]) == {"det": {D3: f"the det state of {D2} it continued from is gone"}}


def test_state_written_before_lineage_existed_counts_as_current(tmp_path):
    (tmp_path / "det").mkdir()
    for day in (D1, D2):
        (tmp_path / "det" / f"{day}.zip").write_bytes(day.encode())
    assert stale_days(tmp_path, ["det"]) == {}
