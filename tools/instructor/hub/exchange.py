"""nbgrader's exchange, closed where a shared class folder would let one student touch another's work.

nbgrader's own exchange leaves each submission's folder writable by everyone (hidden only by
its random name) and collects a submission whose name claims another student with just a
warning. The hub's nbgrader_config.py uses these two instead:

* ``OwnSubmit``: a submission's folders (its own and those inside, such as ``figures/``) are
  writable by their owner only;
* ``CheckedCollect``: a submission is collected only if the account that owns it is the
  student its name claims; any other is named in the log and left alone.
"""
from __future__ import annotations

import os
import pwd
import stat

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit

FORGED = "\0not-theirs:"  # marks a record whose owner is not the student it names


class OwnSubmit(ExchangeSubmit):
    """nbgrader's submit, then every folder of the submission closed to everyone but its owner for writing."""

    def copy_files(self) -> None:
        super().copy_files()
        closed = stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
        for folder, _, _ in os.walk(os.path.join(self.inbound_path, self.assignment_filename)):
            os.chmod(folder, closed)  # nbgrader leaves each one writable by all; links are not followed


def owner(path: str) -> str:
    """The account that owns ``path`` itself (a link is not followed), or '' for an unknown id."""
    try:
        return pwd.getpwuid(os.lstat(path).st_uid).pw_name
    except KeyError:
        return ""


class CheckedCollect(ExchangeCollect):
    """nbgrader's collect, skipping every submission that its named student does not own."""

    def _path_to_record(self, path: str) -> dict:
        record = super()._path_to_record(path)
        actual = owner(path)
        if os.path.islink(path) or actual != record["username"]:
            self.log.error("Not collected: %s claims to come from %s but belongs to %s", path, record["username"],
                           actual or "an unknown account")
            record["username"] = FORGED + record["username"]  # a group of its own, dropped in init_src
        return record

    def init_src(self) -> None:
        super().init_src()
        self.src_records = [record for record in self.src_records if not record["username"].startswith(FORGED)]
