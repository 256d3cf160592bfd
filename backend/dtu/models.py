"""DL/T 645 meters behind a DTU, as commissioned: which bus serves a point's meter, and which address each outlet."""
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow

DTU_ID = r"^[A-Za-z0-9_.-]{1,32}$"  # it is the DTU's MQTT username and a topic level
METER_ADDRESS = r"^[0-9]{12}$"  # printed on the meter's nameplate
HEX8 = r"^[0-9A-Fa-f]{8}$"
DEFAULT_PASSWORD = "02000000"  # level 02, password 000000: many meters' factory setting for plaintext control
DEFAULT_OPERATOR_CODE = "00000000"
# Password levels whose commands are ciphertext for an ESAM module (docs/dlt645.md): the platform cannot use them.
ENCRYPTED_LEVELS = ("96", "98", "99")
DtuId = Annotated[str, StringConstraints(pattern=DTU_ID)]
MeterAddress = Annotated[str, StringConstraints(pattern=METER_ADDRESS)]
Hex8 = Annotated[str, StringConstraints(pattern=HEX8)]


class DtuLink(SQLModel, table=True):
    """One point's meter is one RS-485 bus, bridged to MQTT by one transparent DTU."""

    __tablename__ = "dtu_link"
    id: int | None = Field(default=None, primary_key=True)
    meter_id: int = Field(foreign_key="meter.id", unique=True)
    dtu_id: str = Field(unique=True, max_length=32)
    # The DTU's own MQTT password (its username is dtu_id), kept so the broker's password file can be generated.
    mqtt_password: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class Dlt645Channel(SQLModel, table=True):
    """One outlet of the meter is one DL/T 645-2007 meter on the bus: its address and how to switch its relay."""

    __tablename__ = "dlt645_channel"
    __table_args__ = (UniqueConstraint("meter_id", "channel"), UniqueConstraint("meter_id", "address"))
    id: int | None = Field(default=None, primary_key=True)
    meter_id: int = Field(foreign_key="meter.id", index=True)
    channel: int
    address: str = Field(max_length=12)
    password: str = Field(max_length=8)  # PA P2 P1 P0: the level, then the password
    operator_code: str = Field(max_length=8)  # C3 C2 C1 C0


class Dlt645Memory(SQLModel, table=True):
    """What a smart meter would keep in flash, kept by the bridge for a bridged meter (JSON, written on change)."""

    __tablename__ = "dlt645_memory"
    meter_id: int = Field(foreign_key="meter.id", primary_key=True)
    state: str = Field(sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow)


class ChannelLink(SQLModel):
    channel: int = Field(ge=1, le=32, description="The outlet's channel on the point's meter")
    address: MeterAddress = Field(description="The DL/T 645 meter's 12-digit address, as printed")
    password: Hex8 = Field(default=DEFAULT_PASSWORD,
                          description="8 hex digits: the password level PA, then the password P2 P1 P0")
    operator_code: Hex8 = Field(default=DEFAULT_OPERATOR_CODE, description="8 hex digits, C3 … C0")

    @field_validator("password")
    @classmethod
    def _plaintext_level(cls, password: str) -> str:
        if password[:2] in ENCRYPTED_LEVELS:
            raise PydanticCustomError("encrypted_level", "password level {level} means ESAM-encrypted control, which "
                                      "the platform cannot send; ask for plaintext relay control",
                                      {"level": password[:2]})
        return password.upper()

    @field_validator("operator_code")
    @classmethod
    def _upper(cls, code: str) -> str:
        return code.upper()


class DtuCommission(SQLModel):
    dtu_id: DtuId = Field(description="The DTU's id, as configured in its registration packet")
    channels: list[ChannelLink] = Field(min_length=1, max_length=32)

    @model_validator(mode="after")
    def _distinct(self):
        for name in ("channel", "address"):
            values = [getattr(c, name) for c in self.channels]
            if len(values) != len(set(values)):
                raise PydanticCustomError(f"repeated_{name}", "each {name} appears once", {"name": name})
        return self


class ChannelLinkPublic(SQLModel):
    channel: int
    address: str
    password_level: str


class DtuLinkPublic(SQLModel):
    """What an installer configures on the DTU (docs/dlt645.md#commissioning)."""

    meter_serial: str
    dtu_id: str
    mqtt_client_id: str
    mqtt_username: str
    mqtt_password: str
    topic_up: str
    topic_down: str
    registration_packet: str
    heartbeat_packet: str
    channels: list[ChannelLinkPublic]
