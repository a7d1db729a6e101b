"""The progress bar: items done of total (resumed items count as done), tokens/s, failures, ETA."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, done: int, enabled: bool = True, file=None) -> None:
        self.t0 = time.perf_counter()
        self.tokens_in = self.tokens_out = self.ok = self.failed = 0
        self.bar = tqdm(total=total, initial=done, unit="item", disable=not enabled, dynamic_ncols=True,
                        file=file or sys.stderr, desc="batch", smoothing=0.1)

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.t0

    def update(self, record: dict) -> None:
        self.tokens_in += int(record.get("tokens_in") or 0)
        self.tokens_out += int(record.get("tokens_out") or 0)
        if record.get("status") == "ok":
            self.ok += 1
        else:
            self.failed += 1
        dt = max(self.elapsed_s, 1e-9)
        self.bar.set_postfix(failed=self.failed, in_tok_s=f"{self.tokens_in / dt:.0f}",
                             out_tok_s=f"{self.tokens_out / dt:.1f}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
