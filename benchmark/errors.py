"""The one exception type for mistakes in the user's input."""


class UserError(Exception):
    """A bad value from the user: the CLI prints it as one line and exits with status 2."""
