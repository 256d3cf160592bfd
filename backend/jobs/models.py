"""What the database knows about scheduled jobs: one lease per job, and which scheduler instances are alive."""
from datetime import datetime

from sqlmodel import Field, SQLModel


class JobLease(SQLModel, table=True):
    """One row per job: when it is next due, who holds it now, and how its runs went (docs/operations.md)."""

    __tablename__ = "job_lease"
    name: str = Field(primary_key=True, max_length=64)
    due_at: datetime  # the slot the next run is for; a run moves it to the slot after
    schedule: str = Field(default="", max_length=64)  # as the scheduler says it: "every 5 s", "daily at 08:00"
    holder: str | None = Field(default=None, max_length=128)
    until: datetime | None = None  # the holder's lease ends then; after it anyone may take the job
    last_slot: datetime | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_holder: str | None = Field(default=None, max_length=128)
    last_outcome: str = Field(default="", max_length=16)  # ok or failed
    last_error: str | None = Field(default=None, max_length=255)
    last_touched: int = 0
    runs: int = 0
    failures: int = 0


class SchedulerInstance(SQLModel, table=True):
    """A process that runs scheduled jobs, as it last reported itself."""

    __tablename__ = "scheduler_instance"
    holder: str = Field(primary_key=True, max_length=128)
    started_at: datetime
    seen_at: datetime = Field(index=True)
