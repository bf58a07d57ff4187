"""Wait for a condition by polling it, never by sleeping a guessed time.

A fixed sleep is either too short on a loaded machine (a flaky test) or too long everywhere
(a slow suite); polling returns as soon as the condition holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    ready: Callable[[], object],
    timeout: float,
    interval: float = 0.1,
    ignore: tuple[type[Exception], ...] = (),
) -> bool:
    """Call ``ready`` every ``interval`` s until it returns something true; False after ``timeout``.

    Exceptions of the ``ignore`` types count as "not yet" (a starting server refuses
    connections). To give up early, ``ready`` may call ``pytest.fail`` (e.g. when the process it
    waits for has exited): that is not an ``Exception`` and always propagates.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return True
        except ignore:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
