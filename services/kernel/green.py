"""Eventlet set-up for service processes; must run before anything else is imported.

eventlet warns on import that it is in maintenance mode; nameko 2.14 (fixed by the
customer) depends on it, so the warning is known and silenced here, once.
"""
import warnings


def patch() -> None:
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet
    eventlet.monkey_patch()
