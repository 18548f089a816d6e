"""``python -m tap_zoom_defender.azure_monitor_sandbox`` = ``azure-monitor-sandbox``."""

import sys

from .cli import main

sys.exit(main())
