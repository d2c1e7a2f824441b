"""What the tests share: task functions that worker processes import by name, hostile futures
and engines, and the tools that interrupt a group at a chosen line.

The suite's ``conftest.py`` puts ``tests/`` on ``sys.path``, so workers of every start method
import these as ``helpers.<module>``.
"""
