"""The gateway's garbage collector, tuned for a stream of short-lived messages.

Python's cyclic collector runs every 700 new objects and, now and then, walks every object in the
process: the modules, SQLAlchemy's mappers and pydantic's schemas loaded at start-up, hundreds of
thousands of them, none ever garbage. Draining a backlog, that walk cost a third of the gateway's time
(docs/performance.md). After start-up the gateway freezes what is loaded (the collector skips it from
then on) and lets the young generation grow larger before it is collected, so a batch's objects mostly
die before the collector looks at them.
"""
import gc

# Collect the young generation every this many new container objects (Python's default: 700) ...
YOUNG_OBJECTS = 50_000
# ... the middle one every 20 of those, and the old one every 100 of the middle one's.
OLDER_EVERY = (20, 100)


def settle_after_start_up() -> None:
    """Collect once, freeze every object alive now out of later collections, and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, *OLDER_EVERY)
