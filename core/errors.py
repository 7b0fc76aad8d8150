"""Typed errors whose message is written for the person who caused them.

Core code raises these; the UI shows ``error.message`` and the CLI prints
``error: <message>`` and exits 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class HeadroomError(Exception):
    """Base class for errors a user can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(HeadroomError):
    """Bad user input: a file, column, row, table name or parameter.

    ``file``, ``column`` and ``row`` are kept separately so a UI can point at the spot.
    ``row`` is the spreadsheet row: the header is row 1, the first data row is row 2.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        where = []
        if file:
            where.append(f"file '{file}'")
        if column:
            where.append(f"column '{column}'")
        if row is not None:
            where.append(f"row {row}")
        full = f"{', '.join(where)}: {message}" if where else message
        super().__init__(full)
        self.file = file
        self.column = column
        self.row = row


class StorageError(HeadroomError):
    """A database or model-store problem the user can fix (bad URL, unreachable server)."""
