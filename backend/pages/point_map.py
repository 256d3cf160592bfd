"""A plain map of points by state: latitude and longitude placed on an SVG, nothing fetched from anywhere."""
from dataclasses import dataclass
from math import cos, radians

from backend.points.models import MeteringPoint

WIDTH, HEIGHT, PAD = 640, 300, 28
CLOSE_PX, LINE_PX = 14, 16
MIN_SPAN_DEG = 0.5  # a lone point or a tight cluster still gets a readable area around it


@dataclass(frozen=True)
class Dot:
    point_id: int
    name: str
    status: str
    x: float
    y: float
    label_y: float  # labels of points at (nearly) one place are stacked, not drawn over each other


@dataclass(frozen=True)
class PointMap:
    dots: list[Dot]
    width: int
    height: int
    west: float
    east: float
    south: float
    north: float


def point_map(points: list[MeteringPoint]) -> PointMap:
    """Points placed by longitude (x) and latitude (y), east-west distances shrunk by the cosine of the latitude."""
    if not points:
        return PointMap([], WIDTH, HEIGHT, 0, 0, 0, 0)
    south, north = min(p.latitude for p in points), max(p.latitude for p in points)
    west, east = min(p.longitude for p in points), max(p.longitude for p in points)
    middle = (south + north) / 2
    squeeze = max(cos(radians(middle)), 0.1)
    lat_span = max(north - south, MIN_SPAN_DEG)
    lon_span = max(east - west, MIN_SPAN_DEG)
    # One scale for both axes (pixels per km, roughly), fitted to the box.
    scale = min((WIDTH - 2 * PAD) / (lon_span * squeeze), (HEIGHT - 2 * PAD) / lat_span)
    centre_lon, centre_lat = (west + east) / 2, middle
    placed: list[Dot] = []
    for p in points:
        x = round(WIDTH / 2 + (p.longitude - centre_lon) * squeeze * scale, 1)
        y = round(HEIGHT / 2 - (p.latitude - centre_lat) * scale, 1)
        near = sum(1 for d in placed if abs(d.x - x) < CLOSE_PX and abs(d.y - y) < CLOSE_PX)
        placed.append(Dot(p.id, p.name, p.status.value, x, y, round(y + 4 + near * LINE_PX, 1)))
    dots = placed
    return PointMap(dots, WIDTH, HEIGHT, round(west, 3), round(east, 3), round(south, 3), round(north, 3))
