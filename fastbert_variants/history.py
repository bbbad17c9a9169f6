"""Every run kept: speedups and accuracies by commit, branch and kind of machine, in a real database.

SQLAlchemy, so one code path serves the default SQLite file in the cache directory and a team's
PostgreSQL (`--db URL` or $FASTBERT_VARIANTS_DB). Alembic owns the schema (fastbert_variants/migrations):
opening a history upgrades it to the newest revision, so an older database is migrated, never
rewritten by hand. A run's results keep their raw block ratios, so a new run can be tested against
the pooled blocks of the last runs of a branch, on the same kind of machine.
"""

from __future__ import annotations

import os
import statistics
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, create_engine, event, select
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from .db_urls import redacted, shown_url
from .errors import UserError
from .results import AccuracyResult, LatencyResult
from .runs import Run
from .timing import median_ci
from .variants import BASELINE

DB_ENV = "FASTBERT_VARIANTS_DB"
__all__ = ["DB_ENV", "add_run", "baseline", "database_url", "open_history", "redacted", "shown_url", "stored_runs"]


class Base(DeclarativeBase):
    pass


class StoredRun(Base):
    """One run of the suite: where and on what it ran."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ran_at: Mapped[str | None] = mapped_column(String(40))  # pytest-benchmark's datetime, as written
    commit_id: Mapped[str | None] = mapped_column(String(64), index=True)
    branch: Mapped[str] = mapped_column(String(200), index=True)
    dirty: Mapped[bool | None] = mapped_column(Boolean)
    machine_kind: Mapped[str] = mapped_column(String(300), index=True)
    machine: Mapped[dict] = mapped_column(JSON)  # machine_info's fastbert_variants facts
    model: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(1000))  # the files it was read from
    latency: Mapped[list[StoredLatency]] = relationship(back_populates="run", cascade="all, delete-orphan")
    accuracy: Mapped[list[StoredAccuracy]] = relationship(back_populates="run", cascade="all, delete-orphan")


class StoredLatency(Base):
    __tablename__ = "latency_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    device: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str] = mapped_column(String(100), index=True)
    batch_size: Mapped[int] = mapped_column(Integer)
    seq_len: Mapped[int] = mapped_column(Integer)
    cell: Mapped[str] = mapped_column(String(100))
    median_ms: Mapped[float] = mapped_column(Float)
    speedup: Mapped[float] = mapped_column(Float)
    result: Mapped[dict] = mapped_column(JSON)  # the whole extra_info, block ratios included
    run: Mapped[StoredRun] = relationship(back_populates="latency")


class StoredAccuracy(Base):
    __tablename__ = "accuracy_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))  # cpu/ort-int8-dynamic, cpu/ort-int8-dynamic/long-texts
    accuracy: Mapped[float] = mapped_column(Float)
    drop_points: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[dict] = mapped_column(JSON)
    run: Mapped[StoredRun] = relationship(back_populates="accuracy")


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
    facts, first = run.machine, run.first
    threads = getattr(first, "threads", None) or "?"
    kind = f"{facts.get('cpu') or 'unknown CPU'} ({facts.get('cpu_isa') or '?'}), {threads} threads"
    return kind + (f", {facts['gpu']}" if facts.get("gpu") else "")


def add_run(engine, run: Run, branch: str | None = None, commit: str | None = None,
            kind: str | None = None) -> StoredRun:
    branch = branch or run.commit.get("branch")
    if not branch or branch == "(unknown)":
        raise UserError(f"{run.sources[0]} does not say its git branch (run outside a checkout, or a detached HEAD): "
                        "pass --branch NAME")
    if not run.measured and not run.accuracy:
        raise UserError(f"{', '.join(run.sources)} holds no results to keep")
    stored = StoredRun(
        added_at=datetime.now(timezone.utc), ran_at=run.datetime, commit_id=commit or run.commit.get("id"),
        branch=branch, dirty=run.commit.get("dirty"), machine_kind=kind or machine_kind(run), machine=run.machine,
        model=getattr(run.first, "model", None) or next((r.model for r in (run.accuracy or {}).values()), None),
        source=", ".join(run.sources),
        latency=[StoredLatency(device=r.device, variant=r.variant, batch_size=r.batch_size, seq_len=r.seq_len,
                               cell=r.cell, median_ms=r.median_ms, speedup=r.speedup.median, result=r.to_json())
                 for r in run.of_kind("latency")],
        accuracy=[StoredAccuracy(key=key, accuracy=r.scores.accuracy, drop_points=r.drop_points,
                                 passed=r.passed, result=r.to_json()) for key, r in (run.accuracy or {}).items()],
    )
    with database_errors(str(engine.url)), Session(engine, expire_on_commit=False) as session:
        session.add(stored)
        session.commit()
        _ = stored.latency, stored.accuracy
    return stored


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
            _ = run.latency, run.accuracy
    return runs[::-1]


def speedup_series(runs: list[StoredRun], cells: list[str] | None = None) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Each variant's speedup over torch-fp32 by run, oldest first: {"machine kind\ncell": {variant: [(run id, speedup)]}}
    (what `history show` prints and plots); `cells` keeps only those cells."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for run in runs:
        for r in run.latency:
            if r.variant != BASELINE and (not cells or r.cell in cells):
                series.setdefault(f"{run.machine_kind}\n{r.cell}", {}).setdefault(r.variant, []).append((run.id, r.speedup))
    return series


@dataclass
class HistoryBaseline:
    run: Run
    stored: list[StoredRun]

    def describe(self) -> str:
        ids = ", ".join(f"#{r.id} {(r.commit_id or '?')[:8]}" for r in self.stored)
        return f"the median of {len(self.stored)} run(s) of {self.stored[0].branch} on {self.stored[0].machine_kind}: {ids}"


def baseline(engine, branch: str, kind: str, last: int) -> HistoryBaseline:
    """A Run made of the last runs: per result, the median speedup, and the blocks of every run pooled for the test;
    per accuracy record, the median accuracy, passed if most runs passed."""
    if last < 1:
        raise UserError(f"--last must be 1 or more, got {last}")
    stored = stored_runs(engine, branch, kind, last)
    if not stored:
        known = sorted({(r.branch, r.machine_kind) for r in stored_runs(engine)})
        raise UserError(f"the history holds no run of branch {branch!r} on {kind!r}; it holds: "
                        + ("; ".join(f"{b} on {k}" for b, k in known) or "nothing yet (fastbert-variants history add)"))
    latency: dict[tuple, list[LatencyResult]] = {}
    for run in stored:
        for result in run.latency:
            latency.setdefault((result.cell, result.variant), []).append(LatencyResult.from_json(result.result))
    pooled = []
    for results in latency.values():
        ratios = tuple(x for r in results for x in r.speedup.ratios)
        speedup = replace(results[-1].speedup, median=statistics.median(r.speedup.median for r in results),
                          ratios=ratios, ci95=median_ci(ratios) if ratios else results[-1].speedup.ci95)
        pooled.append(replace(results[-1], speedup=speedup, median_ms=statistics.median(r.median_ms for r in results)))
    accuracy: dict[str, list[AccuracyResult]] = {}
    for run in stored:
        for record in run.accuracy:
            accuracy.setdefault(record.key, []).append(AccuracyResult.from_json(record.result, record.key))
    merged = {key: replace(records[-1], scores=replace(records[-1].scores,
                                                       accuracy=statistics.median(r.scores.accuracy for r in records)),
                           passed=2 * sum(r.passed for r in records) > len(records))
              for key, records in accuracy.items()}
    run = Run.of(*pooled, accuracy=merged, sources=[f"history #{r.id}" for r in stored])
    return HistoryBaseline(run, stored)
