"""Shared test settings.

In CI (CI=true) hypothesis runs derandomized: the same thousands of examples on every run, so a red CI
always means a change broke something. Locally it explores fresh random examples each run.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
