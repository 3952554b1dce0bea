"""The ``vsim`` command: thin wrappers over the library.

Commands::

    vsim run SCENARIO [--out DIR] [--seed N] [--set path=value ...]
    vsim validate SCENARIO ...
    vsim schema
    vsim compare [...]
    vsim profiles [NAME]

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

from vsim.errors import ScenarioError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: exit 2 with usage
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"vsim: error: {message}\n")


def _fmt_table(df, floatfmt: str = "{:.3g}") -> str:
    """A plain-text table without extra dependencies."""
    import math

    cols = [str(c) for c in df.columns]
    rows = []
    for rec in df.itertuples(index=False):
        cells = []
        for v in rec:
            if isinstance(v, float):
                cells.append("-" if math.isnan(v) else floatfmt.format(v))
            else:
                cells.append(str(v))
        rows.append(cells)
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    return "\n".join(out)


# -- commands --------------------------------------------------------------------

def cmd_run(args) -> int:
    from vsim.scenario import load_scenario
    from vsim.world import simulate

    sc = load_scenario(args.scenario, overrides=args.set)
    if args.out and Path(args.out).exists() and not args.force:
        raise ScenarioError(f"--out {args.out}: already exists; choose a new folder or pass --force to replace it")
    res = simulate(sc, seed=args.seed)
    s = res.summary
    print(f"scenario {s['scenario']!r}  seed {s['seed']}  simulated {s['sim_end_s']:.3f} s  "
          f"({s['events']} events in {s['wall_s']:.2f} s wall)")
    print()
    print(_fmt_table(res.summary_table()))
    print()
    print("final states: " + ", ".join(f"{k} {v}" for k, v in s["states"].items()))
    hosts = res.hosts
    print(f"guests per host (peak): mean {hosts['peak_guests'].mean():.1f}, max {hosts['peak_guests'].max()}"
          f" over {len(hosts)} host(s)")
    if s["rejections"]:
        print("rejected:")
        for reason, n in s["rejections"].items():
            print(f"  {n} x {reason}")
    if args.out:
        dest = res.save(args.out, force=args.force)
        print(f"\nwrote {dest}/ (summary.json, instances.csv, phases.csv, hosts.csv, startup-timeline.png)")
    return 0


def cmd_validate(args) -> int:
    from vsim.scenario import load_scenario

    bad = 0
    for f in args.scenarios:
        try:
            sc = load_scenario(f)
        except ScenarioError as exc:
            print(str(exc), file=sys.stderr)
            bad += 1
            continue
        print(f"{f}: ok ({len(sc.hosts)} host group(s), {len(sc.workloads)} workload(s), "
              f"{sc.guest_count()} guest(s))")
    return EXIT_USAGE if bad else 0


def cmd_schema(args) -> int:
    from vsim.scenario import scenario_schema

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
    print(render(df, args.format))
    return 0


def cmd_profiles(args) -> int:
    from vsim.experiments.profiles import profile_detail, profile_table

    if args.name:
        print(profile_detail(args.name))
    else:
        print(_fmt_table(profile_table()))
    return 0


# -- parser ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vsim", description="Simulate virtualization architectures (VMs, containers, microVMs).")
    p.add_argument("--debug", action="store_true", help="show full tracebacks (or set VSIM_DEBUG=1)")
    p.add_argument("--version", action="version", version=f"vsim {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    r = sub.add_parser("run", help="run a scenario and print its summary")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--out", help="write summary.json, instances.csv, phases.csv, hosts.csv and a figure here")
    r.add_argument("--force", action="store_true", help="replace an existing --out folder")
    r.add_argument("--seed", type=_nonneg_int, help="override the scenario's seed")
    r.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="override a field, e.g. --set hosts.0.memory_gib=32 (repeatable)")
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", help="check scenario files; exit 2 naming every bad field")
    v.add_argument("scenarios", nargs="+", help="scenario YAML file(s)")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    s.set_defaults(func=cmd_schema)

    c = sub.add_parser("compare", help="the simulated comparison table (startup, disk, performance, density)")
    c.add_argument("--platforms", help="comma-separated profile names (default: docker,kvm,firecracker,virtualbox)")
    c.add_argument("--host", help="host shape: a scenario file whose first host group is used")
    c.add_argument("--lang", choices=["en", "zh"], default="en", help="row labels in English or Chinese")
    c.add_argument("--format", choices=["table", "markdown", "csv", "json"], default="table")
    c.add_argument("--seed", type=_nonneg_int, default=0)
    c.set_defaults(func=cmd_compare)

    pr = sub.add_parser("profiles", help="list platform profiles, or show one with its sources")
    pr.add_argument("name", nargs="?", help="profile name")
    pr.set_defaults(func=cmd_profiles)
    return p


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
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        if debug:
            traceback.print_exc()
        print(f"vsim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("vsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
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
