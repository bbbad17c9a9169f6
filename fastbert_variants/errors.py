"""The one exception type that means "the user asked for something wrong"."""


class UserError(Exception):
    """A mistake in what the user asked for, said in one line with how to fix it.

    The CLI prints it on stderr and exits 2; the pytest plugin turns it into a usage error.
    Anything else that escapes is a bug in this package and keeps its traceback.
    """
