"""QR labels for outlets: the code encodes {PUBLIC_BASE_URL}/s/{token}."""
import io
import secrets

import qrcode
import qrcode.image.pure
import qrcode.image.svg

TOKEN_BYTES = 18  # 144 random bits: unguessable, and says nothing about ids


def new_qr_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def outlet_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/s/{token}"


def _make(url: str, factory) -> bytes:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image(image_factory=factory).save(buffer)
    return buffer.getvalue()


def qr_png(url: str) -> bytes:
    return _make(url, qrcode.image.pure.PyPNGImage)


def qr_svg(url: str) -> bytes:
    return _make(url, qrcode.image.svg.SvgPathImage)
