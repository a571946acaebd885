"""The course hub's numbers, in one place: read by jupyterhub_config.py and course_hub.py, and
checked against the Zero to JupyterHub values (z2jh-values.yaml) by tests/test_hub_config.py."""
from __future__ import annotations

GIB = 1024 ** 3

# Memory per student: the guarantee is the largest peak the class simulation measured for one
# student's server and kernel (1.31 GB, exercise 2; benchmarks/class_on_hub.py, the table in
# docs/instructors.md), rounded up; the limit leaves room for a second kernel or a larger
# experiment before the kernel is stopped.
MEMORY_GUARANTEE = 1.5 * GIB
MEMORY_LIMIT = 2 * GIB
INSTRUCTOR_MEMORY_LIMIT = 4 * GIB  # the instructor also builds releases and grades
CPU_LIMIT = 1.0  # cores per student: a kernel that loops forever takes one core, never the machine


def threads(cores: float) -> dict[str, str]:
    """Environment that keeps PyTorch's threads to the cores a user may use: more threads than the
    CPU quota only wait for each other (measured with the class simulation, docs/instructors.md)."""
    count = str(max(1, int(cores)))
    return {"OMP_NUM_THREADS": count, "MKL_NUM_THREADS": count}


# Culling. A student's server that has seen no activity for this long is stopped (its files stay);
# inside a server, a kernel silent that long is shut down, busy or not (a loop that never prints).
CULL_IDLE_SERVER = 3600
CULL_EVERY = 300
CULL_IDLE_KERNEL = 1800
CULL_KERNEL_EVERY = 60

COURSE_ID = "lenet"
COURSE_FOLDER = "lenet-course"  # in each student's home: the student release
DEFAULT_URL = f"/lab/tree/{COURSE_FOLDER}/notebooks/en/lenet.ipynb"
HUB_PORT = 8000
