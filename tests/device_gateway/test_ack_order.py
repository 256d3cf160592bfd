"""PUBACKs leave in arrival order whatever order the lanes finish in."""
import threading

from hypothesis import given
from hypothesis import strategies as st

from device_gateway.ack_order import InOrderAcks


@given(st.permutations(range(30)))
def test_acks_leave_in_arrival_order_whatever_order_work_finishes(finish_order):
    sent = []
    acks = InOrderAcks(sent.append)
    tickets = [acks.ticket() for _ in range(30)]
    for index in finish_order:
        acks.finished(tickets[index], f"message {index}")
        assert sent == [f"message {n}" for n in range(len(sent))]  # always a prefix
    assert sent == [f"message {n}" for n in range(30)] and acks.waiting() == 0


def test_many_threads_finishing_at_once_still_ack_in_order():
    sent = []
    acks = InOrderAcks(sent.append)
    tickets = [acks.ticket() for _ in range(2000)]
    lanes = [threading.Thread(target=lambda r=r: [acks.finished(tickets[n], n) for n in r])
             for r in (range(0, 2000, 3), range(1, 2000, 3), range(2, 2000, 3))]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    assert sent == list(range(2000))
