# JupyterHub's settings for the course hub. tools/instructor/hub/course_hub.py starts the hub with
# this file and LENET_HUB_DIR set to the hub's folder, where it wrote class.json (who may log in),
# the students' and the instructor's Jupyter settings, and the hub's own state.
# z2jh-values.yaml says the same for Zero to JupyterHub; the numbers come from settings.py.
import json
import os
import pwd
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))
from tools.instructor.hub import settings  # noqa: E402
from tools.instructor.hub.spawner import CourseSpawner  # noqa: E402

HUB = Path(os.environ["LENET_HUB_DIR"])
CLASS = json.loads((HUB / "class.json").read_text())
BIN = Path(sys.executable).parent

c = get_config()  # noqa: F821 (JupyterHub defines it)
c.JupyterHub.bind_url = f"http://{CLASS['ip']}:{CLASS['port']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{CLASS['port'] + 2}"  # the hub's own API, behind the proxy
c.JupyterHub.db_url = f"sqlite:///{HUB / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HUB / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(HUB / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(HUB / "proxy.pid")
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{CLASS['port'] + 1}"

# Log in with the Unix accounts course_hub.py made from the class list (PAM: the machine's own passwords).
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(CLASS["students"]) | {CLASS["instructor"]}
c.Authenticator.admin_users = {CLASS["instructor"]}

# Each user's server runs as that user, in their home, within their memory and CPU limits.
c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = settings.DEFAULT_URL
c.Spawner.mem_limit = int(settings.MEMORY_LIMIT)
c.Spawner.cpu_limit = settings.CPU_LIMIT
c.Spawner.start_timeout = 180  # a class logging in at once on a small machine
c.Spawner.http_timeout = 120
environment = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "JUPYTER_PATH": str(HUB / "jupyter")}
for name in ("D2L_DATA_DIR", "D2L_MAX_EXAMPLES"):
    if os.environ.get(name):
        environment[name] = os.environ[name]


def settings_for(spawner) -> None:
    """The instructor gets the grading tools (formgrader) and more memory; students get the class's settings.

    Everyone saves networks in their own course folder (the checkout's work/ is not theirs to write).
    """
    instructor = spawner.user.name == CLASS["instructor"]
    home = Path(pwd.getpwnam(spawner.user.name).pw_dir)
    spawner.environment = {**environment, "D2L_WORK_DIR": str(home / settings.COURSE_FOLDER / "work"),
                           "JUPYTER_CONFIG_PATH": str(HUB / ("instructor-config" if instructor else "student-config")),
                           **settings.threads(settings.CPU_LIMIT)}
    if instructor:
        spawner.mem_limit = int(settings.INSTRUCTOR_MEMORY_LIMIT)
        spawner.cpu_limit = float(os.cpu_count() or 1)
        spawner.environment.update(settings.threads(spawner.cpu_limit))


c.Spawner.pre_spawn_hook = settings_for

# Servers idle for an hour are stopped (the files stay); the culler is a service of the hub.
c.JupyterHub.services = [
    {"name": "idle-culler",
     "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={settings.CULL_IDLE_SERVER}",
                 f"--cull-every={settings.CULL_EVERY}"]},
    # For the instructor's scripts and the class simulation: its token is in the hub folder, readable by root only.
    {"name": "course-admin", "api_token": (HUB / "admin-token").read_text().strip()},
]
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    {"name": "course-admin", "services": ["course-admin"], "scopes": ["admin:users", "admin:servers", "list:users"]},
]
