"""`python -m lib`: the operator CLI."""

import sys

from lib.lake.reader import release_native_threads
from lib.ops.cli import main

status = main()
release_native_threads()  # no Arrow or S3 worker may outlive the interpreter (exit 134)
sys.exit(status)
