"""The event names, re-exported for the supervisor's modules (they live in ``pitstop.events``)."""

from pitstop.events import *  # noqa: F403
