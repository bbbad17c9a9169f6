"""Progress for the long steps (builds, compiles, scoring, the serving load), on a terminal only.

Off unless `enable` was called: the CLI enables it when stderr is a terminal; the pytest plugin
when its output is a terminal and not under -q nor in an xdist worker, so CI logs stay as they
are. Under pytest the bar is drawn on a duplicate of the terminal's descriptor taken before any
test captures output, on the line below pytest's own, and erased when done, the cursor put back
where pytest left it: pytest's output reads exactly as without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator

_terminal: _TerminalLine | None = None


class _TerminalLine:
    """A file for tqdm: draws on the line below the current one; `close` erases it and returns the cursor."""

    def __init__(self, fd: int, column: Callable[[], int]):
        self.fd, self.column, self.drawn = fd, column, False
        self.lock = threading.Lock()

    def width(self) -> int:
        try:
            columns = os.get_terminal_size(self.fd).columns
        except OSError:
            columns = 0
        return max(20, columns - 1) if columns else 79  # 0: a terminal that does not say its size

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip("\n")
        if not text.strip():  # tqdm's own clearing; `close` does it
            return
        with self.lock:
            start = "" if self.drawn else "\n"
            self.drawn = True
            os.write(self.fd, f"{start}\r{text[: self.width()]}\x1b[K".encode())

    def flush(self) -> None:
        pass

    def close(self) -> None:
        with self.lock:
            if self.drawn:  # clear the bar's line, go up to pytest's line and to where its text ended
                os.write(self.fd, f"\r\x1b[K\x1b[1A\x1b[{self.column() + 1}G".encode())
            self.drawn = False


def enable(fd: int, column: Callable[[], int] = lambda: 0) -> None:
    """Draw progress on `fd` (a terminal); `column` says where the caller's current line ends."""
    global _terminal
    _terminal = _TerminalLine(fd, column)


def disable() -> None:
    global _terminal
    _terminal = None


def enabled() -> bool:
    return _terminal is not None


def bar(items: Iterable, total: int | None = None, desc: str = "", unit: str = "it") -> Iterator:
    """`items`, with a bar on the terminal while they are consumed."""
    if _terminal is None:
        yield from items
        return
    from tqdm import tqdm

    line = _TerminalLine(_terminal.fd, _terminal.column)
    with tqdm(items, total=total, desc=desc, unit=unit, file=line, leave=False, ncols=line.width(),
              mininterval=0.5, dynamic_ncols=False) as shown:
        try:
            yield from shown
        finally:
            line.close()


@contextlib.contextmanager
def activity(desc: str, interval: float = 0.5):
    """`desc` and the seconds elapsed, ticking on the terminal while the block runs (a build, a compile)."""
    if _terminal is None:
        yield
        return
    from tqdm import tqdm

    line = _TerminalLine(_terminal.fd, _terminal.column)
    shown = tqdm(total=None, desc=desc, file=line, leave=False, bar_format="{desc} {elapsed}", mininterval=interval)
    done = threading.Event()

    def tick():
        while not done.wait(interval):
            shown.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        shown.close()
        line.close()


def quiet_libraries() -> None:
    """Keep the libraries' notices (optional kernels not loaded, progress bars of their own) out of our output.

    Through the environment variables they read at import, so that a command that needs no
    transformers (a `build` of cache hits) does not spend seconds importing it to quiet it.
    """
    for noisy in ("torchao", "torch._dynamo", "torch.utils._pytree", "optimum", "nncf", "zentorch"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:  # imported before us (pytest plugins): tell it directly
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
