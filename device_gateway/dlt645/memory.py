"""What a smart meter keeps in flash, kept by the bridge for each bridged meter: written when it changes."""
import json
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.core.clock import utcnow
from backend.dtu.models import Dlt645Memory

REMEMBERED_ANSWERS = 256
REMEMBERED_ENDS = 32


class OutletMemory(BaseModel):
    session_id: int | None = None
    start_wh: int | None = None
    cutoff_wh: int | None = None  # start register + the session's energy limit
    ended: dict[int, int] = Field(default_factory=dict)  # session id → stop register, oldest first

    def start(self, session_id: int, start_wh: int, limit_wh: int | None) -> None:
        self.session_id, self.start_wh = session_id, start_wh
        self.cutoff_wh = None if limit_wh is None else start_wh + limit_wh

    def end(self, stop_wh: int) -> int:
        """Forget the running session, remembering its stop register; return its id."""
        ended = self.session_id
        self.ended[ended] = stop_wh
        while len(self.ended) > REMEMBERED_ENDS:
            self.ended.pop(next(iter(self.ended)))
        self.session_id = self.start_wh = self.cutoff_wh = None
        return ended


class BridgeMemory(BaseModel):
    outlets: dict[int, OutletMemory] = Field(default_factory=dict)
    answers: dict[str, str] = Field(default_factory=dict)  # cmd_id → the ack sent (JSON), oldest first
    unconfirmed: dict[int, str] = Field(default_factory=dict)  # session id → its session_ended record (JSON)

    def outlet(self, channel: int) -> OutletMemory:
        return self.outlets.setdefault(channel, OutletMemory())

    def answered(self, cmd_id: str, ack_json: str) -> None:
        self.answers.pop(cmd_id, None)
        self.answers[cmd_id] = ack_json
        while len(self.answers) > REMEMBERED_ANSWERS:
            self.answers.pop(next(iter(self.answers)))


class MemoryStore:
    """Reads and writes each bridged meter's memory in the `dlt645_memory` table."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow):
        self._engine = engine
        self._clock = clock

    def load(self, meter_id: int) -> BridgeMemory:
        with Session(self._engine) as db:
            row = db.get(Dlt645Memory, meter_id)
            return BridgeMemory.model_validate(json.loads(row.state)) if row else BridgeMemory()

    def save(self, meter_id: int, memory: BridgeMemory) -> None:
        with Session(self._engine) as db:
            row = db.get(Dlt645Memory, meter_id) or Dlt645Memory(meter_id=meter_id, state="")
            row.state, row.updated_at = memory.model_dump_json(), self._clock()
            db.add(row)
            db.commit()
