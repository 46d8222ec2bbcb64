"""`ops-pipelines status`: the latest (or a given day's) health report, exit 1 when there is none."""

import pytest

from ops_pipelines.cli import main
from ops_pipelines.lib.platform.health_report import write_report
from tests.lib.platform.test_health_report import make_inputs


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("OPS_PIPELINES_HOME", str(tmp_path))
    return tmp_path


def test_status_without_reports_exits_1_with_a_message(home, capsys):
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert "no ops health report" in err and str(home / "reports") in err


def test_status_prints_the_latest_day_or_the_asked_one(home, capsys):
    for day in ("2026-03-04", "2026-03-02"):
        write_report(home / "reports", make_inputs(day=day))
    assert main(["status"]) == 0
    assert capsys.readouterr().out.startswith("# Ops health report 2026-03-04\n")
    assert main(["status", "--day", "2026-03-02"]) == 0
    assert capsys.readouterr().out == (home / "reports" / "ops_health_2026-03-02.md").read_text()
    assert main(["status", "--day", "2026-03-02", "--html"]) == 0
    assert capsys.readouterr().out.strip() == str(home / "reports" / "ops_health_2026-03-02.html")
    assert main(["status", "--day", "2026-03-03"]) == 1


def test_status_rejects_a_malformed_day(home):
    with pytest.raises(SystemExit):
        main(["status", "--day", "03/04/2026"])
