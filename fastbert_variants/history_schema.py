"""The history's tables, as SQLAlchemy models; Alembic's migrations (fastbert_variants/migrations) make them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)  # the same run, added twice
    latency: Mapped[list[StoredLatency]] = relationship(back_populates="run", cascade="all, delete-orphan")
    accuracy: Mapped[list[StoredAccuracy]] = relationship(back_populates="run", cascade="all, delete-orphan")
    others: Mapped[list[StoredResult]] = relationship(back_populates="run", cascade="all, delete-orphan")


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


class StoredResult(Base):
    """A result of any other scenario (offline, server, an installed one), kept whole by its kind."""

    __tablename__ = "scenario_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    device: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str] = mapped_column(String(100), index=True)
    where: Mapped[str] = mapped_column(String(100))
    speedup: Mapped[float | None] = mapped_column(Float)  # over FP32, where the kind has one
    result: Mapped[dict] = mapped_column(JSON)
    run: Mapped[StoredRun] = relationship(back_populates="others")


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
