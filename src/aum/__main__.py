import sys

from aum.cli import main

sys.exit(main())
