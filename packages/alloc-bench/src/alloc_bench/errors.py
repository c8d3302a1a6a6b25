"""The error type of the benchmark: a user-facing problem (bad name, seeds, options, file)."""

from __future__ import annotations


class BenchError(ValueError):
    """A problem with what the user asked for; the CLI prints it and exits with code 2.

    A subclass of ``ValueError`` so that library callers can catch either.
    """
