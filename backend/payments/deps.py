"""The configured payment providers, for routes."""
from typing import Annotated

from fastapi import Depends, Request

from billing.payments.interface import Payer
from billing.payments.providers import Providers


def configured_providers(request: Request) -> Providers:
    return request.app.state.payments


def payer_of(request: Request, openid: str | None) -> Payer:
    """The payer as WeChat and Alipay need them: openid inside WeChat, else the phone's address for H5."""
    return Payer(openid=openid, client_ip=request.client.host if request.client else None)


Payments = Annotated[Providers, Depends(configured_providers)]
