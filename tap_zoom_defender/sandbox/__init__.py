"""A local emulator of the parts of Zoom's REST API this project uses (README: the sandbox).

It imports nothing from the tap except the shared facts in ``zoom_limits``, so it stays an
independent check of the tap's behaviour.
"""

from .config import SandboxConfig
from .faults import FaultSpec
from .sandbox import Sandbox
from .server import LogEntry

__all__ = ["FaultSpec", "LogEntry", "Sandbox", "SandboxConfig"]
