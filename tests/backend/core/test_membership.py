"""one_of: the rows whose column is among the values, as an IN list would give them, for any number of values."""
import pytest
from sqlmodel import col, select

from backend.core.membership import one_of
from backend.points.models import Meter
from tests import factories


@pytest.mark.parametrize("picked", [[], [0], [0, 2], [2, 2, 0], [0, 1, 2]])
def test_one_of_selects_the_rows_an_in_list_selects(db, picked):
    meters = [factories.active_point(db, outlets=1)[1] for _ in range(3)]
    db.commit()
    serials = [meters[n].serial for n in picked] + ["SP-nobody"]
    by_array = set(db.exec(select(Meter.id).where(one_of(db, col(Meter.serial), serials))))
    by_list = set(db.exec(select(Meter.id).where(col(Meter.serial).in_(serials))))
    assert by_array == by_list == {meters[n].id for n in picked}
    assert set(db.exec(select(Meter.serial).where(one_of(db, col(Meter.id), [m.id for m in meters])))) == \
        {m.serial for m in meters}
