"""The course hub's spawner: JupyterHub's local-process spawner, each account in cgroups of its own."""
from __future__ import annotations

from jupyterhub.spawner import LocalProcessSpawner

from tools.instructor.hub import cgroups


class CourseSpawner(LocalProcessSpawner):
    """Start each user's server as that Unix user, inside memory and cpu cgroups with the limits
    ``mem_limit`` and ``cpu_limit`` (which LocalProcessSpawner alone only passes on, unenforced)."""

    def _limits(self) -> cgroups.StudentLimits | None:
        if cgroups.problem():
            return None
        return cgroups.StudentLimits(self.user.name)

    async def start(self):
        limits = self._limits()
        if limits is None:
            self.log.warning("Memory and CPU limits not enforced for %s: %s", self.user.name, cgroups.problem())
        else:
            limits.create(self.mem_limit, self.cpu_limit)
        self._joining = limits
        return await super().start()

    def make_preexec_fn(self, name):
        become_user = super().make_preexec_fn(name)
        limits = getattr(self, "_joining", None)

        def preexec() -> None:  # in the new process, while it is still root
            if limits is not None:
                limits.join()
            become_user()

        return preexec

    async def stop(self, now: bool = False):
        await super().stop(now=now)
        limits = self._limits()
        if limits is not None:
            limits.remove()
