"""Tooling for the exercise notebooks: not part of the chapter's reading.

Variants of LeNet and training recipes to compare, experiments and their tables, error
analysis (``confusion``), saving a design for the next exercise (``network_files``), feature
maps, the widgets, the checks a student runs, and the grader's export of answers (``grading``).
Everything a notebook calls is also a ``d2l.`` name (``d2l_local/__init__.py``).
"""
