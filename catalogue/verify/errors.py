"""The one exception the verification code raises for bad input: what is wrong and how to fix it."""

from __future__ import annotations

from catalogue.errors import UsageError

__all__ = ["VerifyError"]


class VerifyError(UsageError):
    """A verification request that cannot run as asked (unknown model, no attention outputs, bad heads).

    The message says what is wrong and how to fix it; the CLI prints it and exits 1.
    """
