"""`python -m lib`: the operator CLI."""

import sys

from lib.cli import main

sys.exit(main())
