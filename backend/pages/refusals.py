"""What a refusal means to a person, and what to do next, in their language.

The services' errors carry an English `detail` for the API; the pages show instead the words
kept here per error class (the nearest ancestor's for a class without its own). A test fails
when an error class has no words of its own, so a new refusal cannot reach a page untranslated.
"""
from dataclasses import dataclass

from backend.core import errors
from backend.core.nul_guard import NulCharacter
from backend.alarms import service as alarms
from backend.dtu import service as dtus
from billing.idempotency.service import IdempotencyKeyReused
from backend.meters.service import UnknownMeter
from backend.points import service as points
from backend.points.water import NotAnIrrigationPoint
from backend.reconciliation import service as reconciliation
from backend.sessions import service as sessions
from backend.sessions.receipts import ReceiptNotReady
from backend.sessions.refunds import RefundNotPossible
from backend.tariffs import service as tariffs
from backend.users import service as users
from backend.wallet.service import NotThatMuchToWithdraw
from backend.payments.endpoints import PaymentOrderNotFound
from backend.payments.statements import StatementDayNotOver
from backend.webhooks.endpoints import ProviderNotConfigured, StripeNotConfigured
from backend.broker_accounts.endpoints import NotTheBroker
from backend.pages.i18n import N_, gettext
from billing.payments import holds, refunds, stripe_events, stripe_provider, withdrawals
from billing.payments.providers import PaymentMethodUnavailable
from billing.payments.service import ConfirmInApp, PaymentDeclined


@dataclass(frozen=True)
class Refusal:
    what: str  # what happened
    next_step: str  # what the person can do about it: every refusal has one

    def text(self) -> str:
        return f"{gettext(self.what)} {gettext(self.next_step)}"


REFUSALS: dict[type[errors.ScanPowerError], Refusal] = {
    errors.ScanPowerError: Refusal(N_("That could not be done."), N_("Go back and try again.")),
    errors.NotFound: Refusal(N_("We could not find that."), N_("Check the address, or start from your own page.")),
    errors.Conflict: Refusal(N_("That cannot be done right now."), N_("Reload the page to see the latest state.")),
    errors.Forbidden: Refusal(N_("This account may not do that."),
                              N_("Sign in with the account that may, or ask the site manager.")),
    errors.NotAuthenticated: Refusal(N_("Please sign in first."),
                                             N_("Sign in with your phone number and password, then try again.")),
    errors.TooManyRequests: Refusal(N_("Too many attempts."), N_("Wait a few minutes, then try again.")),
    NulCharacter: Refusal(N_("The address or the form contains a character that cannot be stored."),
                          N_("Remove it and try again.")),
    IdempotencyKeyReused: Refusal(N_("This request was already sent with different details."),
                                  N_("Reload the page and start again.")),
    users.PhoneAlreadyRegistered: Refusal(N_("This phone number is already registered."),
                                          N_("Sign in instead, or use another number.")),
    users.WrongCredentials: Refusal(N_("Wrong phone number or password."), N_("Check both and try again.")),
    users.TooManySignIns: Refusal(N_("Too many failed sign-ins for this number or this device."),
                                  N_("Wait 15 minutes, then try again.")),
    users.TooManySignUps: Refusal(N_("Too many new accounts from this device."), N_("Try again in an hour.")),
    points.PointNotFound: Refusal(N_("There is no such metering point, or it is not yours."),
                                  N_("Open it from your own page.")),
    points.OutletNotFound: Refusal(N_("This QR code does not belong to any outlet."),
                                   N_("Scan the label on the outlet itself, or ask the site manager.")),
    points.MeterNotFound: Refusal(N_("There is no such meter."), N_("Open it from the overview.")),
    points.PointNotPending: Refusal(N_("This application was already decided."),
                                    N_("Reload the page to see its state.")),
    points.TariffNotYetInEffect: Refusal(N_("That tariff is not in effect yet: it cannot price this point's power."),
                                         N_("Approve with a tariff in effect today.")),
    points.NotAnApplicant: Refusal(N_("Only applicant accounts can apply for a metering point."),
                                   N_("Create an applicant account.")),
    points.ValidityInThePast: Refusal(N_("The dates are in the past."), N_("Choose dates from today on.")),
    NotAnIrrigationPoint: Refusal(N_("Water is only counted for irrigation wells."),
                                    N_("Set a water coefficient on an irrigation point instead.")),
    sessions.SessionNotFound: Refusal(N_("There is no such session, or it is not yours."),
                                      N_("Open it from your own page.")),
    sessions.OutletBusy: Refusal(N_("This outlet is in use right now."), N_("Use another outlet on this point.")),
    sessions.PointNotServing: Refusal(N_("This point is not in service now."),
                                      N_("Ask the site manager when it opens.")),
    sessions.MeterOffline: Refusal(N_("The meter is offline at the moment."),
                                   N_("Try again in a minute; if it stays offline, call the service number.")),
    sessions.InsufficientBalance: Refusal(N_("There is not enough money to start."),
                                          N_("Top up below, then start again.")),
    sessions.SessionNotStoppable: Refusal(N_("This session has already ended."), N_("See its receipt.")),
    sessions.NotAVendor: Refusal(N_("Only vendor accounts can switch power on."),
                                 N_("Sign in with a vendor account.")),
    sessions.CardPaymentsUnavailable: Refusal(N_("Card payments are not available here."),
                                              N_("Pay from your balance instead.")),
    ReceiptNotReady: Refusal(N_("The receipt comes when the session ends."), N_("Watch it live until then.")),
    RefundNotPossible: Refusal(N_("Nothing more can be refunded for this session."),
                               N_("Enter at most what is left of what it cost.")),
    NotThatMuchToWithdraw: Refusal(N_("There is not that much free to withdraw."),
                                   N_("Withdraw the amount shown as free, or wait until your running sessions end.")),
    tariffs.TariffNotFound: Refusal(N_("There is no such tariff."), N_("Choose one from the list.")),
    tariffs.InvalidTariffDocument: Refusal(N_("The tariff is not complete or not consistent."),
                                           N_("Check the marked fields.")),
    tariffs.TariffHistoryIsFixed: Refusal(N_("Prices already in effect cannot change: sessions were billed with them."),
                                          N_("Add a new version that starts later.")),
    reconciliation.InvalidPeriod: Refusal(N_("That period cannot be used."), N_("Choose a month from 2000 to 2099.")),
    reconciliation.PointHasNoTariff: Refusal(N_("This point has no tariff yet."), N_("Approve it with a tariff.")),
    reconciliation.TariffNotInEffect: Refusal(N_("The point's tariff was not in effect in that period."),
                                              N_("Choose a later month.")),
    reconciliation.PeriodNotOver: Refusal(N_("That period is not over yet."), N_("Bill it when it has ended.")),
    reconciliation.OverlapsBilledPeriod: Refusal(N_("Part of that period was billed already."),
                                                 N_("Choose a period that starts after the last bill.")),
    reconciliation.EnergyClaimedBySession: Refusal(
        N_("A session in that period is under review: its meter says it ran, but not from when."),
        N_("Review the session in the list of sessions to review, then bill the period.")),
    alarms.InvalidPeriod: Refusal(N_("That period cannot be used."), N_("Choose an end after the start.")),
    UnknownMeter: Refusal(N_("There is no meter with this serial number."),
                                N_("Check the serial on the meter's nameplate, or search for it.")),
    PaymentDeclined: Refusal(N_("The payment was declined, and nothing was charged."),
                             N_("Try again, or choose another way to pay.")),
    stripe_provider.PaymentServiceUnavailable: Refusal(N_("The payment service cannot be reached right now."),
                                                       N_("Nothing was charged; try again in a minute.")),
    stripe_provider.BadSignature: Refusal(N_("The payment message could not be verified."),
                                                N_("Nothing was changed; check the webhook secret in the settings.")),
    stripe_events.UnreadableEvent: Refusal(N_("The payment message could not be read."),
                                             N_("Nothing was changed; the payment service sends it again.")),
    StripeNotConfigured: Refusal(N_("Card payments are not set up here."),
                                   N_("Pay from your balance, or another way this page offers.")),
    ProviderNotConfigured: Refusal(N_("This payment service is not set up here."),
                                     N_("Choose one of the ways to pay this page offers.")),
    NotTheBroker: Refusal(N_("Only the platform's message broker may ask this."),
                          N_("Nothing was changed; check the broker's authentication secret in the settings.")),
    PaymentMethodUnavailable: Refusal(N_("This way of paying is not available here."),
                                      N_("Choose one of the ways to pay this page offers.")),
    ConfirmInApp: Refusal(N_("This payment has to be confirmed in WeChat or Alipay."),
                          N_("Top up again from your page: it takes you to the app to confirm.")),
    PaymentOrderNotFound: Refusal(N_("There is no such payment."), N_("Open it from your own page.")),
    StatementDayNotOver: Refusal(N_("That day's statement is not ready yet."),
                                 N_("Choose a day before today; a day's statement comes out the next morning.")),
    holds.HoldTooSmall: Refusal(N_("A hold this small is not accepted."), N_("Hold a larger amount.")),
    holds.HoldClosed: Refusal(N_("This hold was already settled."),
                                 N_("The session's receipt shows what it charged and released.")),
    refunds.NothingToRefund: Refusal(N_("There is nothing left to refund."),
                                        N_("The session's receipt lists the refunds already made.")),
    refunds.RefundTooLarge: Refusal(N_("That is more than can be refunded."), N_("Enter a smaller amount.")),
    refunds.RefundExceedsBalance: Refusal(N_("The wallet holds less than that."), N_("Enter a smaller amount.")),
    withdrawals.CannotWithdraw: Refusal(N_("Part of this balance cannot go back the way it came."),
                                        N_("Call the service number to have it paid out.")),
    dtus.NoDtuLink: Refusal(N_("This meter is not behind a DTU."), N_("Commission its DTU first.")),
    dtus.DtuTaken: Refusal(N_("That DTU id is already in use."), N_("Give each DTU its own id.")),
    dtus.MeterInUse: Refusal(N_("A session is running on this meter."), N_("Stop it before changing the DTU.")),
    dtus.NoSuchOutlet: Refusal(N_("The point has no such outlet."), N_("Use the outlet numbers of the point.")),
}


def refusal_of(error: errors.ScanPowerError) -> Refusal:
    """The words for this error: its class's, else its nearest ancestor's."""
    return next(REFUSALS[cls] for cls in type(error).__mro__ if cls in REFUSALS)


def refusal_text(error: errors.ScanPowerError) -> str:
    return refusal_of(error).text()
