"""Long fits: a progress bar per epoch, and Ctrl-C that keeps the last complete epoch.

A watched fit runs its backend in a worker thread (the Numba kernels release the GIL). The
main thread wakes every ``POLL_SECONDS`` (sooner in a fit's first fraction of a second, so
that a short fit is not kept waiting) to see whether the fit has finished, moves the bar
(tqdm) every ``BAR_SECONDS`` and, on Ctrl-C, asks the fit to stop at the end of the epoch in
progress; a second Ctrl-C gives up at once.
"""

import sys
import threading
import time

#: Seconds between two looks at a running fit; at first this fraction of the time it has run
#: (from ``FIRST_POLL_SECONDS``), so that a fit is found finished within about 5% of its time.
POLL_SECONDS = 0.02
POLL_FRACTION = 0.05
FIRST_POLL_SECONDS = 0.0005
#: Seconds between two updates of the bar.
BAR_SECONDS = 0.1
#: Fits of at least this many entries of X times epochs are watched even without a bar, so
#: that Ctrl-C can stop them (smaller fits take well under a second).
WATCH_MIN_WORK = 1 << 24
#: Seconds before an automatic bar appears: fits faster than this show none.
AUTO_BAR_DELAY = 1.0


def wants_watching(progress, work):
    """Whether to run the fit in a watched thread, and whether to show a bar.

    Parameters
    ----------
    progress : bool or None
        True: a bar, always; False: none; None: a bar on a terminal (after
        ``AUTO_BAR_DELAY`` seconds).
    work : int
        Entries of X times epochs.

    Returns
    -------
    watch, bar : bool
    """
    bar = progress is True or (progress is None and sys.stderr.isatty())
    return bar or work >= WATCH_MIN_WORK, bar


def run_watched(run, control, epochs, describe, bar, immediate):
    """Run ``run()`` in a worker thread; show progress and pass Ctrl-C on to it.

    Parameters
    ----------
    run : callable
        The fit; its return value is returned.
    control : ndarray of shape (2,), int64
        ``control[1]``: epochs completed (the fit writes it); ``control[0]``: set here to ask
        the fit to stop at the end of the epoch.
    epochs : int
        The epoch budget (the bar's total).
    describe : callable
        ``describe(done)`` gives the text shown after the bar once ``done`` epochs are done.
    bar, immediate : bool
        Whether to show a bar, and whether at once (else after ``AUTO_BAR_DELAY`` seconds).
    """
    # The main thread polls a plain flag with time.sleep: a Ctrl-C that lands inside a lock
    # operation (Thread.join, Event.wait) can leave the lock unusable, and both threads hang.
    outcome = {}

    def target():
        try:
            outcome["value"] = run()
        except BaseException as exc:  # handed to the main thread below
            outcome["error"] = exc
        finally:
            outcome["finished"] = True

    thread = threading.Thread(target=target, name="fastgd-fit", daemon=True)
    progress = None
    if bar:
        from tqdm.auto import tqdm

        progress = tqdm(total=epochs, unit="epoch", file=sys.stderr, dynamic_ncols=True,
                        delay=0.0 if immediate else AUTO_BAR_DELAY, leave=True)
    asked = False
    try:
        try:
            thread.start()
        except KeyboardInterrupt:  # the thread runs, or will: it stops at its first epoch's end
            asked = True
            control[0] = 1
        started = drawn = time.monotonic()
        while "finished" not in outcome:
            try:
                time.sleep(min(POLL_SECONDS, max(FIRST_POLL_SECONDS,
                                                 POLL_FRACTION * (time.monotonic() - started))))
                if progress is not None and time.monotonic() - drawn >= BAR_SECONDS:
                    _advance(progress, int(control[1]), describe)
                    drawn = time.monotonic()
            except KeyboardInterrupt:  # anywhere in the loop, the bar's drawing included
                if asked:
                    raise
                asked = True
                control[0] = 1
        if progress is not None:
            _advance(progress, int(control[1]), describe)
    finally:
        if progress is not None:
            progress.close()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _advance(progress, done, describe):
    if done > progress.n:
        progress.update(done - progress.n)
        progress.set_postfix_str(describe(done), refresh=False)
