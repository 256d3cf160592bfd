"""Outlet labels as images for printing: one card per outlet (PNG), or A4 pages of nine cards (PDF).

Drawn with Pillow at 300 dpi in a CJK font found on the system (Noto Sans CJK SC, WenQuanYi Micro Hei);
without one the card's words are English only, since Pillow's own font has no Chinese.
"""
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

DPI = 300
CARD = (708, 945)  # 60 × 80 mm
A4 = (2480, 3508)
GRID = (3, 3)
# (path, face index): Noto's collection holds Japanese, Korean, Simplified Chinese… faces; SC is the third.
CJK_FONTS = (("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
             ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
             ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0))


@dataclass(frozen=True)
class Card:
    point_name: str
    channel: int
    url: str
    service_phone: str


@dataclass(frozen=True)
class Lettering:
    """The font the cards are drawn in, and whether it has Chinese."""

    path: str | None
    index: int = 0

    @property
    def chinese(self) -> bool:
        return self.path is not None

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        if self.path is None:
            return ImageFont.load_default(size)
        return ImageFont.truetype(self.path, size, index=self.index)


def find_lettering(path: str | None = None) -> Lettering:
    """The given font, else the first CJK font installed, else Pillow's own (no Chinese)."""
    if path:
        return Lettering(path)
    for candidate, index in CJK_FONTS:
        if Path(candidate).exists():
            return Lettering(candidate, index)
    return Lettering(None)


def card_image(card: Card, lettering: Lettering) -> Image.Image:
    image = Image.new("RGB", CARD, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, CARD[0] - 1, CARD[1] - 1), outline="#999999", width=3)  # the line to cut along
    head = "扫码用电 · Scan to use power" if lettering.chinese else "Scan to use power"
    _centred(draw, 60, head, lettering.font(44))
    qr = _qr(card.url, 560)
    image.paste(qr, ((CARD[0] - qr.width) // 2, 120))
    outlet = f"插座 Outlet {card.channel}" if lettering.chinese else f"Outlet {card.channel}"
    _centred(draw, 710, card.point_name if lettering.chinese else card.point_name.encode("ascii", "replace").decode(),
             lettering.font(36))
    _centred(draw, 770, outlet, lettering.font(52))
    phone = f"客服 Service {card.service_phone}" if lettering.chinese else f"Service {card.service_phone}"
    _centred(draw, 850, phone, lettering.font(32))
    _centred(draw, 900, card.url, lettering.font(18))
    return image


def card_png(card: Card, lettering: Lettering) -> bytes:
    buffer = io.BytesIO()
    card_image(card, lettering).save(buffer, "PNG", dpi=(DPI, DPI))
    return buffer.getvalue()


def sheets_pdf(images: Iterable[Image.Image]) -> bytes:
    """A4 pages of nine cards each, in order."""
    pages = list(_pages(images))
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", resolution=DPI, save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def _pages(images: Iterable[Image.Image]) -> Iterator[Image.Image]:
    per_page = GRID[0] * GRID[1]
    margin_x = (A4[0] - GRID[0] * CARD[0]) // 2
    margin_y = (A4[1] - GRID[1] * CARD[1]) // 2
    page, placed = Image.new("RGB", A4, "white"), 0
    for image in images:
        row, column = divmod(placed, GRID[0])
        page.paste(image, (margin_x + column * CARD[0], margin_y + row * CARD[1]))
        placed += 1
        if placed == per_page:
            yield page
            page, placed = Image.new("RGB", A4, "white"), 0
    if placed:
        yield page


def _qr(url: str, size: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=2)
    code.add_data(url)
    code.make(fit=True)
    code.box_size = size // (code.modules_count + 2 * code.border)  # whole pixels per module: crisp when printed
    return code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def _centred(draw: ImageDraw.ImageDraw, top: int, text: str, font) -> None:
    width = draw.textlength(text, font=font)
    draw.text(((CARD[0] - width) / 2, top), text, fill="black", font=font)
