"""The daily graph over a range of days on the instance: `ops-pipelines run` and the demo share it.

Each day's `daily_job` run (all of it, or an asset selection of it) is submitted to the instance's queue,
as the nightly schedule and the UI submit runs, and a Dagster daemon dequeues it and ticks the sensors
(retraining included). Days run one after another, oldest first: the detectors carry their state from
each day into the next. When the range re-runs days that later days continued from, and the carried
state came out different, those later days are stale: they are re-run after the range, in order.
What a day sets off that no later day reads (its HTML pages) or that only the next day's drift_report
reads (retraining) runs beside the next day instead of before it (docs/platform.md, "What a day waits for").
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ops_pipelines import keys

DAILY_JOB = "daily_job"
RETRAINING_JOB = "retraining_job"
RETRAINING_SENSOR = "retraining_sensor"
RUN_TIMEOUT_S = 600
# Assets that continue each day from state of an earlier day (state-store folder = asset name).
CARRIED_STATE = ("log_templates", "log_anomalies", "metric_anomalies", "incidents", "drift_report")
# Evidently's HTML pages: read by no other asset and no later day. A whole-job range runs each day's pages as a
# run of their own beside the next day's run (on the second core), off the path the days and retraining wait on.
PAGE_ASSETS = ("drift_report_html", "llm_traffic_drift_html")


@dataclass(frozen=True)
class DayOutcome:
    """How one day's run ended, as the instance recorded it."""

    day: str
    run_id: str
    status: str  # SUCCESS, FAILURE or CANCELED
    seconds: float
    retraining: str = ""  # the retraining runs the sensor launched for the day, if any
    error: str = ""  # the first failed step and its error, for a day that did not succeed
    stale: str = ""  # for a later day re-run after the range: why its carried state was stale
    retries: int = 0  # automatic retries it took (a crashed run worker, an unreachable instance database)
    retraining_runs: tuple[str, ...] = ()  # launched by the sensor after the day's run, awaited at the end


def day_range(first: dt.date, last: dt.date) -> list[str]:
    """Every day from `first` to `last`, both included, as partition keys."""
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def run_days(instance, days: list[str], env: dict[str, str], logs: Path, out: TextIO, trigger: str,
             done: list[DayOutcome] | None = None, assets: list[str] | None = None, run_config: dict | None = None,
             state_root: Path | None = None) -> list[DayOutcome]:
    """Run `daily_job` (only `assets` of it when given, with `run_config`) for each day in order with a daemon
    of our own; print one progress line a day.

    A day that fails does not stop the rest (its error is in its outcome). `trigger` is the `ops/trigger`
    tag the runs carry, so the UI shows who started them. With `state_root`, later days whose carried state
    these runs replaced are re-run afterwards, oldest first (skipped once a re-run leaves them current).
    Outcomes are appended to `done` as days finish, so a caller still has them if a later day raises.
    """
    import dagster as dg

    from ops_pipelines import runner

    # Create the SQLite schemas here, before the daemon and the CLI open them at the same time.
    instance.get_runs(limit=1)
    instance.all_instigator_state()
    instance.get_latest_materialization_event(dg.AssetKey("drift_report"))
    logs.mkdir(parents=True, exist_ok=True)
    since = dt.datetime.now(dt.UTC)
    outcomes = done if done is not None else []
    try:
        with runner.code_server(env, logs / "code-server.log") as target, runner.run_submitter(instance, target) as submit:
            daemon = runner.start_daemon(env, logs / "dagster-daemon.log", target)
            try:
                _run_all(instance, days, out, trigger, outcomes, (daemon, submit), assets, run_config, state_root)
            finally:  # before the code server: a daemon that sees it gone puts the run it was launching back in the queue
                runner.stop_process(daemon)
    except BaseException as exc:  # Ctrl-C, SIGTERM (raised as KeyboardInterrupt), an error: leave nothing running
        runner.stop_started()  # the daemon and the code server, with the run workers they started
        why = f"stopped: {type(exc).__name__}" + (f" ({exc})" if str(exc) else "")
        runner.cancel_unfinished(instance, since, why)
        raise
    return outcomes


def _run_all(instance, days: list[str], out: TextIO, trigger: str, outcomes: list[DayOutcome],
             driver: tuple, assets: list[str] | None, run_config: dict | None, state_root: Path | None) -> None:
    """The days in order, then the later days whose carried state they replaced; then the pages' runs."""
    folders = carried_folders(assets)
    bar = Progress(len(days), out)
    pages = PageRuns(driver[1], enabled=assets is None)  # the whole job: its pages apart
    assets = day_assets() if pages.enabled else assets
    try:
        for day in days:
            bar.running(f"running {day}")
            outcomes.append(run_day(instance, day, trigger, driver, assets, run_config, queued=pages.submit_pending))
            pages.after(outcomes, day_tags(trigger))
            bar.day_done(outcomes[-1])
        failed = [o.day for o in outcomes if o.status != "SUCCESS"]
        later = stale_later(state_root, folders, days[-1]) if state_root is not None and folders else {}
        if later and failed:
            bar.note(f"note: {len(later)} later day(s) ({min(later)} to {max(later)}) continued from state these runs "
                     f"replaced; not re-run because {failed[0]} failed")
            pages.submit_pending()
            await_tail(instance, outcomes, pages.runs, driver[0], bar)
            return
        if later:
            bar.note(f"note: {len(later)} later day(s) ({min(later)} to {max(later)}) continued from state these runs "
                     f"replaced ({later[min(later)]}): re-running them in order")
            bar.grow(len(later))
        for day in sorted(later):
            why = stale_later(state_root, folders, days[-1]).get(day)
            if not why:  # an earlier re-run left the state it continues from as it was
                bar.note(f"note: {day} is current again (the state it continues from came out unchanged): kept")
                continue
            bar.running(f"re-running {day}")
            outcomes.append(run_day(instance, day, trigger, driver, assets, run_config, stale=why,
                                    queued=pages.submit_pending))
            pages.after(outcomes, day_tags(trigger, why))
            bar.day_done(outcomes[-1])
        pages.submit_pending()
        bar.running("finishing the HTML pages and retraining")
        await_tail(instance, outcomes, pages.runs, driver[0], bar)
    finally:
        bar.close()


def day_assets() -> list[str]:
    """Every asset of `daily_job` but PAGE_ASSETS."""
    return sorted(a for a in _daily_job()[0] if a not in PAGE_ASSETS)


def job_checks(assets: list[str]) -> list[tuple[str, str]]:
    """The checks `daily_job` runs on `assets`, as (asset, check name): a run of a subset runs these only."""
    return [(asset, name) for asset, name in _daily_job()[1] if asset in assets]


@functools.cache
def _daily_job() -> tuple[list[str], list[tuple[str, str]]]:
    """`daily_job`'s asset keys and (asset, check name) pairs."""
    from ops_pipelines.definitions import defs
    from ops_pipelines.defs.platform.jobs import DAILY_SELECTION

    graph = defs.resolve_asset_graph()
    checks = DAILY_SELECTION.resolve_checks(graph)
    return (sorted(k.to_user_string() for k in DAILY_SELECTION.resolve(graph)),
            sorted((c.asset_key.to_user_string(), c.name) for c in checks))


class PageRuns:
    """Each day's run of PAGE_ASSETS (when `enabled`): submitted once the next day's run is in the queue, and at low
    priority, so the queue starts that day first. `runs`: the day's index in the outcomes -> its pages run."""

    def __init__(self, submit, enabled: bool):
        self.submit, self.enabled = submit, enabled
        self.pending: tuple[int, str, dict[str, str]] | None = None
        self.runs: dict[int, str] = {}

    def after(self, outcomes: list[DayOutcome], tags: dict[str, str]) -> None:
        """The newest day ended: a day that succeeded gets its pages once the next day is queued (or at the end)."""
        if self.enabled and outcomes[-1].status == "SUCCESS":
            self.pending = (len(outcomes) - 1, outcomes[-1].day, {**tags, keys.PRIORITY: "-1"})

    def submit_pending(self) -> None:
        if self.pending is None:
            return
        index, day, tags = self.pending
        self.pending = None
        # The pages need none of the run config's resources (the AIOps topology and runbooks).
        self.runs[index] = self.submit(DAILY_JOB, day, tags, assets=list(PAGE_ASSETS), checks=job_checks(list(PAGE_ASSETS)))


def await_tail(instance, outcomes: list[DayOutcome], page_runs: dict[int, str], daemon, bar: Progress) -> None:
    """Wait for the runs the days left going (HTML pages, retraining); a day whose pages failed is a failed day,
    and its outcome says why; retraining outcomes replace the 'queued' or 'started' they were launched with."""
    import dataclasses

    from ops_pipelines import runner

    for i, o in enumerate(outcomes):
        runs = [instance.get_run_by_id(runner.final_run(instance, r, RUN_TIMEOUT_S, f"the {o.day} retraining", daemon)[0])
                for r in o.retraining_runs]
        if runs:
            outcomes[i] = o = dataclasses.replace(o, retraining=retraining_note(runs))
            if any(r.status.value != "SUCCESS" for r in runs):
                bar.note(f"{o.day} retraining: {o.retraining}")
        if i not in page_runs:
            continue
        run_id, status, _ = runner.final_run(instance, page_runs[i], RUN_TIMEOUT_S, f"the {o.day} HTML pages", daemon)
        if status != "SUCCESS":
            error = f"HTML pages (run {run_id}): {runner.failure_reason(instance, run_id)}"
            outcomes[i] = dataclasses.replace(o, status=status, error=error)
            bar.note(f"{o.day} {status.lower()}: {error}")


def day_tags(trigger: str, stale: str = "") -> dict[str, str]:
    """A day's run tags: who started it and, for a later day re-run, why."""
    return {keys.TRIGGER: trigger, **({keys.RERUN_REASON: stale[:200]} if stale else {})}


def run_day(instance, day: str, trigger: str, driver: tuple, assets: list[str] | None,
            run_config: dict | None, stale: str = "", queued: Callable[[], None] | None = None) -> DayOutcome:
    """Submit one day's run (then call `queued()`, if given), wait for it and for the retraining sensor to launch
    what it sets off, and say how it ended. `driver`: the daemon process and the `runner.run_submitter` function
    that submits runs."""
    from ops_pipelines import runner

    daemon, submit = driver
    t0 = time.perf_counter()
    checks = job_checks(assets) if assets is not None else None
    run_id = submit(DAILY_JOB, day, day_tags(trigger, stale), assets=assets, run_config=run_config, checks=checks)
    if queued is not None:
        queued()
    run_id, status, retries = runner.final_run(instance, run_id, RUN_TIMEOUT_S, f"the {day} run", daemon)
    retraining = launched_retraining(instance, day, daemon)
    error = "" if status == "SUCCESS" else runner.failure_reason(instance, run_id)
    return DayOutcome(day, run_id, status, time.perf_counter() - t0, retraining_note(retraining), error, stale, retries,
                      tuple(r.run_id for r in retraining))


class Progress:
    """Days done out of the total: on a terminal a tqdm bar that redraws in place (elapsed time ticking, the day
    running now), with each finished day's line printed above it; otherwise (a log, a pipe) one plain line a day."""

    def __init__(self, total: int, out: TextIO):
        self.total, self.out, self.done = total, out, 0
        self.bar = None
        if getattr(out, "isatty", lambda: False)():
            import threading

            from tqdm import tqdm

            self.bar = tqdm(total=total, file=out, unit="day", dynamic_ncols=True, leave=False,
                            bar_format="{desc} {bar} {n_fmt}/{total_fmt} days [{elapsed}<{remaining}] {postfix}")
            self.stop = threading.Event()
            threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        while not self.stop.wait(1.0):  # elapsed time moves while a day runs, not only when one ends
            self.bar.refresh()

    def running(self, what: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(what)

    def grow(self, more: int) -> None:
        self.total += more
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def note(self, text: str) -> None:
        if self.bar is None:
            print(text, file=self.out, flush=True)
        else:
            self.bar.write(text, file=self.out)

    def day_done(self, o: DayOutcome) -> None:
        self.done += 1
        note = " (later day re-run: its carried state was stale)" if o.stale else ""
        note += f" after {o.retries} automatic retr{'y' if o.retries == 1 else 'ies'}" if o.retries else ""
        note += f"; retraining: {o.retraining}" if o.retraining else ""
        note += f"; {o.error}" if o.error else ""
        self.note(f"day {self.done:>2}/{self.total} {o.day} {o.status.lower()} in {o.seconds:.0f}s{note}")
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.stop.set()
            self.bar.close()


def carried_folders(assets: list[str] | None) -> list[str]:
    """The carried-state folders a run of `assets` (None: the whole job) writes."""
    return [a for a in CARRIED_STATE if assets is None or a in assets]


def stale_later(state_root: Path | None, folders: list[str], after: str) -> dict[str, str]:
    """Days after `after` whose carried state (in any of `folders`) is stale: day -> the first reason found."""
    from ops_pipelines.lib.state_lineage import stale_days

    found: dict[str, str] = {}
    if state_root is None:
        return found
    for folder, days in stale_days(state_root, folders, after=after).items():
        for day, why in days.items():
            found.setdefault(day, f"{folder} {day}: {why}")
    return dict(sorted(found.items()))


def resolve_selection(text: str | None) -> list[str] | None:
    """The asset keys of `daily_job` an asset selection string picks (with the assets computed together with
    them); None for the whole job. Raises ValueError naming what cannot run in a daily run."""
    import dagster as dg

    from ops_pipelines.definitions import defs
    from ops_pipelines.defs.platform.jobs import DAILY_SELECTION

    if text is None:
        return None
    graph = defs.resolve_asset_graph()
    try:
        with warnings.catch_warnings():  # the parser passes a beta parameter for `group:`: not the user's concern
            warnings.simplefilter("ignore")
            picked = dg.AssetSelection.from_string(text).required_multi_asset_neighbors().resolve(graph)
    except Exception as exc:  # Dagster raises several types for a bad string or an unknown key
        raise ValueError(f"--select {text!r}: {str(exc).splitlines()[0]}") from None
    daily = DAILY_SELECTION.resolve(graph)
    outside = sorted(k.to_user_string() for k in picked - daily)
    if outside:
        raise ValueError(f"--select {text!r} picks {', '.join(outside)}, which daily runs do not compute "
                         "(retraining runs per model, launched by the retraining sensor)")
    if not picked:
        raise ValueError(f"--select {text!r} picks no asset")
    return sorted(k.to_user_string() for k in picked)


def launched_retraining(instance, day: str, daemon) -> list:
    """Wait for the retraining sensor to read the day's drift report; the retraining runs it launched for the day
    (not waited for: the next day's drift_report waits for them, the rest of that day need not).

    Nothing to wait for when the sensor was stopped on this instance (in the UI) or the report asks for nothing."""
    from ops_pipelines import runner

    if runner.sensor_stopped(instance, RETRAINING_SENSOR) or not asks_for_retraining(instance, day):
        return []
    return runner.await_sensor_runs(instance, "drift_report", day, RETRAINING_SENSOR, RETRAINING_JOB, daemon,
                                    RUN_TIMEOUT_S, finished=False)


def retraining_note(runs: list) -> str:
    """Model (trigger, status) of each retraining run."""
    return ", ".join(f"{r.tags.get(keys.PARTITION_MODEL)} ({r.tags.get(keys.TRIGGER)}, {r.status.value.lower()})"
                     for r in runs)


def asks_for_retraining(instance, day: str) -> bool:
    """True when the day's newest drift_report gives the retraining sensor a run to launch (its own rule,
    `retraining_requests`): only then is there something worth waiting for (it ticks every 5 s at best)."""
    import dagster as dg

    from ops_pipelines.defs.mlops.retraining import retrained_models, retraining_requests

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("drift_report"), asset_partitions=[day]), limit=1).records
    return bool(records) and bool(retraining_requests(day, records[0].asset_materialization.metadata, retrained_models()))


def print_outcomes(outcomes: list[DayOutcome], out: TextIO) -> None:
    """The final per-day table: day, status, seconds, run id (to find the run in the UI), error; then totals."""
    print("\nPer day", file=out)
    for o in outcomes:
        note = f"  {o.error}" if o.error else ""
        note += "  (later day: carried state was stale)" if o.stale else ""
        print(f"  {o.day}  {o.status.lower():<8} {o.seconds:>5.0f}s  run {o.run_id}{note}", file=out)
    ok = sum(o.status == "SUCCESS" for o in outcomes)
    later = sum(bool(o.stale) for o in outcomes)
    print(f"{ok} of {len(outcomes)} day(s) succeeded" + (f", {later} of them later days re-run because their carried "
          "state was stale" if later else ""), file=out)


def aiops_run_config(topology: str | None, runbooks: str | None) -> dict | None:
    """Run config that points the AIOps config resource at the user's topology and runbooks for these runs;
    each file is loaded first, so a bad one stops before anything runs (ValueError naming it)."""
    from ops_pipelines.lib.aiops.incidents import load_runbooks
    from ops_pipelines.lib.aiops.topology import Topology

    config = {}
    for flag, value, key, load in (("--topology", topology, "topology_path", Topology.load),
                                   ("--runbooks", runbooks, "runbooks_path", load_runbooks)):
        if value is None:
            continue
        path = Path(value).resolve()  # the run worker does not share our working directory
        try:
            load(path)
        except Exception as exc:  # missing file, bad JSON, wrong shape: say which file and why
            raise ValueError(f"{flag} {value}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        config[key] = str(path)
    return {"resources": {"aiops_config": {"config": config}}} if config else None


def check_days(first: dt.date, last: dt.date, landing: Path) -> tuple[list[str], list[str]]:
    """The days to run and the days among them without a landing file; raises ValueError when the
    range cannot run (reversed, outside the daily partitions, nothing landed at all)."""
    from ops_pipelines.defs.partitions import daily_partitions
    from ops_pipelines.lib.ingest.landing import KINDS, partition_files

    if last < first:
        raise ValueError(f"--end {last} is before --start {first}")
    start = daily_partitions.start.date()
    if first < start:
        raise ValueError(f"{first} is before the first daily partition {start}, the first day in the landing zone "
                         "(set OPS_PIPELINES_PARTITION_START to an earlier day, also for the UI and the daemon)")
    newest = daily_partitions.get_last_partition_key()
    if newest is None or last.isoformat() > newest:
        raise ValueError(f"{last} has not ended yet (UTC): the last day that can run is {newest}")
    days = day_range(first, last)
    empty = [d for d in days if not any(partition_files(landing, kind, d) for kind in KINDS)]
    if len(empty) == len(days):
        raise ValueError(f"no landing files for any day from {first} to {last} under {landing}; "
                         "files go to <landing>/<kind>/<YYYY-MM-DD>/ (kinds: " + ", ".join(KINDS) + ")")
    return days, empty
