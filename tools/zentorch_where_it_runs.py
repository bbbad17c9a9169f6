"""tox installs zentorch (104 MB, AMD's ZenDNN plugin) only on an AMD CPU, the only one its family runs on
(families/zentorch.py refuses other vendors with the reason); elsewhere it says so and installs nothing.

No install marker can tell the CPU's vendor (PEP 508 knows the platform, not the processor), so tox runs this before
its commands: `python tools/zentorch_where_it_runs.py constraints.txt`.
"""

import subprocess
import sys

from fastbert_variants.hardware import cpu_vendor

vendor = cpu_vendor()
if vendor != "AuthenticAMD":
    print(f"zentorch not installed: this CPU is {vendor}, and zentorch runs on AMD's (its variants skip saying so)")
    sys.exit(0)
constraints = ["-c", sys.argv[1]] if len(sys.argv) > 1 else []
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet", *constraints, "zentorch>=2.13"]))
