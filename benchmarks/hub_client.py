"""A student or instructor at the course hub, driven through JupyterHub's and Jupyter's own APIs.

What a browser does, without the browser: log in with the account's password, start the
server, open a notebook's kernel over its websocket and run the cells one by one (keeping
their outputs, as JupyterLab does, and saving the notebook), and fetch or submit through
nbgrader's Assignments tab. Every request is bounded in time; every failed one is recorded.
Used by benchmarks/class_on_hub.py and tests/test_hub.py.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import nbformat
import requests
import websocket

REQUEST_TIMEOUT = 60  # seconds for one HTTP request
CELL_TIMEOUT = 900  # seconds for one cell


DEATHS = ("restarting", "autorestarting", "dead")  # what the server says of a kernel that died under a request


class HubRequestFailed(RuntimeError):
    """A request to the hub or a user's server that did not succeed."""


class KernelDied(RuntimeError):
    """The kernel died while it ran a request (the server restarts it)."""


@dataclass
class NotebookRun:
    """A notebook as it was run: its outputs, when the first plot appeared, and any error."""

    nb: nbformat.NotebookNode
    seconds: float
    first_plot: float | None = None  # seconds from the run's start to the first image of a cell tagged as the plot
    errors: list[str] = field(default_factory=list)
    finish: str = ""


class HubUser:
    """One account at the hub: its browser session, its server and its kernels."""

    def __init__(self, hub: str, name: str, password: str) -> None:
        self.hub, self.name, self.password = hub.rstrip("/"), name, password
        self.session = requests.Session()
        self.token = ""
        self.requests = 0
        self.failures: list[str] = []

    # -- HTTP -------------------------------------------------------------------------------------
    def request(self, method: str, url: str, ok: tuple[int, ...] = (200, 201, 202, 204), **kwargs) -> requests.Response:
        """One request, bounded in time; anything but an ``ok`` status is a recorded failure."""
        self.requests += 1
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"token {self.token}"} if self.token else {})}
        try:
            answer = self.session.request(method, url, headers=headers, timeout=REQUEST_TIMEOUT, **kwargs)
        except requests.RequestException as error:
            self.failures.append(f"{method} {url}: {error}")
            raise HubRequestFailed(self.failures[-1]) from error
        if answer.status_code not in ok:
            self.failures.append(f"{method} {url}: {answer.status_code} {answer.text[:300]}")
            raise HubRequestFailed(self.failures[-1])
        return answer

    @property
    def server(self) -> str:
        return f"{self.hub}/user/{self.name}"

    # -- the hub ----------------------------------------------------------------------------------
    def log_in(self) -> None:
        """Log in through the hub's login form (PAM checks the password), then make an API token."""
        self.request("GET", f"{self.hub}/hub/login")
        xsrf = self.session.cookies.get("_xsrf", "")
        self.request("POST", f"{self.hub}/hub/login", data={"username": self.name, "password": self.password,
                                                             "_xsrf": xsrf}, allow_redirects=False, ok=(302,))
        self.request("GET", f"{self.hub}/hub/home")  # the logged-in page: a new XSRF cookie for the session
        xsrf = self.session.cookies.get("_xsrf", path="/hub/")
        answer = self.request("POST", f"{self.hub}/hub/api/users/{self.name}/tokens",
                              headers={"X-XSRFToken": xsrf}, json={"note": "class simulation", "expires_in": 7200})
        self.token = answer.json()["token"]

    def start_server(self, wait: float = 300) -> float:
        """Start this user's server and wait until it answers; return the seconds it took."""
        started = time.monotonic()
        self.request("POST", f"{self.hub}/hub/api/users/{self.name}/server", ok=(201, 202, 400))
        while time.monotonic() - started < wait:
            server = self.request("GET", f"{self.hub}/hub/api/users/{self.name}").json()["servers"].get("", {})
            if server.get("ready"):
                self.request("GET", f"{self.server}/api/status")
                return time.monotonic() - started
            time.sleep(0.5)
        self.failures.append(f"{self.name}'s server was not ready after {wait} s")
        raise HubRequestFailed(self.failures[-1])

    def stop_server(self) -> None:
        self.request("DELETE", f"{self.hub}/hub/api/users/{self.name}/server")

    # -- files ------------------------------------------------------------------------------------
    def read_notebook(self, path: str) -> nbformat.NotebookNode:
        model = self.request("GET", f"{self.server}/api/contents/{path}", params={"content": 1}).json()
        return nbformat.from_dict(model["content"])

    def save_notebook(self, path: str, nb: nbformat.NotebookNode) -> None:
        self.request("PUT", f"{self.server}/api/contents/{path}", json={"type": "notebook", "content": nb})

    def read_text(self, path: str) -> str:
        model = self.request("GET", f"{self.server}/api/contents/{path}", params={"content": 1, "type": "file"}).json()
        return model["content"]

    def listing(self, path: str) -> list[str]:
        model = self.request("GET", f"{self.server}/api/contents/{path}", params={"content": 1}).json()
        return sorted(item["name"] for item in model["content"])

    # -- nbgrader's Assignments tab -------------------------------------------------------------------
    def assignment(self, action: str, assignment_id: str, course_id: str = "lenet") -> dict:
        """fetch, submit or fetch_feedback, as the Assignments tab does; fails unless nbgrader says it worked."""
        answer = self.request("POST", f"{self.server}/assignments/{action}",
                              data={"course_id": course_id, "assignment_id": assignment_id}).json()
        if not answer.get("success"):
            self.failures.append(f"{self.name}: nbgrader {action} {assignment_id}: {str(answer.get('value'))[-500:]}")
            raise HubRequestFailed(self.failures[-1])
        return answer

    # -- kernels ----------------------------------------------------------------------------------
    def open_kernel(self, path: str) -> "Kernel":
        """Open ``path``'s kernel as JupyterLab does: a session for the notebook, then the websocket."""
        session = self.request("POST", f"{self.server}/api/sessions",
                               json={"path": path, "type": "notebook", "name": path.rsplit("/", 1)[-1],
                                     "kernel": {"name": "python3"}}).json()
        return Kernel(self, session["kernel"]["id"], session["id"])

    def run_notebook(self, path: str, answers: dict[str, str] | None = None, setup: str = "",
                     plot_cell: str | None = None, finish: str = "") -> NotebookRun:
        """Put ``answers`` (cell id to source) into the notebook, run every code cell in its kernel, save it.

        ``setup`` runs first and ``finish`` last, unseen in the notebook (what a student would
        type in a console; ``finish``'s printed text becomes ``run.finish``); the first image
        shown by the cell with id ``plot_cell`` is the run's first plot.
        """
        nb = self.read_notebook(path)
        ids = {cell.get("id") for cell in nb.cells}
        missing = set(answers or {}) - ids
        if missing:
            raise KeyError(f"{path} has no cells {sorted(missing)} to answer in")
        for cell in nb.cells:
            if cell.get("id") in (answers or {}):
                cell.source = answers[cell.id]
        kernel = self.open_kernel(path)
        run = NotebookRun(nb, 0.0)
        started = time.monotonic()
        try:
            if setup:
                kernel.execute(setup)
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                outputs, error = kernel.execute(cell.source, started if cell.get("id") == plot_cell else None)
                cell.outputs = outputs
                if kernel.first_image is not None and run.first_plot is None and cell.get("id") == plot_cell:
                    run.first_plot = kernel.first_image
                if error:
                    run.errors.append(f"cell {cell.get('id')}: {error}")
            if finish:
                outputs, _ = kernel.execute(finish)
                run.finish = "".join(output.get("text", "") for output in outputs)
        except BaseException:
            kernel.close(gone_ok=True)  # after a dead kernel its session may be gone: keep the first error
            raise
        kernel.close()
        run.seconds = time.monotonic() - started
        self.save_notebook(path, nb)
        return run


class Kernel:
    """A kernel's websocket: run code and collect its outputs as JupyterLab would show them."""

    def __init__(self, user: HubUser, kernel_id: str, session_id: str) -> None:
        self.user, self.kernel_id, self.session_id = user, kernel_id, session_id
        url = f"{user.server.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels?session_id={session_id}"
        self.socket = websocket.create_connection(url, header=[f"Authorization: token {user.token}"],
                                                  timeout=REQUEST_TIMEOUT)
        self.first_image: float | None = None

    def execute(self, code: str, clock: float | None = None, timeout: float = CELL_TIMEOUT
                ) -> tuple[list[nbformat.NotebookNode], str]:
        """Run ``code``; return its outputs and its error ('' if none). With ``clock``, note when an image first shows."""
        return self.collect(self.send(code), clock, timeout)

    def send(self, code: str) -> str:
        """Ask the kernel to run ``code``; return the request's id, for ``collect``."""
        msg_id = uuid.uuid4().hex
        self.socket.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user.name, "session": self.session_id,
                       "msg_type": "execute_request", "version": "5.3",
                       "date": datetime.now(timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        return msg_id

    def collect(self, msg_id: str, clock: float | None = None, timeout: float = CELL_TIMEOUT
                ) -> tuple[list[nbformat.NotebookNode], str]:
        """The outputs and the error of the request ``msg_id``, once the kernel has finished it."""
        outputs: list[nbformat.NotebookNode] = []
        shown: dict[str, nbformat.NotebookNode] = {}  # display_id -> its output, for update_display_data
        error, replied, idle = "", False, False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            if time.monotonic() > deadline:
                raise TimeoutError(f"a cell ran longer than {timeout} s")
            self.socket.settimeout(max(1.0, deadline - time.monotonic()))
            message = json.loads(self.socket.recv())
            if message["header"]["msg_type"] == "status" and message["content"]["execution_state"] in DEATHS:
                raise KernelDied(f"the kernel is {message['content']['execution_state']}")
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["header"]["msg_type"], message["content"]
            if message["channel"] == "shell" and kind == "execute_reply":
                replied = True
                if content["status"] == "error":
                    error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status":
                idle = content["execution_state"] == "idle"
            elif kind in ("stream", "display_data", "execute_result", "error"):
                output = nbformat.v4.output_from_msg(message)
                outputs.append(output)
                display_id = content.get("transient", {}).get("display_id")
                if display_id:
                    shown[display_id] = output
                if kind == "error":
                    error = error or f"{content['ename']}: {content['evalue']}"
                if clock is not None and self.first_image is None and "image/png" in content.get("data", {}):
                    self.first_image = time.monotonic() - clock
            elif kind == "update_display_data":
                display_id = content.get("transient", {}).get("display_id")
                if display_id in shown:
                    shown[display_id]["data"] = content["data"]
        return outputs, error

    def close(self, gone_ok: bool = False) -> None:
        """Close the websocket and end the notebook's session (``gone_ok``: a session already gone is fine)."""
        self.socket.close()
        self.user.request("DELETE", f"{self.user.server}/api/sessions/{self.session_id}",
                          ok=(200, 204, 404) if gone_ok else (200, 204))
