"""The Dagster UI in a real browser (Debian's chromium via playwright) over a demo instance.

One module-scoped setup over the session's shared demo (tests/small_demo.py: DEMO_DAYS simulated days in a
temp data dir): one `dagster-webserver` serves its instance on a free loopback port, one browser drives it. Screenshots go to
`$OPS_TEST_ARTIFACTS` or a pytest temp folder, never into the repository. Adding a page check
is one more test function using `open_ui`.

Both the demo and the webserver read a one-model models file (MODEL with a WINDOW_DAYS-day training
window): the retraining sensor bootstraps the model's first champion on day
WINDOW_DAYS, and the days after it compute drift against that champion, all within DEMO_DAYS.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.small_demo import BIN, BOOTSTRAP_DAY, DAYS, LAST_DAY, MODEL

CHROMIUM = Path("/usr/bin/chromium")
# CI must run it: there a missing browser fails instead of skipping.
pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                               "(apt-get install -y chromium); never `playwright install`")

# From PITFALLS.md: no sandbox as root, and nothing that reaches for the network on its own.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
MLOPS_ASSETS = ["drift_report", "training_dataset", "candidate_model", "model_evaluation"]
GROUPS = ["aiops", "llmops", "mlops", "platform"]
WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"  # the location is named as the project names it
LOCATION = "ops_pipelines"
UI_TIMEOUT_MS = 90_000  # a loaded 2-core machine can take this long to render a page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(base: str, proc: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/server_info", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"dagster-webserver did not answer /server_info in {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        body = json.load(resp)
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ["OPS_TEST_ARTIFACTS"]) if os.environ.get("OPS_TEST_ARTIFACTS") else tmp_path_factory.mktemp("ui_screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def demo(small_demo):
    """The shared demo's data dir (tests/small_demo.py) and a webserver over its instance.

    The webserver starts after the demo: the demo resets the instance's run history when it starts, and a
    webserver creating its tables meanwhile fails with "attempt to write a readonly database".
    """
    base = f"http://127.0.0.1:{free_port()}"
    log = small_demo.root / "webserver.log"
    with open(log, "w") as out:
        web = subprocess.Popen([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", base.rsplit(":", 1)[1],
                                "-w", str(WORKSPACE)], cwd=small_demo.home, env=small_demo.env, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)  # its own process group: the code server it spawns stops with it
    try:
        wait_for_server(base, web, log)
        location = graphql(base, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
        yield SimpleNamespace(base=base, home=small_demo.home, storage=small_demo.storage, reports=small_demo.reports,
                              output=small_demo.output, location=location["workspaceOrError"]["locationEntries"][0]["name"])
    finally:
        if web.poll() is None:
            os.killpg(web.pid, signal.SIGTERM)
            try:
                web.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
                web.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def ui(browser, demo):
    """One page on the webserver; the first-visit "Join the Dagster community" modal never shows."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(demo.base)
    # The instance the CLI writes turns the welcome modal off (`nux: enabled: false`): nobody has to dismiss it.
    assert graphql(demo.base, "{ shouldShowNux }")["shouldShowNux"] is False
    page.demo = demo
    yield page
    page.close()


def open_ui(page, path: str, ready_text: str):
    """Navigate within the UI and wait until `ready_text` is on screen."""
    page.goto(page.demo.base + path)
    page.get_by_text(ready_text, exact=False).first.wait_for()
    return page


def test_asset_graph_shows_the_four_groups_and_the_edges_between_them(ui, artifacts):
    open_ui(ui, "/asset-groups", "Global asset lineage")
    graph = ui.locator("svg:has(foreignObject)").first  # the lineage canvas: one node per group, edges between them
    for group in GROUPS:
        graph.locator("foreignObject", has_text=group).first.wait_for()
    nodes = graph.locator("foreignObject").all_text_contents()
    assert sorted(n for n in nodes for g in GROUPS if n.startswith(g)) == sorted(n for n in nodes)  # only the domain groups
    # The canvas draws the edges after the nodes (a loaded machine showed none yet): wait for the third.
    graph.locator("path[marker-end]").nth(2).wait_for(state="attached")
    assert graph.locator("path[marker-end]").count() >= 3  # llmops -> aiops, aiops -> platform, llmops -> platform ...
    ui.screenshot(path=str(artifacts / "global_lineage.png"))
    # The same edges, asset by asset, from the GraphQL API the page itself uses.
    nodes = graphql(ui.demo.base, "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }")["assetNodes"]
    group = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
    edges = {("/".join(d["path"]), "/".join(n["assetKey"]["path"])) for n in nodes for d in n["dependencyKeys"]}
    assert ("llm_kpi_series", "metric_anomalies") in edges
    assert ("incidents", "ops_health_report") in edges and ("llm_quality_daily", "ops_health_report") in edges
    crossing = {(group[a], group[b]) for a, b in edges if group.get(a) != group.get(b)}
    assert {("llmops", "aiops"), ("aiops", "platform"), ("llmops", "platform")} <= crossing


def test_incidents_asset_shows_root_cause_and_suggested_action(ui, artifacts):
    stored = pd.read_parquet(ui.demo.storage / "incidents" / f"{LAST_DAY}.parquet")
    assert len(stored), "the demo's last day should have an incident"
    open_ui(ui, "/assets/incidents", "incidents_table")
    ui.get_by_text(LAST_DAY).first.wait_for()  # the latest materialization is the last day's
    table = ui.locator("table", has_text="incidents_table").first
    # The UI renders Markdown values after the table itself (a lazily loaded renderer): wait for them.
    table.get_by_text("suggested action").first.wait_for()
    text = table.inner_text()
    for row in stored.itertuples():
        assert row.root_cause in text and row.suggested_action[:60] in text
    assert "root cause" in text and "suggested action" in text
    ui.screenshot(path=str(artifacts / "incidents_asset.png"), full_page=True)


def test_health_report_asset_shows_its_markdown(ui, artifacts):
    markdown = (ui.demo.reports / f"ops_health_{LAST_DAY}.md").read_text()
    open_ui(ui, "/assets/ops_health_report", "html_path")
    ui.get_by_text("Show Markdown").first.click()
    dialog = ui.get_by_role("dialog")
    dialog.get_by_text(f"Ops health report {LAST_DAY}").wait_for()
    text = dialog.inner_text()
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert len(headings) >= 5 and all(h in text for h in headings)
    # The MLOps section: the model's row, cell by cell, and the decision its bootstrap evaluation stored
    # (its bias section has a row for the model too: only the drift/retraining section's is read here).
    section = markdown.split("## Models: drift, retraining, champions", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith(f"| {MODEL} |")]
    assert len(rows) == 1, markdown
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert all(cell in text for cell in cells), (cells, text)
    evaluation = pd.read_parquet(ui.demo.storage / "model_evaluation" / f"{BOOTSTRAP_DAY}|{MODEL}.parquet")
    assert evaluation["decision"].iloc[-1] in rows[0] and BOOTSTRAP_DAY in rows[0]
    ui.screenshot(path=str(artifacts / "health_report_markdown.png"))
    dialog.get_by_role("button", name="Close").click()


def test_html_report_opens_offline_with_its_plots(browser, demo, artifacts):
    report = demo.reports / f"ops_health_{LAST_DAY}.html"
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    try:
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        assert len(sizes) == report.read_text().count("<img ") >= 3
        assert all(done and width > 0 and height > 0 for done, width, height in sizes), sizes
        assert page.get_by_role("heading", name=f"Ops health report {LAST_DAY}").is_visible()
        assert all(url.startswith(("file:", "data:")) for url in requested), requested
        page.screenshot(path=str(artifacts / "health_report_html.png"), full_page=True)
    finally:
        context.close()


def retraining_runs(base: str) -> list[dict]:
    query = '{ runsOrError(filter: {pipelineName: "retraining_job"}) { ... on Runs { results { runId status tags { key value } } } } }'
    runs = graphql(base, query)["runsOrError"]["results"]
    return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in runs]


def test_demo_bootstraps_the_model_through_the_retraining_sensor(demo):
    runs = retraining_runs(demo.base)
    assert len(runs) == 1, runs  # the bootstrap; no later day drifted enough to ask for another
    run, tags = runs[0], runs[0]["tags"]
    assert run["status"] == "SUCCESS", run
    assert tags["dagster/sensor_name"] == "retraining_sensor"
    assert (tags["dagster/partition/date"], tags["dagster/partition/model"]) == (BOOTSTRAP_DAY, MODEL)
    # What the demo printed: the bootstrap day's progress line names the retraining, and the models
    # summary has the model's line with the evaluation decision the run stored.
    day_line = next(line for line in demo.output.splitlines() if f" {BOOTSTRAP_DAY} " in line and line.startswith("day "))
    assert "retraining:" in day_line and MODEL in day_line and run["status"].lower() in day_line, day_line
    evaluation = pd.read_parquet(demo.storage / "model_evaluation" / f"{BOOTSTRAP_DAY}|{MODEL}.parquet").iloc[-1]
    models = demo.output.split("\nModels", 1)[1].split("\n\n", 1)[0]
    assert f"  {MODEL} " in models and f"{BOOTSTRAP_DAY}: v{evaluation.candidate_version} {evaluation.decision}" in models, models
    assert "ctr_gbdt" not in demo.output and "incident_risk" not in models  # only the fixture's models file was read


def test_retraining_sensor_shows_the_tick_that_launched_a_run(ui, artifacts):
    (run,) = retraining_runs(ui.demo.base)
    open_ui(ui, "/automation", "retraining_sensor")
    ui.locator("a", has_text="retraining_sensor").first.click()  # Automation -> the sensor's page
    ui.get_by_text("Latest tick").first.wait_for()
    assert ui.url.endswith("/sensors/retraining_sensor")
    # The tick list: the one tick with a run request links the run (short id) and shows it succeeded.
    requested = ui.locator("tr", has=ui.locator(f'a[href="/runs/{run["runId"]}"]'))
    requested.first.wait_for()
    assert requested.count() == 1
    row = requested.first.inner_text()
    assert "1 run requested" in row and run["runId"][:8] in row, row
    assert requested.first.get_by_role("img", name="run_success").count() == 1
    # Every other tick requested nothing (the drift reports before the bootstrap day and after it).
    assert ui.locator("tr", has_text="1 run requested").count() == 1 and ui.locator("tr", has_text="0 runs requested").count() >= 1
    requested.first.scroll_into_view_if_needed()  # the tick table scrolls inside the page: full_page would miss it
    ui.screenshot(path=str(artifacts / "retraining_sensor_ticks.png"))
    # The same tick from the GraphQL API: one tick launched this run, every other one skipped.
    selector = f'{{repositoryLocationName: "{ui.demo.location}", repositoryName: "__repository__", sensorName: "retraining_sensor"}}'
    state = graphql(ui.demo.base, f"{{ sensorOrError(sensorSelector: {selector}) {{ ... on Sensor {{ sensorState {{ "
                                  "ticks(limit: 500) { status runIds } } } } }")["sensorOrError"]["sensorState"]
    launching = [t for t in state["ticks"] if t["runIds"]]
    assert launching == [{"status": "SUCCESS", "runIds": [run["runId"]]}]
    # The daemon keeps ticking while the UI is up: the newest tick may still be in progress.
    ticks = state["ticks"][1:] if state["ticks"][0]["status"] == "STARTED" else state["ticks"]
    assert {t["status"] for t in ticks} - {"SUCCESS"} <= {"SKIPPED"}


def test_asset_graph_shows_the_mlops_assets_and_drift_report_its_summary(ui, artifacts):
    open_ui(ui, f"/locations/{ui.demo.location}/asset-groups/mlops", "mlops")
    graph = ui.locator("svg:has(foreignObject)").first
    for asset in MLOPS_ASSETS:
        graph.locator("foreignObject", has_text=asset).first.wait_for()
    ui.screenshot(path=str(artifacts / "mlops_asset_graph.png"))
    nodes = graphql(ui.demo.base, "{ assetNodes { assetKey { path } dependencyKeys { path } } }")["assetNodes"]
    edges = {("/".join(d["path"]), "/".join(n["assetKey"]["path"])) for n in nodes for d in n["dependencyKeys"]}
    assert {("training_dataset", "candidate_model"), ("candidate_model", "model_evaluation"),
            ("drift_report", "ops_health_report")} <= edges

    stored = pd.read_parquet(ui.demo.storage / "drift_report" / f"{LAST_DAY}.parquet").set_index("model").loc[MODEL]
    open_ui(ui, "/assets/drift_report", "summary")
    ui.get_by_text(LAST_DAY).first.wait_for()  # the latest materialization is the last day's
    summary = ui.locator("tr", has=ui.get_by_text("summary", exact=True)).first
    cells = summary.locator("tr", has_text=MODEL).first.locator("td").all_inner_texts()
    assert cells[0] == MODEL and f"v{int(stored.champion_version)}" in cells, cells
    assert f"{stored.performance:.3f}" in cells and ("yes" if stored.dataset_drift else "no") in cells, cells
    columns = ui.locator("tr", has=ui.get_by_text(f"{MODEL}/columns", exact=True)).first.inner_text()
    assert all(column in columns for column in json.loads(stored["columns"])), columns
    summary.scroll_into_view_if_needed()
    ui.screenshot(path=str(artifacts / "drift_report_asset.png"))


def test_partitions_are_the_demo_days_and_each_daily_asset_shows_its_freshness_check(ui, artifacts):
    assert ui.demo.location == LOCATION
    node = graphql(ui.demo.base, '{ assetNodeOrError(assetKey: {path: ["ops_health_report"]}) { ... on AssetNode { '
                                 'partitionKeys assetChecksOrError { ... on AssetChecks { checks { name } } } } } }')
    node = node["assetNodeOrError"]
    assert node["partitionKeys"] == DAYS  # where the data is, not years of empty partitions
    assert "freshness_check" in {c["name"] for c in node["assetChecksOrError"]["checks"]}
    open_ui(ui, "/assets/ops_health_report?view=checks", "freshness_check")
    ui.screenshot(path=str(artifacts / "health_report_freshness_check.png"))
