"""A course hub on one machine: JupyterHub, real accounts, nbgrader's exchange (course_hub.py)."""
