"""`python -m fastbert_variants.cli`, as the `fastbert-variants` command."""

import sys

from . import main

sys.exit(main())
