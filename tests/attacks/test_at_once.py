"""The attacks' own tool: calls released together, and a call that hangs fails the attack instead of hiding."""
import threading
import time

import pytest

from tests.attacks.conftest import at_once


def test_every_call_runs_at_the_same_moment_and_answers_in_order():
    started = []
    answers = at_once([lambda n=n: started.append(threading.get_ident()) or n for n in range(6)])
    assert answers == list(range(6)) and len(set(started)) == 6


def test_an_exception_is_an_answer_the_attack_inspects():
    [answer] = at_once([lambda: 1 / 0])
    assert isinstance(answer, ZeroDivisionError)


def test_a_call_that_hangs_fails_the_attack():
    release = threading.Event()
    with pytest.raises(pytest.fail.Exception, match="1 of 2 calls still running after 1 s: calls \\[1\\]"):
        at_once([lambda: None, lambda: release.wait(30)], timeout=1)
    release.set()
    time.sleep(0.05)
