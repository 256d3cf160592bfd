"""HTTP authentication and ACL for brokers that ask (BROKER_ACCOUNTS=http; docs/security.md#http-auth).

Generic routes for EMQX's HTTP authenticator and authorizer and mosquitto-go-auth's HTTP backend, and
VerneMQ's webhooks in its own shapes. The broker proves itself with BROKER_AUTH_SECRET.
"""
import hmac
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlmodel import SQLModel

from backend.core.api_errors import ApiRoute, refusals
from backend.core.errors import NotAuthenticated

log = logging.getLogger(__name__)
router = APIRouter(prefix="/broker-auth", tags=["broker"], route_class=ApiRoute)
Name = Annotated[str, Field(max_length=256)]


class NotTheBroker(NotAuthenticated):
    pass


def the_broker(request: Request, key: Annotated[str | None, Query(max_length=256)] = None) -> None:
    """The broker sends the shared secret as `Authorization: Bearer …` (or `?key=…` where it cannot set headers)."""
    secret = request.app.state.settings.broker_auth_secret
    header = request.headers.get("authorization", "")
    given = header.removeprefix("Bearer ") if header.startswith("Bearer ") else (key or "")
    if not (secret and hmac.compare_digest(given.encode(), secret.encode())):
        raise NotTheBroker("the broker's shared secret (BROKER_AUTH_SECRET) is missing or wrong")


Broker = Depends(the_broker)


class Login(SQLModel):
    username: Name
    password: Name = ""
    clientid: Name = ""


class Access(SQLModel):
    username: Name
    topic: Name
    action: Literal["publish", "subscribe"]
    clientid: Name = ""


class Verdict(SQLModel):
    """`result` for EMQX, `ok` for mosquitto-go-auth (http_response_mode json); the status says it too (200/403)."""

    result: Literal["allow", "deny"]
    ok: bool
    is_superuser: bool = False


def _verdict(allowed: bool) -> JSONResponse:
    body = Verdict(result="allow" if allowed else "deny", ok=allowed)
    return JSONResponse(body.model_dump(), status_code=200 if allowed else 403)


ANSWERS = {200: {"model": Verdict, "description": "allowed"}, 403: {"model": Verdict, "description": "denied"},
           **refusals(NotTheBroker)}


@router.post("/authenticate", response_model=Verdict, responses=ANSWERS, dependencies=[Broker])
def authenticate(body: Login, request: Request) -> JSONResponse:
    """May this client log in: a meter of a live point, a DTU serving one, or a platform account, with its password."""
    allowed = request.app.state.broker_auth.authenticate(body.username, body.password)
    if not allowed:
        log.info("broker login refused for %r", body.username, extra={"meter": body.username})
    return _verdict(allowed)


@router.post("/authorize", response_model=Verdict, responses=ANSWERS, dependencies=[Broker])
def authorize(body: Access, request: Request) -> JSONResponse:
    """May this user publish to, or subscribe to, this topic (the rules of broker-config's ACL file)."""
    return _verdict(request.app.state.broker_auth.authorize(body.username, body.topic, body.action))


# --- VerneMQ's webhooks (vmq_webhooks): its own bodies, and {"result": "ok"} or an error ---

class VerneLogin(SQLModel):
    username: Name | None = None
    password: Name | None = None
    client_id: Name = ""


class VernePublish(SQLModel):
    username: Name | None = None
    topic: Name


class VerneTopic(SQLModel):
    topic: Name
    qos: int = 0


class VerneSubscribe(SQLModel):
    username: Name | None = None
    topics: list[VerneTopic] = Field(max_length=64)


def _verne(allowed: bool) -> dict:
    return {"result": "ok"} if allowed else {"result": {"error": "not_allowed"}}


@router.post("/vernemq/auth_on_register", responses=refusals(NotTheBroker), dependencies=[Broker])
def vernemq_register(body: VerneLogin, request: Request) -> dict:
    """VerneMQ's auth_on_register hook."""
    return _verne(request.app.state.broker_auth.authenticate(body.username or "", body.password or ""))


@router.post("/vernemq/auth_on_publish", responses=refusals(NotTheBroker), dependencies=[Broker])
def vernemq_publish(body: VernePublish, request: Request) -> dict:
    """VerneMQ's auth_on_publish hook."""
    return _verne(request.app.state.broker_auth.authorize(body.username or "", body.topic, "publish"))


@router.post("/vernemq/auth_on_subscribe", responses=refusals(NotTheBroker), dependencies=[Broker])
def vernemq_subscribe(body: VerneSubscribe, request: Request) -> dict:
    """VerneMQ's auth_on_subscribe hook: every filter asked for must be allowed."""
    auth = request.app.state.broker_auth
    return _verne(all(auth.authorize(body.username or "", t.topic, "subscribe") for t in body.topics))
