"""`python -m ops_pipelines.cli ...`: the same as the `ops-pipelines` command."""

from ops_pipelines.cli import run

run()
