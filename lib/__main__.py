"""`python -m lib`: the operator CLI."""

import sys

from lib.ops.cli import main

sys.exit(main())
