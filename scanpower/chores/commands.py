"""Operators' chores on the command line: import points, print labels, reconcile, re-issue credentials, export
statements. Each works on DATABASE_URL through the same services as the pages, with a progress bar."""
from datetime import timedelta
from pathlib import Path

import typer
from rich.table import Table

from scanpower.chores.progress import console, tracked

points_app = typer.Typer(help="Metering points.", no_args_is_help=True)
meters_app = typer.Typer(help="Meters.", no_args_is_help=True)
statements_app = typer.Typer(help="Monthly statements.", no_args_is_help=True)


def _engine():
    from backend.core.db import make_engine
    from scanpower.cli import get_settings
    return make_engine(get_settings().database_url)


def _unit_of_work():
    from backend.core.db import unit_of_work
    from backend.meters.orders import RecordingSink
    return unit_of_work(_engine(), RecordingSink())  # no chore sends a relay command


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(code)


@points_app.command("import")
def import_points(csv_file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                                  help="UTF-8 CSV: applicant_phone, name, address, latitude, "
                                                       "longitude, purpose, capacity_kw, outlet_count, valid_from, "
                                                       "valid_until; optional outlet_rated_current_a and tariff "
                                                       "(a tariff code: approved at once).")) -> None:
    """Import points from a CSV file: every row is checked as an application; one bad row imports nothing."""
    from backend.points.csv_import import ImportRefused, import_points as run, read_rows

    try:
        with csv_file.open(encoding="utf-8-sig", newline="") as text:
            rows = read_rows(text)
        with _unit_of_work() as db:
            made = run(db, rows, lambda items: tracked(items, "checking and importing", len(rows)))
    except ImportRefused as refused:
        for error in refused.errors:
            typer.secho(f"{csv_file}:{error.line}: {error.message}", fg="red", err=True)
        _fail(f"nothing imported: {len(refused.errors)} problems in {csv_file}")
    approved = sum(1 for p in made if p.status == "approved")
    typer.echo(f"imported {len(made)} points ({approved} approved): ids {', '.join(str(p.id) for p in made)}")


@meters_app.command("reissue")
def reissue(serial: str = typer.Argument(..., help="The meter's serial, e.g. SP00000012.")) -> None:
    """Give a meter a new MQTT password and show it once (the old one stops working once the broker knows)."""
    from sqlmodel import select

    from backend.points.commissioning import reissue_password
    from backend.points.models import Meter

    with _unit_of_work() as db:
        meter = db.exec(select(Meter).where(Meter.serial == serial)).first()
        if meter is None:
            _fail(f"no meter has the serial {serial!r}")
        reissue_password(db, meter, None)
        password = meter.mqtt_password
    typer.echo(f"meter {serial}: user {serial}, new password {password}")
    if _push_accounts() is None:
        typer.echo("it is shown this once; the broker accepts it once its files are rewritten "
                   "(`scanpower broker-config` and a reload)")
    else:
        typer.echo("it is shown this once; the broker has it now, and the old password is refused")


@meters_app.command("broker-sync")
def broker_sync() -> None:
    """Tell the broker every meter's and DTU's account again (BROKER_ACCOUNTS=dynsec; e.g. after it lost its data)."""
    from backend.broker_accounts.service import note_everyone, pending_count

    with _unit_of_work() as db:
        count = note_everyone(db)
    if _push_accounts() is None:
        _fail("BROKER_ACCOUNTS is not dynsec: nothing is live (use `scanpower broker-config`)", 2)
    with _unit_of_work() as db:
        left = pending_count(db)
    typer.echo(f"{count} accounts sent to the broker; {left} still pending (the scheduler retries them)")
    if left:
        raise typer.Exit(1)


def _push_accounts() -> int | None:
    """Apply pending account changes now; None when the settings make nothing live."""
    from backend.broker_accounts.configured import device_policy, live_accounts
    from backend.broker_accounts.provisioner import Provisioner
    from backend.core.config import get_settings

    settings = get_settings()
    broker = live_accounts(settings)
    if broker is None:
        return None
    provisioner = Provisioner(_engine(), broker, device_policy(settings))
    try:
        return provisioner.run_once()
    finally:
        broker.close()


def labels(point_id: int = typer.Argument(..., help="The point's id."),
           format: str = typer.Option("pdf", "--format", help="pdf (A4 pages of nine) or png (one per outlet)."),
           out: Path = typer.Option(Path("."), help="Folder to write to."),
           font: str = typer.Option("", help="A TrueType/OpenType font with Chinese (default: one installed)."),
           ) -> None:
    """Print a point's outlet labels (QR code, outlet, service number) to PDF or PNG."""
    from sqlmodel import Session

    from backend.points import label_cards, service as points
    from backend.points.labels import outlet_url
    from scanpower.cli import get_settings

    if format not in ("pdf", "png"):
        _fail("--format is pdf or png", 2)
    settings = get_settings()
    with Session(_engine()) as db:
        try:
            point = points.get_point(db, point_id)
        except points.PointNotFound as exc:
            _fail(exc.detail)
        outlets = points.outlets_of_point(db, point.id)
    if not outlets:
        _fail(f"point {point_id} has no outlets yet: labels are made when it is approved")
    lettering = label_cards.find_lettering(font or None)
    if not lettering.chinese:
        console.print("[yellow]no font with Chinese found: the labels are in English only (see --font)[/yellow]")
    cards = [label_cards.Card(point.name, o.channel, outlet_url(settings.public_base_url, o.qr_token),
                              settings.service_phone) for o in outlets]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if format == "png":
        for card in tracked(cards, "drawing labels"):
            path = out / f"point-{point.id}-outlet-{card.channel}.png"
            path.write_bytes(label_cards.card_png(card, lettering))
            written.append(path)
    else:
        images = [label_cards.card_image(card, lettering) for card in tracked(cards, "drawing labels")]
        path = out / f"point-{point.id}-labels.pdf"
        path.write_bytes(label_cards.sheets_pdf(images))
        written.append(path)
    typer.echo("\n".join(str(path) for path in written))


def reconcile(month: str = typer.Option(..., help="A local month, YYYY-MM."),
              point: list[int] = typer.Option([], help="Only this point (repeatable); default: every point."),
              close: bool = typer.Option(False, help="Also close the month: keep the statements and bill "
                                                     "unattributed energy to the applicants (once).")) -> None:
    """Reconcile every day of a month per point, keep the outcomes, and show the points that do not balance."""
    from backend.core.clock import LOCAL_TZ, local, utcnow
    from backend.reconciliation.daily import points_in_service, reconcile_point_day
    from backend.reconciliation.monthly import close_month
    from backend.reconciliation.service import InvalidPeriod, month_period

    try:
        period = month_period(month)
    except InvalidPeriod as exc:
        _fail(exc.detail, 2)
    first, last = local(period.start).date(), local(period.end).date() - timedelta(days=1)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    yesterday = utcnow().astimezone(LOCAL_TZ).date() - timedelta(days=1)
    with _unit_of_work() as db:
        chosen = [p for p in points_in_service(db, first, last) if not point or p.id in point]
        work = [(p, day) for p in chosen for day in days if day <= yesterday]
        rows = [reconcile_point_day(db, p.id, day) for p, day in tracked(work, f"reconciling {month}")]
        closed = close_month(db, month) if close else []
    table = Table("point", "register delta kWh", "in sessions kWh", "unattributed kWh", "days unbalanced")
    for p in chosen:
        mine = [r for r in rows if r.point_id == p.id]
        table.add_row(f"{p.id} {p.name}", _kwh(sum(r.register_delta_wh for r in mine)),
                      _kwh(sum(r.session_energy_wh for r in mine)), _kwh(sum(r.unattributed_wh for r in mine)),
                      str(sum(1 for r in mine if not r.balanced)))
    console.print(table)
    for row in rows:
        if not row.balanced:
            typer.echo(f"point {row.point_id} {row.day}: {row.note}")
    if close:
        billed = [s for s in closed if s.bill_entry_id is not None]
        typer.echo(f"closed {month}: {len(closed)} statements, {len(billed)} with unattributed energy billed")


@statements_app.command("export")
def export_statements(month: str = typer.Option(..., help="A local month, YYYY-MM."),
                      out: Path = typer.Option(Path("."), help="Folder for the CSV files.")) -> None:
    """Write every point's monthly statement as CSV (UTF-8 with BOM, as the pages give it)."""
    from sqlmodel import Session

    from backend.core.clock import local
    from backend.core.errors import Conflict
    from backend.reconciliation.daily import points_in_service
    from backend.reconciliation.service import InvalidPeriod, month_period, statement
    from backend.reconciliation.statement_csv import csv_filename, statement_csv, vendor_labels

    try:
        period = month_period(month)
    except InvalidPeriod as exc:
        _fail(exc.detail, 2)
    out.mkdir(parents=True, exist_ok=True)
    written, skipped = 0, []
    with Session(_engine()) as db:
        chosen = points_in_service(db, local(period.start).date(), local(period.end).date() - timedelta(days=1))
        for p in tracked(chosen, f"statements of {month}"):
            try:
                found = statement(db, p, month)
            except Conflict as exc:
                skipped.append(f"point {p.id}: {exc.detail}")
                continue
            (out / csv_filename(found)).write_text(statement_csv(found, vendor_labels(db, found)), encoding="utf-8")
            written += 1
    typer.echo(f"wrote {written} statements of {month} to {out}")
    for line in skipped:
        typer.secho(line, fg="yellow", err=True)
    if skipped:
        raise typer.Exit(1)


def _kwh(energy_wh: int) -> str:
    return f"{energy_wh / 1000:.3f}"

