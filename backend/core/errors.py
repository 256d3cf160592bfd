"""Root of the domain errors; each carries the HTTP status it renders as."""


class ScanPowerError(Exception):
    status_code = 400

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotFound(ScanPowerError):
    status_code = 404


class Conflict(ScanPowerError):
    status_code = 409


class Forbidden(ScanPowerError):
    status_code = 403


class NotAuthenticated(ScanPowerError):
    status_code = 401


class TooManyRequests(ScanPowerError):
    """Refused for a while; `retry_after` seconds are sent as the Retry-After header."""

    status_code = 429

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after
