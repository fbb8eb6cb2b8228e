import os
import sys

# The generator and harness are plain modules next to the tests.
sys.path.insert(0, os.path.dirname(__file__))
