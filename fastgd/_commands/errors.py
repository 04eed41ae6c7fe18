"""The command line's error: one line that says which input is wrong and how."""


class CommandError(Exception):
    """A problem with the command's input, explained in one line."""


def listing(names):
    """Up to 12 names, quoted, and how many more."""
    names = list(names)
    shown = ", ".join(map(repr, names[:12]))
    return shown + (f" and {len(names) - 12} more" if len(names) > 12 else "")


def first_line(exc):
    """The first line of an exception's message (its type when it has none)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
