"""A BaseException (Ctrl-C) raised by a retry predicate ends the map with it,
its retries dropped.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from futures_settle import (
    Retry,
    map_settled,
)

from helpers.retry_tasks import FailsFirst

pytestmark = pytest.mark.timeout(60)


class TestCtrlC:
    @pytest.mark.parametrize("raised", [KeyboardInterrupt, SystemExit])
    def test_predicate_interrupted_in_the_map_drops_every_retry(
        self, raised: type[BaseException]
    ) -> None:
        """Ctrl-C (or SystemExit) landing in on=, on the map's consuming thread, ends the map
        with it, and no item waiting for its retry runs again afterwards."""
        seen: list[BaseException] = []

        def rule(exc: BaseException) -> bool:
            seen.append(exc)
            if len(seen) == 3:
                raise raised
            return True

        fn = FailsFirst(set(range(8)), fails=10)
        retry = Retry(rule, delay=0.2, jitter=0)
        with ThreadPoolExecutor(2) as pool, pytest.raises(raised):
            for _ in map_settled(fn, range(8), executor=pool, buffersize=4, retry=retry):
                pass  # pragma: no cover - every item fails: nothing is yielded before
        # The pool is shut down: what was queued ran or was cancelled (the fourth item may).
        # Past the delay, a retry kept would be due.
        time.sleep(0.25)
        assert set(fn.runs.values()) == {1}
        assert len(fn.runs) >= 3  # the rule saw three failures
        assert set(fn.runs) <= {0, 1, 2, 3}
