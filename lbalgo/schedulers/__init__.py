"""Every scheduler lbalgo implements, one module each; see :mod:`.registry`."""

from .base import Scheduler
from .registry import SCHEDULERS, get, names, register
from .rr import RR
from .wrr import WRR
from .lc import LC
from .wlc import WLC
