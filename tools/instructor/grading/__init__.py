"""Grading that does not trust the student: the kernel in a sandbox, the verdicts judged outside it."""
