"""filmcolor's own error types. Backend errors are wrapped into these once, at
the I/O boundary; the command line turns them into one line and an exit code."""


class FilmcolorError(Exception):
    """Base of every error filmcolor raises on purpose."""


class ModelError(FilmcolorError):
    """A checkpoint is missing, malformed, or names an unknown network."""


class InputError(FilmcolorError):
    """An input file is missing, unreadable, corrupt or of an unsupported kind."""


class OutputError(FilmcolorError):
    """An output cannot be written where or how it was asked for."""
