"""Sweeps: one scenario, many parameter values, several replications each.

A *sweep* asks "what happens to startup time and rejections when host memory is
32, 64 or 128 GiB and the CPU overcommit ratio is 1, 2 or 4?". The scenario
says it itself::

    sweep:
      hosts.0.memory_gib: [32, 64, 128]
      hosts.0.overcommit.cpu: [1, 2, 4]
    replications: 5

Every combination of the listed values (the cartesian product, as in OpenDC and
desmod) is a *point*: here 3 x 3 = 9 points, numbered 0..8 in the order the
values are listed. Each point is run ``replications`` times, each time with a
different seed, because one run of a random model is one sample, not the
answer. The result is one long table (one row per run: point, replication,
seed, every swept parameter, the metrics), and :func:`summarize` turns it into
the mean and a 95% confidence interval per point and metric.

Seeds. Replication ``r`` gets its seed from ``numpy.random.SeedSequence`` of the
scenario's seed with spawn key ``(r,)``: it depends only on the scenario seed
and ``r``, never on which worker ran it or when. A point's results are thus the
same bit for bit on one process, on many, or on a Dask cluster. Every point uses
the same seed for replication ``r`` (*common random numbers*): the arrivals and
lifetimes drawn are the same across points, so differences between points come
from the parameters, not from luck.

Executors. ``jobs=1`` runs everything in this process; ``jobs=N`` uses ``N``
local processes (the default is every core); ``executor="dask://HOST:PORT"``
sends the runs to a Dask distributed scheduler (``pip install 'vsim[dask]'``),
and ``executor="dask"`` starts a Dask LocalCluster on this machine. A run that
raises is recorded with its error and the others finish.

Nothing lost. With ``out=FOLDER`` every finished run is appended to
``FOLDER/runs.jsonl`` as soon as it arrives (one JSON line, flushed to disk), so
an interrupted sweep keeps what finished, and ``resume=True`` runs only what is
missing. A line cut short by the interruption is dropped on resume; the final
tables (``sweep.csv``, ``summary.csv``) are written to a temporary file and
renamed, so they are either complete or absent.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vsim.results.outputs import staged_folder
from vsim.results.tables import Results
from vsim.spec.errors import ScenarioError, brief, need_bool, need_path
from vsim.spec.scenario import Scenario, load_scenario, parse_scenario
from vsim.spec.sweep import Point, expand, replication_seed

__all__ = ["sweep", "summarize", "expand", "run_metrics", "replication_seed", "METRICS", "t_quantile_975", "wilson_interval",
           "COLUMNS"]

#: The columns of the sweep table (sweep) and its summary (summarize), with type, unit and
#: meaning (gathered in vsim.COLUMNS).
COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "sweep": {
        "point": ("int", "number of the combination of swept values, in the order the sweep lists them"),
        "replication": ("int", "replication number at that point, from 0"),
        "seed": ("int", "seed of the run: SeedSequence(scenario seed, spawn key (replication,)); same at every point"),
        "<swept path>": ("as given", "one column per swept dotted path (e.g. hosts.0.memory_gib), holding its value"),
        "requested": ("int", "guests requested in the run"),
        "ready": ("int", "guests that became ready"),
        "rejected": ("int", "guests rejected at placement (no host had room)"),
        "failed": ("int", "guests that ended failed"),
        "blocking": ("float, 0-1", "rejected / requested: the blocking probability of the run"),
        "startup_mean_s": ("float, s", "mean startup of the guests that became ready"),
        "startup_p50_s": ("float, s", "median startup"),
        "startup_p95_s": ("float, s", "95th percentile of startup"),
        "startup_max_s": ("float, s", "longest startup"),
        "hosts_used": ("int", "hosts that received at least one guest"),
        "peak_guests_per_host": ("int", "most guests on one host at once"),
        "peak_memory_util": ("float, 0-1+", "largest peak reserved memory / physical memory over hosts (above 1 with overcommit)"),
        "sim_end_s": ("float, s", "simulated time at the end of the run"),
        "events": ("int", "SimPy events scheduled"),
        "error": ("str", "why the run failed (exception type and message); empty if it succeeded"),
    },
    "sweep_summary": {
        "point": ("int", "sweep point"),
        "<swept path>": ("as given", "one column per swept path"),
        "metric": ("str", "name of a metric column of the sweep table"),
        "n": ("int", "runs at this point that gave a value"),
        "errors": ("int", "runs at this point that failed"),
        "mean": ("float, unit of the metric", "mean over the replications"),
        "std": ("float, unit of the metric", "sample standard deviation (ddof 1)"),
        "ci95_low": ("float, unit of the metric", "95% interval, low end: Wilson's for a proportion (blocking), "
                     "else mean - t(0.975, n-1) std / sqrt(n) cut at 0; NaN if n < 2 for t"),
        "ci95_high": ("float, unit of the metric", "95% interval, high end (Wilson's, or mean + t(0.975, n-1) "
                      "std / sqrt(n)); NaN if n < 2 for t"),
        "interval": ("str", "how the interval was found: wilson (a proportion of guests) or t (Student's t)"),
    },
}

#: The metrics of one run, in table order (documented in COLUMNS["sweep"]).
METRICS = [
    "requested", "ready", "rejected", "failed", "blocking",
    "startup_mean_s", "startup_p50_s", "startup_p95_s", "startup_max_s",
    "hosts_used", "peak_guests_per_host", "peak_memory_util", "sim_end_s", "events",
]

RUNS_FILE = "runs.jsonl"
MANIFEST = "sweep.json"
FORMAT = 1


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if x.size else math.nan


def run_metrics(res: Results) -> dict[str, Any]:
    """The default metrics of one run (see ``COLUMNS['sweep']``)."""
    inst = res.instances
    hosts = res.hosts
    n = len(inst)
    startup = inst["startup_s"].dropna().to_numpy(dtype=float)
    rejected = int((inst["state"] == "rejected").sum())
    mem = hosts["memory_mib"].to_numpy(dtype=float)
    return {
        "requested": int(n),
        "ready": int(startup.size),
        "rejected": rejected,
        "failed": int((inst["state"] == "failed").sum()),
        "blocking": rejected / n if n else math.nan,
        "startup_mean_s": float(startup.mean()) if startup.size else math.nan,
        "startup_p50_s": _pct(startup, 50),
        "startup_p95_s": _pct(startup, 95),
        "startup_max_s": float(startup.max()) if startup.size else math.nan,
        "hosts_used": int((hosts["guests_placed"] > 0).sum()),
        "peak_guests_per_host": int(hosts["peak_guests"].max()) if len(hosts) else 0,
        "peak_memory_util": float((hosts["peak_memory_mib"].to_numpy(dtype=float) / mem).max()) if len(hosts) else math.nan,
        "sim_end_s": float(res.meta.get("sim_end_s", math.nan)),
        "events": int(res.meta.get("events", 0)),
    }


def run_task(task: tuple) -> dict[str, Any]:
    """Run one replication of one point (in whatever process or worker gets it).

    Any exception becomes the ``error`` of the row instead of stopping the sweep.
    """
    from vsim.experiments.run import simulate

    point, rep, seed, data, metrics = task
    row: dict[str, Any] = {"point": point, "replication": rep, "seed": seed}
    try:
        res = simulate(parse_scenario(data, where=f"sweep point {point}"), seed=seed, allow_large=True)
        row.update((metrics or run_metrics)(res))
        row["error"] = ""
    except Exception as exc:  # recorded, not raised: the other points must finish
        row["error"] = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return row


# -- executors -------------------------------------------------------------------------

def _serial(tasks: list[tuple]) -> Iterator[dict]:
    for t in tasks:
        yield run_task(t)


def _processes(tasks: list[tuple], jobs: int) -> Iterator[dict]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_task, t): t for t in tasks}
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:  # the worker process died (killed, out of memory)
                    t = futures[fut]
                    yield {"point": t[0], "replication": t[1], "seed": t[2],
                           "error": f"{type(exc).__name__}: {exc}".replace("\n", " ")}
        finally:
            for fut in futures:
                fut.cancel()


def _dask(tasks: list[tuple], executor: Any, jobs: int) -> Iterator[dict]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ScenarioError(
            "--executor: Dask is not installed; install it with: pip install 'vsim[dask]'"
        ) from None
    own_cluster = own_client = None
    if isinstance(executor, Client):
        client = executor
    else:
        try:
            if executor == "dask":
                own_cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, host="127.0.0.1",
                                           dashboard_address=None)
                own_client = client = Client(own_cluster)
            else:
                address = "tcp://" + executor[len("dask://"):]
                own_client = client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ScenarioError(
                f"--executor {executor}: cannot reach the Dask scheduler ({exc}); "
                "check that `dask scheduler` runs there and the port is right"
            ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=DASK_WORKER_WAIT_S)
        except (TimeoutError, OSError):
            raise ScenarioError(f"--executor {executor}: the Dask scheduler has no workers after "
                                f"{DASK_WORKER_WAIT_S:g} s; start some with `dask worker {executor[7:] if isinstance(executor, str) else 'ADDRESS'}`"
                                ) from None
        futures = {client.submit(run_task, t, pure=False): t for t in tasks}
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as exc:  # a worker died (KilledWorker) or the task was lost
                t = futures[fut]
                yield {"point": t[0], "replication": t[1], "seed": t[2],
                       "error": f"{type(exc).__name__}: {exc}".replace("\n", " ")}
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


#: How long a sweep waits for a Dask scheduler to have a worker.
DASK_WORKER_WAIT_S = 60.0
#: The most work (events' worth, vsim.spec.cost) a sweep does without --allow-large: about 2 h on one core.
MAX_SWEEP_WORK = 3.6e9
#: The most runs (points x replications) one sweep may ask for.
MAX_RUNS = 1_000_000


def _fit_jobs(jobs: int, runs: int, kind: str) -> int:
    """Workers for ``runs`` runs: never more than the runs (or, locally, 4 per core),
    with a warning above the core count (they would only wait for each other)."""
    cores = os.cpu_count() or 1
    fitted = min(jobs, runs, 4 * cores if kind == "local" else jobs)
    if fitted > cores and kind == "local":
        import warnings

        warnings.warn(f"--jobs {jobs}: {fitted} worker processes on {cores} core(s); more than the cores only "
                      "share them", stacklevel=3)
    return max(1, fitted)


def _check_executor(executor: Any, jobs: Any) -> tuple[str, int]:
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int | np.integer) or jobs < 1:
        raise ScenarioError(f"--jobs: must be a whole number >= 1, got {jobs!r}")
    if isinstance(executor, str):
        if executor in ("local", "dask"):
            return executor, int(jobs)
        if executor.startswith("dask://"):
            m = re.fullmatch(r"dask://([A-Za-z0-9_.\-\[\]:]+):(\d{1,5})", executor)
            if m is None or not 1 <= int(m.group(2)) <= 65535:
                raise ScenarioError(f"--executor {brief(executor)}: expected dask://HOST:PORT with a port from 1 to "
                                    "65535, e.g. dask://127.0.0.1:8786")
            return "dask", int(jobs)
        raise ScenarioError(
            f"--executor {executor!r}: expected 'local', 'dask' (a LocalCluster here) or dask://HOST:PORT"
        )
    if type(executor).__name__ == "Client":  # a dask.distributed.Client the caller made
        return "dask", int(jobs)
    raise ScenarioError(f"executor: expected 'local', 'dask://HOST:PORT' or a dask Client, got {executor!r}")


# -- the output folder -------------------------------------------------------------------

def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _manifest(scenario: Scenario) -> dict:
    return {
        "format": FORMAT,
        "what": "vsim sweep",
        "scenario": scenario.model_dump(mode="json", exclude_none=True, exclude={"replications"}),
    }


def _prepare_out(out: Path, scenario: Scenario, resume: bool, force: bool, reps: int,
                 n_points: int) -> dict[tuple[int, int], dict]:
    """Create (or reopen) the output folder; return the runs already finished."""
    manifest = _manifest(scenario)
    if out.exists() and resume:
        mf = out / MANIFEST
        if not mf.is_file():
            raise ScenarioError(f"--out {out}: no {MANIFEST} there, so nothing to resume; "
                                "give the folder of an earlier vsim sweep, or a new folder")
        try:
            old = json.loads(mf.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"--out {out}/{MANIFEST}: unreadable ({brief(str(exc))}); start again with --force"
                                ) from None
        if not isinstance(old, dict) or old.get("what") != "vsim sweep":
            raise ScenarioError(f"--out {out}/{MANIFEST}: not the manifest of a vsim sweep; start again with --force")
        if old.get("scenario") != manifest["scenario"]:
            raise ScenarioError(f"--resume: {out} holds a sweep of a different scenario (or sweep or seed); "
                                "use a new --out folder, or --force to replace it")
        seeds = [replication_seed(scenario.seed, r) for r in range(reps)]
        return _read_runs(out / RUNS_FILE, n_points, reps, seeds)
    if out.exists() and not force:
        raise ScenarioError(f"--out {out}: already exists; pass --resume to continue that sweep, "
                            "--force to replace it, or choose a new folder")
    # Build the new folder aside and rename it into place: never half-made.
    with staged_folder(out, replace=True) as tmp:
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        (tmp / RUNS_FILE).touch()
    return {}


def _digest(row: dict) -> str:
    """A checksum of one run's row as written: a resumed sweep trusts only rows
    that are exactly what a run of this vsim wrote."""
    import hashlib

    body = json.dumps({k: v for k, v in row.items() if k != "check"}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _row_line(row: dict) -> str:
    return json.dumps({**row, "check": _digest(row)}) + "\n"


def _read_runs(path: Path, n_points: int, reps: int, seeds: list[int]) -> dict[tuple[int, int], dict]:
    """Finished runs from runs.jsonl, each checked: a JSON object whose checksum
    matches, of a point and replication of this sweep, with the seed that
    replication implies. A line cut short by the interruption (the last, with
    no newline) and failed runs (run again) are dropped; anything else that
    cannot be trusted refuses the resume, naming the line. The file is then
    rewritten clean before appending."""
    where = f"--resume: {path}"
    if not path.is_file():
        raise ScenarioError(f"{where}: not a file; start again with --force")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{where}: not UTF-8 text (byte {exc.start}); start again with --force") from None
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot be read ({exc.strerror}); start again with --force") from None
    done: dict[tuple[int, int], dict] = {}
    for n, line in enumerate(text.splitlines(keepends=True), start=1):
        if not line.endswith("\n"):
            continue  # cut short by the interruption
        bad = f"{where}, line {n}"
        try:
            row = json.loads(line)
        except ValueError:
            raise ScenarioError(f"{bad}: not a JSON row; the file was damaged (start again with --force)") from None
        if not isinstance(row, dict):
            raise ScenarioError(f"{bad}: not a JSON object; start again with --force")
        if row.get("check") != _digest(row):
            raise ScenarioError(f"{bad}: its checksum does not match: the row was changed after vsim wrote it "
                                "(or an older vsim wrote it); start again with --force")
        point, rep = row.get("point"), row.get("replication")
        if not (type(point) is int and 0 <= point < n_points and type(rep) is int and 0 <= rep < reps):
            raise ScenarioError(f"{bad}: point {brief(point)}, replication {brief(rep)} is not a run of this sweep "
                                f"({n_points} points x {reps} replications)")
        if row.get("seed") != seeds[rep]:
            raise ScenarioError(f"{bad}: seed {brief(row.get('seed'))} is not replication {rep}'s ({seeds[rep]})")
        if not isinstance(row.get("error", ""), str):
            raise ScenarioError(f"{bad}: 'error' must be text")
        row.pop("check")
        if not row.get("error"):
            done[(point, rep)] = row
    _atomic_write(path, "".join(_row_line(r) for r in done.values()))
    return done


# -- the sweep ---------------------------------------------------------------------------

def _progress(total: int, initial: int, enabled: bool | None):
    from vsim.results.render import progress_bar

    return progress_bar(total, "sweep", "run", initial=initial, enabled=enabled)


def _check_sweep_args(scenario: Any, replications: Any, resume: bool, force: bool,
                      out: Any) -> tuple[Scenario, int]:
    """The scenario (loaded if a path) and the replication count, or one clear error."""
    if isinstance(scenario, str | os.PathLike):
        scenario = load_scenario(scenario)
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"sweep: expected a Scenario or a scenario file, got {type(scenario).__name__}")
    reps = scenario.replications if replications is None else replications
    if isinstance(reps, bool) or not isinstance(reps, int | np.integer) or not 1 <= reps <= 10_000:
        raise ScenarioError(f"--replications: must be a whole number from 1 to 10000, got {reps!r}")
    need_bool(resume, "resume")
    need_bool(force, "force")
    if out is not None:
        need_path(out, "--out")
    if resume and force:
        raise ScenarioError("--resume and --force: choose one (continue the sweep, or replace it)")
    if resume and out is None:
        raise ScenarioError("--resume: needs --out, the folder of the sweep to continue")
    return scenario, int(reps)


def _run_tasks(tasks: list, kind: str, executor: Any, jobs: int) -> Iterable[dict]:
    """The runs' rows as they finish: on Dask, in local processes, or here."""
    if not tasks:
        return ()
    if kind == "dask":
        return _dask(tasks, executor, jobs)
    if jobs == 1 or len(tasks) == 1:
        return _serial(tasks)
    return _processes(tasks, min(jobs, len(tasks)))


def sweep(
    scenario: Scenario | str | os.PathLike,
    replications: int | None = None,
    jobs: int | None = None,
    executor: Any = "local",
    out: str | os.PathLike | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
    metrics: Callable[[Results], dict[str, Any]] | None = None,
    allow_large: bool = False,
) -> pd.DataFrame:
    """Run every point of the scenario's sweep ``replications`` times.

    Returns one row per run, sorted by point and replication: ``point``,
    ``replication``, ``seed``, one column per swept path, the metrics (default
    :data:`METRICS`, or the dict returned by ``metrics(results)``; it must be a
    module-level function to reach other processes) and ``error`` (empty if the
    run succeeded). ``replications`` overrides the scenario's own.
    """
    scenario, reps = _check_sweep_args(scenario, replications, resume, force, out)
    kind, jobs = _check_executor(executor, jobs)
    n_points = math.prod(len(v) for v in scenario.sweep.values()) if scenario.sweep else 1
    if n_points * reps > MAX_RUNS:
        raise ScenarioError(f"replications: {n_points:,} points x {reps:,} replications = {n_points * reps:,} runs; "
                            f"a sweep runs at most {MAX_RUNS:,} (fewer replications, or fewer values)")
    if not isinstance(allow_large, bool):
        raise ScenarioError(f"allow_large: must be True or False, got {allow_large!r}")
    points = expand(scenario)
    if not allow_large:
        from vsim.spec.cost import refuse_if_over

        for p in points:  # each run within the budget of one run (vsim.spec.cost), named by its point
            refuse_if_over(p.cost, f"sweep point {p.id} {brief(p.params)}")
        from vsim.spec.cost import EVENTS_PER_S, RUN_OVERHEAD_WORK, _duration

        total = reps * sum(p.cost.work + RUN_OVERHEAD_WORK for p in points)
        if total > MAX_SWEEP_WORK:
            raise ScenarioError(
                f"sweep: {len(points):,} points x {reps:,} replications would take about "
                f"{_duration(total / EVENTS_PER_S)} of computing (the runs' estimates, vsim.spec.cost), more than "
                f"the {_duration(MAX_SWEEP_WORK / EVENTS_PER_S)} a sweep runs without --allow-large; fewer values "
                "or replications, or --allow-large (allow_large=True) to run it anyway")
    jobs = _fit_jobs(jobs, n_points * reps, kind)
    seeds = [replication_seed(scenario.seed, r) for r in range(reps)]
    done: dict[tuple[int, int], dict] = {}
    outdir = Path(out) if out is not None else None
    if outdir is not None:
        done = _prepare_out(outdir, scenario, resume, force, reps, len(points))
    tasks = [(p.id, r, seeds[r], p.data, metrics) for p in points for r in range(reps) if (p.id, r) not in done]
    rows = {k: v for k, v in done.items() if k[0] < len(points) and k[1] < reps}
    bar = _progress(len(tasks) + len(rows), len(rows), progress)
    results = _run_tasks(tasks, kind, executor, jobs)
    sink = open(outdir / RUNS_FILE, "a") if outdir is not None else None  # noqa: SIM115
    try:
        for row in results:
            if sink is not None:
                sink.write(_row_line(row))
                sink.flush()
                os.fsync(sink.fileno())
            rows[(row["point"], row["replication"])] = row
            if bar is not None:
                bar.update(1)
    finally:
        if sink is not None:
            sink.close()
        if bar is not None:
            bar.close()
    table = _table(points, rows, reps)
    if outdir is not None:
        _atomic_write(outdir / "sweep.csv", table.to_csv(index=False))
        _atomic_write(outdir / "summary.csv", summarize(table).to_csv(index=False))
    return table


def _table(points: list[Point], rows: dict[tuple[int, int], dict], reps: int) -> pd.DataFrame:
    records = []
    metric_names: list[str] = []
    for (_, _), row in sorted(rows.items()):
        for k in row:
            if k not in ("point", "replication", "seed", "error") and k not in metric_names:
                metric_names.append(k)
    param_names = list(points[0].params) if points else []
    for (pid, rep), row in sorted(rows.items()):
        rec = {"point": pid, "replication": rep, "seed": row["seed"]}
        rec.update(points[pid].params)
        for m in metric_names:
            rec[m] = row.get(m, math.nan)
        rec["error"] = row.get("error", "")
        records.append(rec)
    cols = ["point", "replication", "seed", *param_names, *metric_names, "error"]
    table = pd.DataFrame.from_records(records, columns=cols)
    table.attrs["params"] = param_names
    return table


# -- summaries -----------------------------------------------------------------------------

# Student's t, 97.5% quantile, for 1..30 degrees of freedom (standard tables).
def t_quantile_975(df: int) -> float:
    """Student's t 97.5% quantile with ``df`` degrees of freedom (scipy.stats); NaN if df < 1."""
    if df < 1:
        return math.nan
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def wilson_interval(k: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's 95% score interval for a proportion of ``k`` successes in ``n``
    trials: always inside [0, 1], and sensible at 0 and n (where a t interval
    collapses or leaves the range). NaN if n is 0."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))  # (p inside, bar rounding)


def _clustered_wilson(k: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Wilson's interval for guests rejected (``k``) of guests requested (``n``),
    one entry per run. Guests of one run are not independent trials (one burst
    rejects many), so where the runs' proportions spread more than independent
    trials would, the pooled count is shrunk by that ratio (Kish's design
    effect) and z becomes Student's t quantile for runs - 1 degrees of
    freedom (the spread is estimated from few runs). Otherwise, one run
    included, it is the plain Wilson interval on all the guests."""
    total_k, total_n, runs = float(k.sum()), float(n.sum()), int(k.size)
    if total_n <= 0:
        return math.nan, math.nan
    p = total_k / total_n
    z = 1.959963984540054
    n_eff = total_n
    if runs > 1 and 0 < p < 1:
        per_run = k / np.where(n > 0, n, 1)
        deff = float(np.var(per_run, ddof=1)) * float(n.mean()) / (p * (1 - p))
        if deff > 1.0:  # the runs differ more than independent guests would: fewer effective trials,
            n_eff = total_n / deff  # and a spread estimated from few runs
            z = t_quantile_975(runs - 1)
    return wilson_interval(p * n_eff, n_eff, z)


#: Metrics that are proportions of counted guests: (numerator column, denominator column).
PROPORTIONS = {"blocking": ("rejected", "requested")}

#: The range every other default metric lives in (counts, times, utilisations are >= 0).
_LOWER = 0.0


def summarize(table: pd.DataFrame, params: list[str] | None = None) -> pd.DataFrame:
    """Mean and 95% confidence interval of every metric at every point.

    One row per point and metric: ``n`` runs that gave a value, ``errors``
    (failed runs), ``mean``, ``std``, ``ci95_low``/``ci95_high`` and
    ``interval`` (how they were found):

    - a proportion (``blocking``: guests rejected of guests requested) gets
      Wilson's score interval on the guests of all its runs (``"wilson"``),
      with the count shrunk by how much more the runs differ than independent
      guests would (the design effect) and Student's t for z when there are
      few runs: inside [0, 1] for any number of replications, one included.
    - every other metric gets Student's t interval over the runs, mean -/+
      t(0.975, n-1) std / sqrt(n) (``"t"``; NaN with fewer than two runs),
      cut at 0 below: counts, times and utilisations are never negative, and
      a confidence interval cut to the values the quantity can take keeps its
      coverage.

    ``params`` are
    the swept columns; by default those :func:`sweep` recorded in ``table.attrs``,
    else the columns between ``seed`` and the first default metric.
    """
    fixed = ("point", "replication", "seed", "error")
    cols = list(table.columns)
    if params is None:
        params = table.attrs.get("params")
    if params is None:
        i = cols.index("seed") + 1 if "seed" in cols else 0
        j = next((k for k in range(i, len(cols)) if cols[k] in METRICS or cols[k] == "error"), len(cols))
        params = cols[i:j]
    metrics = [c for c in cols if c not in fixed and c not in params
               and pd.api.types.is_numeric_dtype(table[c])]
    out_cols = ["point", *params, "metric", "n", "errors", "mean", "std", "ci95_low", "ci95_high", "interval"]
    out = []
    for pid, grp in table.groupby("point", sort=True):
        errors = int((grp["error"].astype(str) != "").sum()) if "error" in grp else 0
        for m in metrics:
            x = grp[m].dropna().to_numpy(dtype=float)
            n = int(x.size)
            mean = float(x.mean()) if n else math.nan
            std = float(x.std(ddof=1)) if n > 1 else math.nan
            num, den = PROPORTIONS.get(m, (None, None))
            if num in grp and den in grp and n:
                ok = grp[m].notna()
                low, high = _clustered_wilson(grp.loc[ok, num].to_numpy(float), grp.loc[ok, den].to_numpy(float))
                how = "wilson"
            else:
                half = t_quantile_975(n - 1) * std / math.sqrt(n) if n > 1 else math.nan
                low, high, how = max(mean - half, _LOWER), mean + half, "t"
                if math.isnan(half):
                    low = math.nan
            rec = {"point": int(pid)}
            rec.update({p: grp[p].iloc[0] for p in params})
            rec.update(metric=m, n=n, errors=errors, mean=mean, std=std, ci95_low=low, ci95_high=high, interval=how)
            out.append(rec)
    return pd.DataFrame(out, columns=out_cols)
