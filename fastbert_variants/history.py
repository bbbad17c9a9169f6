"""Every run kept: speedups and accuracies by commit, branch and kind of machine, in a real database.

SQLAlchemy, so one code path serves the default SQLite file in the cache directory and a team's
PostgreSQL (`--db URL` or $FASTBERT_VARIANTS_DB). Alembic owns the schema (fastbert_variants/migrations):
opening a history upgrades it to the newest revision, so an older database is migrated, never
rewritten by hand. Every scenario's results are kept whole (the fixed cells in their own table, every
other kind by kind), so a new run can be judged against the last runs of a branch on the same kind of
machine, and against how far those runs moved between themselves (compare.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from .db_urls import redacted, shown_url
from .errors import UserError
from .history_schema import Base, StoredAccuracy, StoredLatency, StoredResult, StoredRun
from .results import AccuracyResult, LatencyResult
from .runs import Run
from .variants import BASELINE

DB_ENV = "FASTBERT_VARIANTS_DB"
__all__ = ["DB_ENV", "Base", "add_run", "baseline", "database_url", "open_history", "redacted", "shown_url", "stored_runs"]


def database_url(given: str | None, cache_dir: Path) -> str:
    """--db, else $FASTBERT_VARIANTS_DB, else an SQLite file in the cache directory."""
    url = given or os.environ.get(DB_ENV)
    if not url:
        return f"sqlite:///{cache_dir / 'history.sqlite'}"
    if url.startswith(("postgresql://", "postgres://")):  # SQLAlchemy's default driver for these is psycopg2
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_path(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") else None


def open_history(url: str, create: bool = True):
    """An engine on the history at `url`, its schema migrated to Alembic's head; one-line errors.

    create=False (the commands that only read) refuses an SQLite file that is not there, rather than make an
    empty database at a mistyped path."""
    try:
        sqlite_file = _sqlite_path(url)
        if sqlite_file is not None and not sqlite_file.is_file():
            if not create:
                raise UserError(f"no history at {sqlite_file}: add a run first (fastbert-variants history add RUN), "
                                "or check --db / $FASTBERT_VARIANTS_DB")
            sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
    except (ArgumentError, ValueError) as exc:
        raise UserError(f"--db {shown_url(url)!r} is not a database URL ({redacted(str(exc), url)}); "
                        "e.g. sqlite:///history.sqlite or postgresql://user:password@host/dbname") from None
    except (NoSuchModuleError, ImportError) as exc:
        raise UserError(f"no driver for {shown_url(url)} ({redacted(str(exc), url)}); for PostgreSQL: pip install 'fastbert-variants[postgres]'"
                        ) from None
    if engine.dialect.name == "sqlite":
        _transactional_ddl(engine)
    with database_errors(url):
        migrate(engine)
    return engine


@contextmanager
def database_errors(url: str):
    """What the database or Alembic says, as one line: a lock held too long, a newer schema, no server."""
    from alembic.util import CommandError

    try:
        yield
    except (OperationalError, ProgrammingError) as exc:
        first = redacted((str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0], url)
        hint = "; another process holds it: retry when it is done" if "locked" in first else ""
        raise UserError(f"cannot open the history at {shown_url(url)}: {first}{hint}") from None
    except CommandError as exc:
        raise UserError(f"the history at {shown_url(url)} is at a schema revision this fastbert-variants does not know "
                        f"({redacted(str(exc).splitlines()[0], url)}): a newer release wrote it; upgrade fastbert-variants") from None


def _transactional_ddl(engine) -> None:
    """SQLAlchemy's pysqlite recipe: let SQLAlchemy, not the driver, emit BEGIN, so DDL is transactional too and a
    killed migration leaves nothing half made; migrations take the write lock at BEGIN (IMMEDIATE), so two first opens
    at once run one after the other."""
    @event.listens_for(engine, "connect")
    def _driver_stays_out(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql(connection.info.pop("begin", "BEGIN"))


def migrate(engine, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.info["begin"] = "BEGIN IMMEDIATE"
        with connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, revision)


def machine_kind(run: Run) -> str:
    """What makes two runs' speedups comparable: the CPU, its instruction set, the threads and the GPU."""
    return run.machine_kind


def fingerprint(run: Run) -> str:
    """The same run read from any path: its commit, start time, machine and every figure it kept."""
    figures = sorted(json.dumps(r.to_json(), sort_keys=True, default=str) for rs in run.records.values() for r in rs)
    accuracy = sorted(json.dumps(r.to_json(), sort_keys=True, default=str) for r in (run.accuracy or {}).values())
    facts = json.dumps([run.commit.get("id"), run.datetime, run.machine, figures, accuracy], sort_keys=True, default=str)
    return hashlib.sha256(facts.encode()).hexdigest()


def _check_fits(field: str, value, option: str | None, run: Run) -> None:
    """A value longer than its column: one line here, where SQLite would keep it and PostgreSQL raise a DataError."""
    longest = getattr(StoredRun, field).type.length
    if value is not None and (not isinstance(value, str) or len(value) > longest):
        fix = f"give {option} of at most {longest} characters" if option else "rewrite the run with pytest --benchmark-json"
        raise UserError(f"{run.sources[0] if run.sources else 'the run'}: its {field} is "
                        f"{'not text' if not isinstance(value, str) else f'{len(value)} characters long'} "
                        f"(the history keeps {longest}); {fix}")


def add_run(engine, run: Run, branch: str | None = None, commit: str | None = None,
            kind: str | None = None) -> StoredRun:
    branch = branch or run.commit.get("branch")
    if not branch or branch == "(unknown)":
        raise UserError(f"{run.sources[0]} does not say its git branch (run outside a checkout, or a detached HEAD): "
                        "pass --branch NAME")
    if not run.measured and not run.accuracy:
        raise UserError(f"{', '.join(run.sources)} holds no results to keep")
    commit = commit or run.commit.get("id")
    dirty = run.commit.get("dirty")
    if dirty is not None and not isinstance(dirty, bool):
        raise UserError(f"{run.sources[0]}: commit_info.dirty is {dirty!r}, not true or false; rewrite the run with "
                        "pytest --benchmark-json")
    for field, value, option in (("branch", branch, "--branch"), ("commit_id", commit, "--commit"),
                                 ("ran_at", run.datetime, None), ("model", run.model, None),
                                 ("machine_kind", kind or machine_kind(run), "--machine-kind")):
        _check_fits(field, value, option, run)
    stamp = fingerprint(run)
    with database_errors(str(engine.url)), Session(engine) as session:
        already = session.scalar(select(StoredRun.id).where(StoredRun.fingerprint == stamp))
    if already is not None:  # pooled twice, one run would count as two and narrow the spread it is judged by
        raise UserError(f"{', '.join(run.sources)} is already in the history as run #{already} (the same commit, time, "
                        "machine and results); nothing added")
    _check_json(run)
    stored = StoredRun(
        added_at=datetime.now(timezone.utc), ran_at=run.datetime, commit_id=commit,
        branch=branch, dirty=dirty, machine_kind=kind or machine_kind(run), machine=run.machine,
        model=run.model, source=", ".join(run.sources)[:StoredRun.source.type.length], fingerprint=stamp,
        latency=[StoredLatency(device=r.device, variant=r.variant, batch_size=r.batch_size, seq_len=r.seq_len,
                               cell=r.cell, median_ms=r.median_ms, speedup=r.speedup.median, result=r.to_json())
                 for r in run.of_kind("latency")],
        others=[StoredResult(kind=kind_, device=r.device, variant=r.variant, where=r.where,
                             speedup=r.speedup.median if hasattr(r, "speedup") else None, result=r.to_json())
                for kind_, records in run.records.items() if kind_ != "latency" for r in records],
        accuracy=[StoredAccuracy(key=key, accuracy=r.scores.accuracy, drop_points=r.drop_points,
                                 passed=r.passed, result=r.to_json()) for key, r in (run.accuracy or {}).items()],
    )
    with database_errors(str(engine.url)), Session(engine, expire_on_commit=False) as session:
        session.add(stored)
        session.commit()
        _ = stored.latency, stored.accuracy, stored.others
    return stored


def _check_json(run: Run) -> None:
    """What the history keeps as JSON must be JSON: NaN and Infinity are not (PostgreSQL refuses them with a
    traceback; SQLite kept them as text no JSON reader takes back). One line naming where, on every database."""
    import json

    kept = [("machine_info", run.machine)]
    kept += [(f"the {kind} result {getattr(r, 'where', '')} {r.variant}".replace("  ", " "), r.to_json())
             for kind, records in run.records.items() for r in records]
    kept += [(f"the accuracy record {key}", r.to_json()) for key, r in (run.accuracy or {}).items()]
    for where, value in kept:
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise UserError(f"{run.sources[0]}: {where} holds NaN or Infinity, which the history cannot keep (not "
                            "JSON); rerun, or mend the file") from None


def stored_runs(engine, branch: str | None = None, kind: str | None = None, last: int | None = None
                ) -> list[StoredRun]:
    """Runs oldest first; with `last`, the newest `last` of them."""
    query = select(StoredRun).order_by(StoredRun.id.desc())
    if branch:
        query = query.where(StoredRun.branch == branch)
    if kind:
        query = query.where(StoredRun.machine_kind == kind)
    if last:
        query = query.limit(last)
    with database_errors(str(engine.url)), Session(engine, expire_on_commit=False) as session:
        runs = list(session.scalars(query))
        for run in runs:
            _ = run.latency, run.accuracy, run.others
    return runs[::-1]


def speedup_series(runs: list[StoredRun], cells: list[str] | None = None) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Each variant's speedup over torch-fp32 by run, oldest first, in every scenario that has one:
    {"machine kind\ncell": {variant: [(run id, speedup)]}} (what `history show` prints and plots); `cells` keeps only
    those cells (`cpu-b1-s128`, `cpu-offline-b8-dynamic`)."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for run in runs:
        rows = [(r.cell, r.variant, r.speedup) for r in run.latency]
        rows += [(r.where, r.variant, r.speedup) for r in run.others if r.speedup is not None]
        for where, variant, speedup in rows:
            if variant != BASELINE and (not cells or where in cells):
                series.setdefault(f"{run.machine_kind}\n{where}", {}).setdefault(variant, []).append((run.id, speedup))
    return series


def capacity_series(runs: list[StoredRun], paired: bool = False) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """The server scenario's capacities (requests/s within its p99 budget) by run, in the same shape; `paired`: each
    over torch-fp32's found in the same alternating loads, where the run served torch-fp32 beside it (the figure
    that a drift of the machine's speed does not move; torch-fp32's own search is noisy, so read it a step or two wide)."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for run in runs:
        for r in run.others:
            capacity, baseline = (float(r.result.get(k) or 0.0) for k in ("capacity_per_s", "baseline_capacity_per_s"))
            if r.kind == "server" and (baseline or not paired):
                series.setdefault(f"{run.machine_kind}\n{r.where}", {}).setdefault(r.variant, []).append(
                    (run.id, capacity / baseline if paired else capacity))
    return series


@dataclass
class HistoryBaseline:
    runs: list[Run]  # each stored run, read back: the comparison's bases
    accuracy: Run  # per accuracy record, the median accuracy, passed if most runs passed
    stored: list[StoredRun]

    def describe(self) -> str:
        ids = ", ".join(f"#{r.id} {(r.commit_id or '?')[:8]}" for r in self.stored)
        return f"the last {len(self.stored)} run(s) of {self.stored[0].branch} on {self.stored[0].machine_kind}: {ids}"


def as_run(stored: StoredRun) -> Run:
    """A stored run read back into a Run: every record whose kind an installed scenario reads."""
    from .results import RECORDS, read_result

    records = [LatencyResult.from_json(r.result) for r in stored.latency]
    records += [read_result(r.result) for r in stored.others if r.kind in RECORDS]
    accuracy = [AccuracyResult.from_json(r.result, r.key) for r in stored.accuracy]
    return Run.of(*records, accuracy=accuracy or None, sources=[f"history #{stored.id}"], machine=stored.machine,
                  commit={"id": stored.commit_id, "branch": stored.branch}, datetime=stored.ran_at)


def baseline(engine, branch: str, kind: str, last: int) -> HistoryBaseline:
    """The last runs of a branch on a kind of machine, each read back; their accuracy records merged."""
    if last < 1:
        raise UserError(f"--last must be 1 or more, got {last}")
    stored = stored_runs(engine, branch, kind, last)
    if not stored:
        known = sorted({(r.branch, r.machine_kind) for r in stored_runs(engine)})
        raise UserError(f"the history holds no run of branch {branch!r} on {kind!r}; it holds: "
                        + ("; ".join(f"{b} on {k}" for b, k in known) or "nothing yet (fastbert-variants history add)"))
    runs = [as_run(r) for r in stored]
    accuracy: dict[str, list[AccuracyResult]] = {}
    for run in runs:
        for key, record in (run.accuracy or {}).items():
            accuracy.setdefault(key, []).append(record)
    merged = {key: replace(records[-1], scores=replace(records[-1].scores,
                                                       accuracy=statistics.median(r.scores.accuracy for r in records)),
                           passed=2 * sum(r.passed for r in records) > len(records))
              for key, records in accuracy.items()}
    return HistoryBaseline(runs, Run.of(accuracy=merged or None, sources=[f"history #{r.id}" for r in stored]), stored)
