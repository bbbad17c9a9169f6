"""The commands that look across runs: compare two runs (or a run and the history), replicate runs to measure their
noise, keep runs in the history. Parse into the library's terms, call it, print; exit 1 only for a regression."""

from __future__ import annotations

import json
from pathlib import Path

from tabulate import tabulate

from .. import options
from ..errors import UserError


def cmd_compare(args) -> int:
    """Exit 1 when NEW regressed from BASE (or from the history's last runs) in speedup over FP32 or in accuracy."""
    from .. import noise
    from ..comparable import refuse_if_different
    from ..compare import compare_runs, verdict_lines
    from ..plan import variant_names
    from ..runs import load_run

    loss = options.parse_percent(args.max_speedup_loss, "--max-speedup-loss")
    significance = options.parse_significance(args.significance)
    allowed = options.parse_allowed(args.allow_different)
    named = variant_names(args.variants)
    variants = set(named) if named else None
    if args.against_history:
        if len(args.runs) != 1:
            raise UserError("with --against-history give the new run alone: compare NEW --against-history BRANCH")
        from .. import history

        new = load_run(args.runs[0], *filter(None, [args.new_accuracy]))
        engine = history.open_history(history.database_url(args.db, options.cache_dir(args)), create=False)
        found = history.baseline(engine, args.against_history, args.machine_kind or history.machine_kind(new), args.last)
        bases, base_accuracy = found.runs, found.accuracy
        print(f"BASE: {found.describe()}")
    else:
        if len(args.runs) != 2:
            raise UserError("give BASE and NEW (two runs), or NEW alone with --against-history BRANCH")
        bases = [load_run(args.runs[0], *filter(None, [args.base_accuracy]))]
        new, base_accuracy = load_run(args.runs[1], *filter(None, [args.new_accuracy])), bases[0]
    for base in bases:
        refuse_if_different(base, new, allowed, "BASE and NEW" if len(bases) == 1 else f"{base.sources[0]} and NEW")
    spread, said = noise.choose(args.noise, bases, new, allowed)
    changes = compare_runs(bases, new, loss, args.max_accuracy_drop, spread, significance, variants, base_accuracy)
    print("\n".join(verdict_lines(changes, bases, new, loss, significance, args.max_accuracy_drop, said, allowed)))
    return 1 if any(c.regressed for c in changes) else 0


def cmd_replicate(args) -> int:
    """K runs of the timed tests in fresh processes, then their between-run spread (noise.json beside them)."""
    from ..replicate import DEFAULT_PYTEST_ARGS, replicate

    pytest_args = [a for a in args.pytest_args if a != "--"] or list(DEFAULT_PYTEST_ARGS)
    out = Path(args.out)
    print(f"{args.runs} runs of: pytest {' '.join(pytest_args)}", flush=True)
    files = replicate(args.runs, out, pytest_args, say=lambda line: print(line, flush=True))
    return _write_noise([str(f) for f in files], out / "noise.json")


def cmd_noise(args) -> int:
    return _write_noise(args.runs, Path(args.out))


def _write_noise(runs: list[str], out: Path) -> int:
    from ..files import write_atomically
    from ..noise import measure_noise, noise_table
    from ..runs import load_run

    measured = measure_noise([load_run(r) for r in runs])
    write_atomically(out, json.dumps(measured.to_json(), indent=1))
    print("\n".join(noise_table(measured)))
    for why in measured.left_out:
        print(f"left out: {why}")
    print(f"wrote {out}: the between-run spread of {measured.runs} runs on {measured.machine_kind}; gate with "
          f"fastbert-variants compare BASE NEW --noise {out}")
    return 0


def cmd_history_add(args) -> int:
    from .. import history
    from ..runs import load_run

    run = load_run(args.run, *filter(None, [args.accuracy]))
    url = history.database_url(args.db, options.cache_dir(args))
    stored = history.add_run(history.open_history(url), run, args.branch, args.commit, args.machine_kind)
    counts = {kind: len(records) for kind, records in run.records.items() if records}
    counts["accuracy"] = len(stored.accuracy)
    print(f"stored run #{stored.id} in {history.shown_url(url)}: branch {stored.branch}, commit "
          f"{(stored.commit_id or '?')[:12]}, {stored.machine_kind}; "
          + ", ".join(f"{count} {kind}" for kind, count in counts.items()) + " results")
    return 0


def cmd_history_show(args) -> int:
    """Each variant's speedup over the stored runs, per machine kind and cell; with --plot, the same as a PNG."""
    from .. import history

    if args.plot and (Path(args.plot).is_dir() or Path(args.plot).suffix.lower() != ".png"):
        raise UserError(f"--plot {args.plot}: name a .png file to draw into, e.g. --plot history.png")
    url = history.database_url(args.db, options.cache_dir(args))
    runs = history.stored_runs(history.open_history(url, create=False), args.branch, args.machine_kind, args.last)
    if not runs:
        raise UserError(f"the history at {history.shown_url(url)} holds no runs"
                        + (f" of branch {args.branch}" if args.branch else "") + "; add one: fastbert-variants history "
                        "add RUN.json")
    cells = [c.strip() for c in args.cell.split(",") if c.strip()] if args.cell else None
    series = history.speedup_series(runs, cells)
    if cells and not series:
        raise UserError(f"--cell {args.cell}: no stored run timed {'that cell' if len(cells) == 1 else 'those cells'}; "
                        "give cells as the tables name them, e.g. cpu-b1-s128 or cpu-offline-b8-dynamic")
    print("runs: " + "; ".join(f"#{r.id} {r.branch} {(r.commit_id or '?')[:8]} {(r.ran_at or str(r.added_at))[:16]}"
                               for r in runs))
    server = not args.cell
    for what, shown in (("speedup over torch-fp32", series),
                        ("server capacity, requests/s", history.capacity_series(runs) if server else {}),
                        ("server capacity over torch-fp32's, in alternating loads",
                         history.capacity_series(runs, paired=True) if server else {})):
        for panel, lines in shown.items():
            ids = [r.id for r in runs if any(i == r.id for points in lines.values() for i, _ in points)]
            print(f"\n{panel.replace(chr(10), ': ')}  ({what}, by run)")
            rows = [[variant, *(f"{dict(points)[i]:.2f}" if i in dict(points) else "-" for i in ids)]
                    for variant, points in sorted(lines.items())]
            print(tabulate(rows, headers=["variant", *(f"#{i}" for i in ids)], tablefmt="plain", disable_numparse=True))
    if args.plot and not series:
        print(f"no plot: the stored runs hold no speedup to draw ({args.plot} not written)")
    elif args.plot:
        from ..plots import history_plot

        # no database URL in the figure: an uploaded PNG is out of reach of a CI log's masking
        out = history_plot(series, Path(args.plot), f"speedup over torch-fp32 by run, {len(runs)} run(s)")
        print(f"wrote {out} (runs of {history.shown_url(url)})")
    return 0
