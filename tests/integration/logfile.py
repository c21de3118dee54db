"""Reading a process's log file, for the harness's failure dumps (conftest.Server, oidc.OidcDevProvider)."""

import os


class LogFile:
    """Mixin: the owner sets ``log_path``."""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_text(self, since=0):
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(since)
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, since=0, max_chars=20000):
        text = self.log_text(since)
        if len(text) > max_chars:
            text = "...\n" + text[-max_chars:]
        return text
