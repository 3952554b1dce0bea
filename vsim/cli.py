"""The ``vsim`` command: thin wrappers over the library.

Commands::

    vsim run SCENARIO [--out DIR] [--seed N] [--set path=value ...]
    vsim validate SCENARIO ...
    vsim schema
    vsim compare [...]
    vsim check [--group ...]
    vsim profiles [NAME]
    vsim storm [--platforms docker,kvm] [--counts 1,10,100] [--out FILE.png]
    vsim sweep SCENARIO [...]
    vsim plan PLAN [...]

Every command that prints a table takes ``--format table|markdown|csv|json``:
``table`` fits the terminal (100 columns at most, ``--wide`` for natural
widths), CSV and JSON hold the numbers with units in the column names (see
:mod:`vsim.results.render`). The global flags ``--debug`` and ``--wide`` go
before or after the command.

Every mistake a user can make (a bad file, a bad flag, a bad value) is printed
as one clear message on standard error with exit status 2, never as a Python
traceback. ``--debug`` (or ``VSIM_DEBUG=1``) shows the traceback for those who
want it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from vsim.spec.errors import ScenarioError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: exit 2 with usage
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"vsim: error: {message}\n")


def _show(args, df, title: str | None = None, notes=(), data=None, index: bool = False, digits: int = 3,
          extra=None, keys: int = 1) -> None:
    """Print ``df`` in the command's ``--format`` (vsim.results.render)."""
    from vsim.results.render import render

    print(render(df, getattr(args, "format", "table"), title=title, notes=notes, data=data, index=index,
                 wide=getattr(args, "wide", False), digits=digits, extra=extra, keys=keys))


def _people(args) -> bool:
    return getattr(args, "format", "table") in ("table", "markdown")


# -- commands --------------------------------------------------------------------

def _profiled(fn, *a, top: int = 25, **kw):
    """Call ``fn`` under cProfile; print its ``top`` functions by cumulative time to stderr."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    try:
        return prof.runcall(fn, *a, **kw)
    finally:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("cumulative").print_stats(top)
        print(f"vsim --profile: top {top} functions by cumulative time (cProfile slows the run about 2x)\n"
              + buf.getvalue(), file=sys.stderr)


def cmd_run(args) -> int:
    from vsim.experiments.run import simulate
    from vsim.spec.scenario import load_scenario

    sc = load_scenario(args.scenario, overrides=args.set)
    _check_out_folder(args)
    res = (_profiled(simulate, sc, seed=args.seed, allow_large=args.allow_large) if getattr(args, "profile", False)
           else simulate(sc, seed=args.seed, progress=None, allow_large=args.allow_large))
    s = res.summary
    services = None
    if "requests" in res.tables and len(res.requests):
        from vsim.experiments.load import service_summary

        services = service_summary(res.requests)
    if args.format == "csv":
        _show(args, res.summary_table())
    elif args.format == "json":
        from vsim.results.render import records

        doc = {"summary": s, "startup": records(res.summary_table()),
               "services": records(services) if services is not None else [],
               "hosts": records(res.hosts)}
        for name in ("migrations", "recoveries", "energy"):
            t = res.tables.get(name)
            if t is not None and len(t):
                doc[name] = records(t)
        print(json.dumps(doc, indent=2, ensure_ascii=False, default=str))
    else:
        print(f"scenario {s['scenario']!r}  seed {s['seed']}  simulated {s['sim_end_s']:.3f} s  "
              f"({s['events']} events in {s['wall_s']:.2f} s wall)")
        print()
        _show(args, res.summary_table())
        if services is not None:
            print()
            _show(args, services, title="services (latency in s):")
        print()
        print("final states: " + ", ".join(f"{k} {v}" for k, v in s["states"].items()))
        hosts = res.hosts
        print(f"guests per host (peak): mean {hosts['peak_guests'].mean():.1f}, max {hosts['peak_guests'].max()}"
              f" over {len(hosts)} host(s)")
        if s["rejections"]:
            print("rejected:")
            for reason, n in s["rejections"].items():
                print(f"  {n} x {reason}")
        _print_operations(args, res)
    if args.out is not None:
        from vsim.plots import RUN_FIGURES, run_figures

        dest = res.save(args.out, force=args.force, figures=run_figures(args.lang))
        msg = (f"wrote {dest}/ (summary.json, instances.csv, phases.csv, hosts.csv, "
               + ", ".join(RUN_FIGURES) + ")")
        print(("\n" + msg) if _people(args) else msg, file=sys.stdout if _people(args) else sys.stderr)
    return 0


def _print_operations(args, res) -> None:
    """Migrations, failures and energy of a run (vsim.mechanisms.migration, vsim.mechanisms.faults, vsim.mechanisms.energy)."""
    t = res.tables
    m = t.get("migrations")
    if m is not None and len(m):
        cols = ["name", "cause", "mode", "source", "target", "rounds", "total_s", "downtime_s", "mb_moved",
                "conversion_s", "data_lost_mb", "outcome"]
        print()
        _show(args, m[cols], title="migrations:")
    r = t.get("recoveries")
    if r is not None and len(r):
        f = t["failures"]
        print(f"\nhost failures: {len(f)}; guests failed: {len(r)}; " + ", ".join(
            f"{k} {v}" for k, v in r["outcome"].value_counts().sort_index().items()))
        ok = r.loc[r["outcome"] == "restarted", "recover_s"]
        if len(ok):
            print(f"time to recover: mean {ok.mean():.1f} s, max {ok.max():.1f} s; "
                  f"running time lost {r['run_lost_s'].sum():.0f} s; data lost {r['data_lost_mb'].sum():.1f} MB")
    e = t.get("energy")
    if e is not None and len(e):
        print(f"\nenergy: {e['energy_kwh'].sum():.3f} kWh over {len(e)} host(s) "
              f"(mean {e['mean_power_w'].sum():.0f} W; {int(e['power_ons'].sum())} power-ons)")


def cmd_validate(args) -> int:
    from vsim.spec.scenario import load_scenario

    bad = 0
    for f in args.scenarios:
        try:
            if _is_plan_file(f):  # a capacity plan (vsim plan) is validated as one
                from vsim.experiments.plan import load_plan

                pl = load_plan(f)
                print(f"{f}: ok (a plan: {len(pl.architectures)} architecture(s), "
                      f"{len(pl.host_types)} host type(s))")
                continue
            sc = load_scenario(f)
            from vsim.spec.cost import check_budget

            check_budget(sc, f)  # valid, but vsim run would refuse it: say so now
        except ScenarioError as exc:
            print(str(exc), file=sys.stderr)
            bad += 1
            continue
        print(f"{f}: ok ({len(sc.hosts)} host group(s), {len(sc.workloads)} workload(s), "
              f"{sc.guest_count()} guest(s))")
    return EXIT_USAGE if bad else 0


def cmd_schema(args) -> int:
    from vsim.spec.scenario import scenario_schema

    print(json.dumps(scenario_schema(), indent=2))
    return 0


def cmd_compare(args) -> int:
    from vsim.experiments.compare import compare, render

    df = compare(
        platforms=args.platforms.split(",") if args.platforms else None,
        host=args.host,
        lang=args.lang,
        seed=args.seed,
    )
    print(render(df, args.format, wide=args.wide))
    return 0


def cmd_check(args) -> int:
    from vsim.experiments.check import check, render

    table = check(args.group.split(",") if args.group else None, progress=None)
    print(render(table, args.format, wide=args.wide))
    return 0 if bool(table["ok"].all()) else 1


def cmd_storm(args) -> int:
    from vsim.experiments.bootstorm import STORM_COUNTS, storm_curve

    out = Path(args.out) if args.out else None
    if out is not None:
        if out.suffix.lower() not in _FIGURE_SUFFIXES:
            raise ScenarioError(f"--out {args.out}: expected a figure file ending in "
                                f"{', '.join(_FIGURE_SUFFIXES)}, e.g. storm.png")
        if not out.parent.is_dir():
            raise ScenarioError(f"--out {args.out}: the folder {str(out.parent)!r} does not exist")
    df = storm_curve(platforms=args.platforms, counts=args.counts or STORM_COUNTS, host=args.host, seed=args.seed)
    _show(args, df, digits=4,
          title="startup (s) of n guests requested together on one idle host; percentiles over the guests that "
                "started; cause: the phase of the median guest that took longest beyond its time alone (n = 1)")
    if out is not None:
        import matplotlib.pyplot as plt

        from vsim.plots import storm_curve_plot

        ax = storm_curve_plot(df, lang=args.lang)
        ax.figure.savefig(out, dpi=110, bbox_inches="tight")
        plt.close(ax.figure)
        if _people(args):
            print(f"\nwrote {out}")
    return 0


def cmd_profiles(args) -> int:
    from vsim.experiments.profiles import profile_detail, profile_table

    if args.name:
        if _people(args):
            print(profile_detail(args.name))
        else:
            import pandas as pd

            from vsim.spec.profile import load_profile

            rows = [{"field": f, "value": v, "provenance": how} for f, v, how in load_profile(args.name).sources()]
            _show(args, pd.DataFrame(rows))
    else:
        _show(args, profile_table(), digits=4)
    return 0


def cmd_sweep(args) -> int:
    from vsim.experiments.sweep import summarize, sweep

    table = sweep(args.scenario, replications=args.replications, jobs=args.jobs, executor=args.executor,
                  out=args.out, resume=args.resume, force=args.force, progress=None, allow_large=args.allow_large)
    summ = summarize(table)
    if not _people(args):
        _show(args, summ)
    else:
        params = table.attrs.get("params", [])
        rows = []
        for pid, grp in summ.groupby("point", sort=True):
            rec = {"point": pid, **{k: grp[k].iloc[0] for k in params}}
            for m in ("blocking", "startup_p95_s", "peak_guests_per_host"):
                r = grp[grp["metric"] == m]
                if len(r):
                    r = r.iloc[0]
                    rec[m] = _mean_ci(r["mean"], r["ci95_low"], r["ci95_high"])
            rec["errors"] = int(grp["errors"].iloc[0])
            rows.append(rec)
        import pandas as pd

        title = (f"{table['point'].nunique()} point(s) x {table['replication'].nunique()} replication(s) = "
                 f"{len(table)} run(s); mean and 95% confidence interval per point:")
        if rows:
            _show(args, pd.DataFrame(rows), title=title,
                  notes=["blocking (a proportion): Wilson score interval; other metrics: Student's t interval "
                         "(vsim.experiments.sweep.summarize)"])
        else:
            print(title + "\n\n(no metrics: every run failed)")
    bad = table[table["error"] != ""]
    out = sys.stdout if _people(args) else sys.stderr
    if len(bad) and len(bad) == len(table):  # nothing to summarise: a failure, not a result
        why = bad["error"].value_counts()
        print(f"vsim: every run of the sweep failed ({len(bad)} of {len(table)}); why:", file=sys.stderr)
        for msg, n in why.head(5).items():
            print(f"  {n} x {msg}", file=sys.stderr)
        return 1
    if len(bad):
        print(f"\n{len(bad)} run(s) failed; first: point {bad['point'].iloc[0]}: {bad['error'].iloc[0]}", file=out)
    if args.out:
        print(f"\nwrote {args.out}/ (runs.jsonl as runs finished, sweep.csv: every run, summary.csv: mean and CI)",
              file=out)
    return 0


def _mean_ci(mean: float, low: float, high: float) -> str:
    """``0.12 [0.05, 0.24]`` (the interval need not be symmetric), or the mean alone."""
    from vsim.results.render import fmt_number

    if low != low or high != high:
        return fmt_number(mean)
    return f"{fmt_number(mean)} [{fmt_number(low, 2)}, {fmt_number(high, 2)}]"


def cmd_plan(args) -> int:
    from vsim.experiments.plan import load_plan, plan, plan_table

    spec = load_plan(args.plan)
    _check_out_folder(args)
    df = plan(spec, jobs=args.jobs, progress=None)
    if not _people(args):
        _show(args, df)
    else:
        _show(args, plan_table(df, scale="all"), keys=3,
              title=f"plan {spec.name!r}: fewest hosts meeting every target at each demand scale "
                    f"({spec.policy.tolerate_host_failures} spare host(s) for failures included); "
                    "every figure simulated",
              notes=["cheapest: * marks the cheapest feasible host type for each architecture and demand scale; "
                     "binding: what stops one host fewer from meeting the targets"])
    if args.out is not None:
        import matplotlib.pyplot as plt

        from vsim.plots import plan_hosts
        from vsim.results.outputs import staged_folder

        out = Path(args.out)
        with staged_folder(out, replace=args.force) as tmp:  # complete, or not there at all
            df.to_csv(tmp / "plan.csv", index=False)
            ax = plan_hosts(df)
            try:
                ax.figure.savefig(tmp / "plan-hosts.png", dpi=110, bbox_inches="tight")
            finally:
                plt.close(ax.figure)
        print(f"\nwrote {out}/ (plan.csv, plan-hosts.png)", file=sys.stdout if _people(args) else sys.stderr)
    return 0


def cmd_exercise(args) -> int:
    from vsim.experiments.exercises import TEMPLATES, exercise

    if not args.name:
        print("exercises (vsim exercise NAME --seed N [--answer]):")
        for name, (_, ask, _) in TEMPLATES.items():
            print(f"  {name:<11} {(ask.__doc__ or '').strip()}")
        return 0
    ex = exercise(args.name, seed=args.seed)
    if args.format == "json":
        doc = {"name": ex.name, "seed": ex.seed, "params": ex.params, "question": ex.question}
        if args.answer:
            a = ex.answer()
            doc["answer"] = {"values": a.values, "explanation": a.explanation}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    from vsim.results.render import wrap_text

    print(wrap_text(f"Exercise {ex.name}, seed {ex.seed}: {ex.question}"))
    if args.answer:
        print()
        for para in ex.answer().text.splitlines():
            print(wrap_text(para))
    else:
        print(f"\n(predict first; then: vsim exercise {ex.name} --seed {ex.seed} --answer)")
    return 0


def _check_out_folder(args) -> None:
    """``--out``: a folder name that is not empty, not the current folder, and
    new unless --force: refused before anything runs."""
    if args.out is None:
        return
    from vsim.spec.errors import need_path

    out = need_path(args.out, "--out")
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        raise ScenarioError(f"--out {args.out}: is the current folder or holds it; give a new folder "
                            "(e.g. --out results)")
    if out.exists() and not args.force:
        raise ScenarioError(f"--out {args.out}: already exists; choose a new folder or pass --force to replace it")


def _is_plan_file(path: str) -> bool:
    """A plan has ``demand:`` and ``architectures:`` where a scenario has ``hosts:``."""
    from vsim.spec.scenario import read_yaml

    data = read_yaml(path)
    return isinstance(data, dict) and "demand" in data and "architectures" in data and "hosts" not in data


_FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def _counts_list(text: str) -> list[int]:
    """``--counts 1,10,100``: whole numbers from 1 to 100000, separated by commas."""
    out = []
    for part in text.split(","):
        try:
            v = int(part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not a whole number; give counts from 1 to 100000 separated by commas, "
                "e.g. 1,10,100") from None
        if not 1 <= v <= 100_000:
            raise argparse.ArgumentTypeError(f"{v} is out of range; each count must be from 1 to 100000")
        out.append(v)
    return out


def _platform_list(text: str):
    """``--platforms docker,kvm``: known profile names (or profile files), separated by commas."""
    from vsim.experiments.testbed import resolve_platforms

    try:
        return resolve_platforms(text.split(","))
    except ScenarioError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("platforms: ")) from None


def _pos_int(text: str) -> int:
    v = _nonneg_int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return v


# -- parser ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vsim", description="Simulate virtualization architectures (VMs, containers, microVMs).")
    _global_flags(p, False)
    p.add_argument("--version", action="version", version=f"vsim {_version()}")
    common = _Parser(add_help=False)  # the same global flags after the command (vsim run X --debug)
    _global_flags(common, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    r = sub.add_parser("run", parents=[common], help="run a scenario and print its summary")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--out", help="write summary.json, instances.csv, phases.csv, hosts.csv and three figures here")
    r.add_argument("--force", action="store_true", help="replace an existing --out folder")
    r.add_argument("--seed", type=_nonneg_int, help="override the scenario's seed")
    r.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="override a field, e.g. --set hosts.0.memory_gib=32 (repeatable)")
    r.add_argument("--profile", action="store_true",
                   help="run under cProfile and print where the time goes (top functions) to stderr")
    r.add_argument("--lang", choices=["en", "zh"], default="en", help="labels of the --out figures")
    r.add_argument("--allow-large", action="store_true",
                   help="run even if the estimate (events, memory) is over the budget (vsim.spec.cost)")
    _format_flag(r)
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", parents=[common], help="check scenario files; exit 2 naming every bad field")
    v.add_argument("scenarios", nargs="+", help="scenario YAML file(s)")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("schema", parents=[common], help="print the JSON Schema of scenario files")
    s.set_defaults(func=cmd_schema)

    c = sub.add_parser("compare", parents=[common], help="the simulated comparison table (startup, disk, performance, density)")
    c.add_argument("--platforms", help="comma-separated profile names (default: docker,kvm,firecracker,virtualbox)")
    c.add_argument("--host", help="host shape: a scenario file whose first host group is used")
    c.add_argument("--lang", choices=["en", "zh"], default="en", help="row labels in English or Chinese")
    _format_flag(c)
    c.add_argument("--seed", type=_nonneg_int, default=0)
    c.set_defaults(func=cmd_compare)

    ck = sub.add_parser("check", parents=[common], help="how good is the model: published figures and theory against its runs, "
                                      "with the error per group; exit 1 if a case misses its tolerance")
    ck.add_argument("--group", help="comma-separated groups (default: all): startup,storms,overhead,density,"
                                    "migration,queueing")
    _format_flag(ck)
    ck.set_defaults(func=cmd_check)

    st = sub.add_parser("storm", parents=[common], help="startup p50/p95/p99 against guests started at once, with the cause at each n")
    st.add_argument("--platforms", type=_platform_list,
                    help="comma-separated profile names (default: docker,kvm,firecracker,virtualbox)")
    st.add_argument("--counts", type=_counts_list,
                    help="comma-separated numbers of guests started together (default: 1,2,5,...,500,1000)")
    st.add_argument("--host", help="host shape: a scenario file whose first host group is used")
    _format_flag(st)
    st.add_argument("--out", help="also draw the curve into this figure file (.png, .pdf or .svg)")
    st.add_argument("--lang", choices=["en", "zh"], default="en", help="labels of the --out figure")
    st.add_argument("--seed", type=_nonneg_int, default=0)
    st.set_defaults(func=cmd_storm)

    pr = sub.add_parser("profiles", parents=[common], help="list platform profiles, or show one with its sources")
    pr.add_argument("name", nargs="?", help="profile name")
    _format_flag(pr)
    pr.set_defaults(func=cmd_profiles)

    sw = sub.add_parser("sweep", parents=[common], help="run every combination of a scenario's sweep: values, with replications")
    sw.add_argument("scenario", help="scenario YAML file with sweep: (and replications:)")
    sw.add_argument("--replications", type=_pos_int, help="runs per point (default: the scenario's replications)")
    sw.add_argument("--jobs", type=_pos_int, help="worker processes (default: every core; 1 = in this process)")
    sw.add_argument("--executor", default="local",
                    help="local (processes here), dask (a Dask LocalCluster here) or dask://HOST:PORT")
    sw.add_argument("--out", help="folder: runs.jsonl (as runs finish), sweep.csv, summary.csv")
    sw.add_argument("--resume", action="store_true", help="continue the sweep in --out, skipping finished runs")
    sw.add_argument("--force", action="store_true", help="replace an existing --out folder")
    sw.add_argument("--allow-large", action="store_true",
                    help="run points whose estimate (events, memory) is over the budget (vsim.spec.cost)")
    _format_flag(sw)
    sw.set_defaults(func=cmd_sweep)

    ex = sub.add_parser("exercise", parents=[common],
                        help="a seeded problem to predict (boot-storm, density, precopy); --answer simulates it")
    ex.add_argument("name", nargs="?", help="template: boot-storm, density or precopy (none: list them)")
    ex.add_argument("--seed", type=_nonneg_int, default=0, help="which problem (the same seed, the same numbers)")
    ex.add_argument("--answer", action="store_true", help="also run the simulation and explain its answer")
    ex.add_argument("--format", choices=["table", "json"], default="table")
    ex.set_defaults(func=cmd_exercise)

    pl = sub.add_parser("plan", parents=[common], help="capacity planning: fewest hosts per architecture meeting the targets")
    pl.add_argument("plan", help="plan YAML file")
    pl.add_argument("--jobs", type=_pos_int, default=1, help="search cases in this many local processes")
    _format_flag(pl)
    pl.add_argument("--out", help="write plan.csv and plan-hosts.png here")
    pl.add_argument("--force", action="store_true", help="write into an existing --out folder")
    pl.set_defaults(func=cmd_plan)
    return p


def _global_flags(p: argparse.ArgumentParser, default) -> None:
    p.add_argument("--debug", action="store_true", default=default,
                   help="show full tracebacks (or set VSIM_DEBUG=1)")
    p.add_argument("--wide", action="store_true", default=default,
                   help="print tables at their natural width instead of fitting the terminal (100 columns)")


def _format_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "markdown", "csv", "json"], default="table",
                   help="table (for people, fits the terminal), markdown, or csv / json (numbers, units in the "
                        "column names)")


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return v


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("vsim")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("VSIM_DEBUG", "") not in ("", "0")
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        return code
    except ScenarioError as exc:
        if debug:
            traceback.print_exc()
        print(f"vsim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("vsim: interrupted", file=sys.stderr)
        return 130
    except MemoryError:  # past the estimate's budget on purpose (--allow-large), or a small machine
        print("vsim: out of memory: the run needs more than this machine (or its limits) gives it; make it smaller "
              "(fewer guests, hosts, requests or a shorter duration_s)", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a full disk, a read-only folder: the user's to fix, not a bug
        if debug:
            traceback.print_exc()
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more can be written there
        except OSError:
            pass
        print(f"vsim: cannot write: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else ""),
              file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug: say so plainly, show details only with --debug
        if debug:
            traceback.print_exc()
        else:
            print(f"vsim: internal error: {type(exc).__name__}: {exc}\n"
                  "This is a bug in vsim; run again with --debug for the traceback and report it.",
                  file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
