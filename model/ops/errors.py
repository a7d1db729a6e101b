"""Errors raised by the kernel backends and their dispatcher."""


class KernelBackendUnavailable(RuntimeError):
    """A kernel backend was asked for but cannot run here; the message says how to get it."""
