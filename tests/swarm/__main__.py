"""`python3 tests/swarm`: removes the namespaces left by dead runs."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import swarm  # noqa: E402

swarm.cleanup_stale()
print("namespaces of dead %s runs removed" % swarm.PREFIX)
