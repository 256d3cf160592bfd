"""`scanpower`: one command whose subcommands start each part of the platform."""
import logging
import signal
import sys
import threading
from pathlib import Path

import typer

from backend.core import config
from backend.core.json_logs import configure as configure_logs

app = typer.Typer(help="ScanPower — shared scan-to-use metering (扫码用电).", no_args_is_help=True,
                  add_completion=False)
log = logging.getLogger("scanpower")


def get_settings() -> config.Settings:
    """The settings, or a plain message and exit 2 when they are refused (placeholders in production)."""
    from pydantic import ValidationError
    try:
        return config.get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")
            typer.secho(f"cannot start: {where + ': ' if where else ''}{message}", fg="red", err=True)
        raise typer.Exit(2) from None


def _logging(settings: config.Settings) -> None:
    configure_logs(settings.log_level, settings.logs_as_json)


def _wait_for_ctrl_c() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


@app.command()
def run(demo: bool = typer.Option(True, help="Seed the demo site and simulate its meters.")) -> None:
    """Run everything in one process: broker (embedded unless MQTT_URL), gateway, API and pages, demo meters."""
    from scanpower.demo import ACCOUNTS
    from scanpower.platform import Platform

    settings = get_settings()
    _logging(settings)
    platform = Platform(settings, demo=demo, simulate=demo)
    try:
        platform.start()
    except RuntimeError as exc:
        platform.stop()
        typer.secho(f"cannot start: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    _print_banner(platform, ACCOUNTS if demo else ())
    _wait_for_ctrl_c()
    typer.echo("stopping…")
    platform.stop()
    typer.echo("stopped.")


def _print_banner(platform, accounts) -> None:
    from backend.points.labels import outlet_url

    typer.echo("")
    typer.secho("ScanPower is running", bold=True)
    typer.echo(f"  web and API   {platform.web_url}   (API docs: {platform.web_url}/docs)")
    typer.echo(f"  MQTT broker   {_shown(platform.broker_url)}")
    typer.echo(f"  database      {_shown(platform.settings.database_url)}")
    for note in platform.notes:
        typer.secho(f"  note: {note}", fg="yellow")
    if accounts:
        typer.echo("  demo sign-ins (phone / password):")
        for account in accounts:
            typer.echo(f"    {account.role.value:<9} {account.phone} / {account.password}")
        typer.echo("  scan an outlet (open its QR link), sign in as the vendor, press Start:")
        for meter in platform.demo_meters:
            url = outlet_url(platform.settings.public_base_url, meter.first_outlet_token)
            typer.echo(f"    {url}   ({meter.point_name}, outlet 1)")
        typer.echo(f"  every outlet's QR label: sign in as the operator at {platform.web_url}/operator")
    typer.echo("  Ctrl-C stops everything.")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic) and make the reading partitions of the months ahead."""
    from backend.core.migrate import upgrade

    from sqlmodel import Session

    from backend.core.clock import utcnow
    from backend.core.db import make_engine
    from backend.meters.partitions import ensure_partitions

    settings = get_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with Session(engine) as db:  # the months ahead exist before the first reading (PostgreSQL; SQLite: nothing)
        made = ensure_partitions(db, utcnow(), settings.reading_partitions_ahead)
        db.commit()
    engine.dispose()
    typer.echo(f"schema is up to date on {_shown(settings.database_url)}"
               + (f"; reading partitions made: {', '.join(m.table for m in made)}" if made else ""))


@app.command()
def api() -> None:
    """Serve the API and pages only (API_WORKERS processes); relay commands go to the broker at MQTT_URL."""
    import uvicorn

    settings = get_settings()
    _logging(settings)
    _require_mqtt_url(settings)
    workers = settings.api_workers
    if workers > 1:
        _share_metrics_between_workers()
    # Proxy headers are the app's job (TRUSTED_PROXIES), so uvicorn must not believe them on its own; our own
    # middleware logs each request, with its id.
    uvicorn.run("scanpower.api_process:create", factory=True, host=settings.http_host, port=settings.http_port,
                workers=workers, proxy_headers=False, log_config=None, access_log=False)


def _share_metrics_between_workers() -> None:
    """PROMETHEUS_MULTIPROC_DIR for the workers (inherited): emptied, since old files would add up again."""
    import os
    import shutil
    import tempfile

    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="scanpower-metrics-"))
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


@app.command()
def gateway(scheduler: bool = typer.Option(True, help="Also run the scheduled jobs; any number of processes may, "
                                                      "each job runs once (a database lease).")) -> None:
    """Run the MQTT gateway (and the scheduled jobs) against MQTT_URL and DATABASE_URL."""
    from backend.core.db import make_engine
    from device_gateway.broker_url import BrokerAddress
    from device_gateway.gateway import Gateway, gateway_lanes, gateway_rate_limit
    from device_gateway.heap import settle_after_start_up
    from device_gateway.protocol import Topics
    from scanpower.scheduler import build_scheduler

    settings = get_settings()
    _logging(settings)
    # The control lane (a vendor's Start) shares the interpreter with the telemetry lanes: switch threads
    # every 0.5 ms rather than 5, so an ack never waits long behind a batch being parsed.
    sys.setswitchinterval(0.0005)
    engine = make_engine(settings.database_url)
    gw = Gateway(BrokerAddress.parse(_require_mqtt_url(settings)), engine, Topics(settings.mqtt_topic_prefix),
                 settings.gateway_client_id, settings.gateway_share_group, gateway_rate_limit(settings),
                 settings.gateway_flood_calm_seconds, **gateway_lanes(settings))
    jobs = build_scheduler(settings, engine, gw) if scheduler else None
    stop_ops = _ops_port(settings, engine, lambda: gw.connected, [gw.metrics.registry], jobs)
    settle_after_start_up()
    gw.start()
    if jobs:
        jobs.start()
    typer.echo(f"gateway running against {_shown(settings.mqtt_url)}; Ctrl-C stops it")
    _wait_for_ctrl_c()
    stop_ops()
    if jobs:
        jobs.stop()
    gw.stop()


@app.command()
def dlt645() -> None:
    """Run the DL/T 645 bridge: every commissioned DTU's meters, each spoken for as a protocol-v1 meter."""
    from backend.core.db import make_engine
    from device_gateway.broker_url import BrokerAddress
    from device_gateway.dlt645.bridge import Bridge, bridge_timing
    from device_gateway.protocol import Topics

    settings = get_settings()
    _logging(settings)
    bridge = Bridge(BrokerAddress.parse(_require_mqtt_url(settings)), make_engine(settings.database_url),
                    Topics(settings.mqtt_topic_prefix), f"{settings.gateway_client_id}-dlt645",
                    bridge_timing(settings)).start()
    stop_ops = _ops_port(settings, bridge.engine, bridge.connected, [], None)
    typer.echo(f"DL/T 645 bridge running against {_shown(settings.mqtt_url)} ({len(bridge.meters)} meters behind "
               f"DTUs); Ctrl-C stops it")
    _wait_for_ctrl_c()
    stop_ops()
    bridge.stop()


@app.command()
def scheduler() -> None:
    """Run the scheduled jobs in a process of their own; any number may run, each job runs once per slot."""
    from backend.core.db import make_engine
    from device_gateway.broker_url import BrokerAddress
    from device_gateway.commands import MqttOrderSink
    from device_gateway.connection import PublishOnlyClient
    from device_gateway.protocol import Topics
    from scanpower.scheduler import build_scheduler

    settings = get_settings()
    _logging(settings)
    engine = make_engine(settings.database_url)
    # Jobs send relay commands (stop a session that ran too long, re-send an unanswered one) like the API does.
    publisher = PublishOnlyClient(BrokerAddress.parse(_require_mqtt_url(settings)), f"scanpower-scheduler-{_suffix()}")
    jobs = build_scheduler(settings, engine, MqttOrderSink(publisher.client, Topics(settings.mqtt_topic_prefix)))
    jobs.start()
    stop_ops = _ops_port(settings, engine, publisher.client.is_connected, [], jobs, fleet_gauges=True)
    typer.echo(f"scheduler {jobs.holder} running {len(jobs.jobs)} jobs; Ctrl-C stops it")
    _wait_for_ctrl_c()
    stop_ops()
    jobs.stop()
    publisher.close()


def _ops_port(settings, engine, broker_connected, registries, jobs, fleet_gauges: bool = False):
    """/healthz, /readyz and /metrics on METRICS_PORT (when set); returns what stops it."""
    if not settings.metrics_port:
        return lambda: None
    from backend.ops_app import create_ops_app
    from scanpower.serving import serve_in_thread

    app_ = create_ops_app(engine, broker_connected, registries, jobs.alive if jobs else None, fleet_gauges)
    try:
        stop = serve_in_thread(app_, settings.http_host, settings.metrics_port, "METRICS_PORT")
    except RuntimeError as exc:
        typer.secho(f"cannot start: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    log.info("metrics and health on http://%s:%d", settings.http_host, settings.metrics_port)
    return stop


@app.command()
def sim(count: int = typer.Option(10, min=1, max=50_000, help="How many meters."),
        channels: int = typer.Option(4, min=1, max=32, help="Outlets per meter."),
        serial_prefix: str = typer.Option("SIM", help="Meters are named PREFIX00001, PREFIX00002, …"),
        seconds: float | None = typer.Option(None, min=1, help="Stop after this long (default: Ctrl-C)."),
        mqtt_url: str = typer.Option("", help="Broker; default MQTT_URL."),
        drop_rate: float = typer.Option(0.0, min=0, max=1, help="Share of uplink messages never sent."),
        duplicate_rate: float = typer.Option(0.0, min=0, max=1, help="Share of uplink messages sent twice."),
        clock_skew: float = typer.Option(0.0, help="Seconds the meters' clocks run ahead (negative: behind)."),
        offline: list[str] = typer.Option([], help="An offline window FROM:UNTIL in seconds since start; "
                                                   "repeatable. Meters buffer and upload afterwards."),
        reset_at: list[float] = typer.Option([], help="Seconds since start at which registers reset; repeatable."),
        seed: int | None = typer.Option(None, help="Seed for loads and faults, to repeat a run.")) -> None:
    """Run simulated meters that speak protocol v1 to a broker, optionally with faults."""
    from firmware_sim.cli import run_fleet
    from firmware_sim.faults import Faults

    settings = get_settings()
    _logging(settings)
    try:
        faults = Faults(drop_rate=drop_rate, duplicate_rate=duplicate_rate, clock_skew_s=clock_skew,
                        offline_windows=tuple(_window(text) for text in offline), register_resets_at=tuple(reset_at))
    except ValueError as exc:
        typer.secho(f"invalid fault options: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    run_fleet(mqtt_url or _require_mqtt_url(settings), count, channels, settings.mqtt_topic_prefix,
              serial_prefix, seconds, seed=seed, faults=faults)


def _window(text: str) -> tuple[float, float]:
    start, _, end = text.partition(":")
    try:
        return float(start), float(end)
    except ValueError:
        raise ValueError(f"an offline window is FROM:UNTIL in seconds, not {text!r}") from None


@app.command("create-user")
def create_user(phone: str = typer.Argument(..., help="Phone number, the sign-in name."),
                role: str = typer.Option("operator", help="operator, applicant or vendor."),
                name: str = typer.Option("", help="Display name."),
                password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True)) -> None:
    """Create a user (the only way to create an operator)."""
    from pydantic import ValidationError

    from backend.core.db import make_engine, unit_of_work
    from backend.core.errors import ScanPowerError
    from backend.meters.orders import RecordingSink
    from backend.users.models import Role, UserCreate
    from backend.users.service import create_user as create

    try:
        chosen = Role(role)
        UserCreate(phone=phone, password=password, name=name)  # the same rules as sign-up
    except (ValueError, ValidationError) as exc:
        typer.secho(f"invalid user: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    try:
        with unit_of_work(make_engine(settings.database_url), RecordingSink()) as db:
            user = create(db, phone, password, chosen, name)
    except ScanPowerError as exc:
        typer.secho(exc.detail, fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created {chosen.value} {phone} (id {user.id})")


@app.command("broker-config")
def broker_config(out: Path = typer.Option(Path("var/mosquitto"), help="Folder for mosquitto.conf, passwd and acl."),
                  port: int = typer.Option(1883, help="Port of the listener in mosquitto.conf."),
                  installed_at: Path | None = typer.Option(None, help="Where the files will live on the broker host "
                                                                      "(default: --out).")) -> None:
    """Write Mosquitto's password file, ACL and conf from the database: every meter, the gateway and the API."""
    from sqlmodel import Session

    from backend.core.db import make_engine
    from backend.dtu.service import dtus_for_broker
    from device_gateway.broker_config import PlatformRole, PlatformUser, meters_for_broker, write_broker_config

    settings = get_settings()
    if not (settings.mqtt_gateway_password and settings.mqtt_api_password):
        typer.secho("set MQTT_GATEWAY_PASSWORD and MQTT_API_PASSWORD", fg="red", err=True)
        raise typer.Exit(2)
    platform = [PlatformUser(settings.mqtt_gateway_username, settings.mqtt_gateway_password, PlatformRole.gateway),
                PlatformUser(settings.mqtt_api_username, settings.mqtt_api_password, PlatformRole.publisher)]
    if settings.mqtt_dlt645_password:
        platform.append(PlatformUser(settings.mqtt_dlt645_username, settings.mqtt_dlt645_password,
                                     PlatformRole.dlt645))
    with Session(make_engine(settings.database_url)) as db:
        meters, dtus = meters_for_broker(db), dtus_for_broker(db)
    try:
        files = write_broker_config([*meters, *dtus], platform, settings.mqtt_topic_prefix, out, port=port,
                                    installed_at=installed_at)
    except ValueError as exc:
        typer.secho(f"cannot write the broker files: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {files.conf}, {files.acl_file} and {files.password_file} ({len(meters)} meters, "
               f"{len(dtus)} DTUs)")
    if dtus and not settings.mqtt_dlt645_password:
        typer.secho("note: set MQTT_DLT645_PASSWORD so the DL/T 645 bridge may reach the DTUs", fg="yellow")
    typer.echo("install them on the broker host and reload Mosquitto (SIGHUP); see docs/security.md")


@app.command("commission-dtu")
def commission_dtu(point_id: int = typer.Argument(..., help="The point whose meter is behind the DTU."),
                   dtu_id: str = typer.Argument(..., help="The DTU's id, as in its registration packet."),
                   channel: list[str] = typer.Option(..., help="CHANNEL=ADDRESS, the outlet and its DL/T 645 meter's "
                                                              "12-digit address; repeat for each outlet."),
                   password: str = typer.Option("02000000", help="8 hex digits: password level PA, then P2 P1 P0."),
                   operator_code: str = typer.Option("00000000", help="8 hex digits, C3 … C0.")) -> None:
    """Commission a point's meter as DL/T 645-2007 meters behind a DTU (docs/dlt645.md)."""
    from pydantic import ValidationError

    from backend.core.db import make_engine, unit_of_work
    from backend.core.errors import ScanPowerError
    from backend.dtu.models import DtuCommission
    from backend.dtu.service import commission
    from backend.meters.orders import RecordingSink

    try:
        links = [dict(zip(("channel", "address"), item.split("=", 1), strict=True)) for item in channel]
        body = DtuCommission(dtu_id=dtu_id, channels=[dict(c, password=password, operator_code=operator_code)
                                                      for c in links])
    except (ValueError, ValidationError) as exc:
        typer.secho(f"invalid commissioning: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    try:
        with unit_of_work(make_engine(settings.database_url), RecordingSink()) as db:
            commission(db, point_id, body, None)
    except ScanPowerError as exc:
        typer.secho(exc.detail, fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"point {point_id}: DTU {dtu_id}, {len(links)} DL/T 645 meters; rewrite the broker's files "
               f"(scanpower broker-config) so the DTU can log in")


def _shown(url: str) -> str:
    """A database or broker address as printed and logged: its password starred out."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _require_mqtt_url(settings) -> str:
    if not settings.mqtt_url:
        typer.secho("set MQTT_URL (for example mqtt://127.0.0.1:1883)", fg="red", err=True)
        raise typer.Exit(2)
    return settings.mqtt_url


def _suffix() -> str:
    import secrets
    return secrets.token_hex(3)


def _add_chores() -> None:
    from scanpower.chores import commands as chores

    app.add_typer(chores.points_app, name="points")
    app.add_typer(chores.meters_app, name="meters")
    app.add_typer(chores.statements_app, name="statements")
    app.command("labels")(chores.labels)
    app.command("reconcile")(chores.reconcile)


_add_chores()

if __name__ == "__main__":
    app()
