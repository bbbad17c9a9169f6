"""The one exception type that means "the user asked for something wrong", and how its line shows a value."""

import sys


class UserError(Exception):
    """A mistake in what the user asked for, said in one line with how to fix it.

    The CLI prints it on stderr and exits 2; the pytest plugin turns it into a usage error.
    Anything else that escapes is a bug in this package and keeps its traceback.
    """


def shown(value, limit: int = 60) -> str:
    """A value as an error line shows it: repr, cut to `limit` characters (an integer of 5,000 digits has no repr)."""
    try:
        text = repr(value)
    except ValueError:
        text = f"an integer of over {sys.get_int_max_str_digits()} digits"
    return text if len(text) <= limit else f"{text[:limit - 3]}..."
