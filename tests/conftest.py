"""Test-wide settings: hypothesis runs a fixed, reproducible set of examples.

Every run (CI included) then tries the same inputs, so a failure is never a matter of luck and
always reproduces. Set CHAINRULE_HYPOTHESIS=explore to draw fresh random examples instead (and
raise the example counts with CHAINRULE_FUZZ_EXAMPLES for the fuzz tests).
"""

import os

from hypothesis import settings

settings.register_profile("fixed", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("explore" if os.environ.get("CHAINRULE_HYPOTHESIS") == "explore" else "fixed")
