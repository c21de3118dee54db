"""What the harness needs of a process it started (conftest.Server, oidc.OidcDevProvider):
its log for failure dumps, and a graceful stop."""

import os
import signal
import subprocess


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


class StoppableProcess(LogFile):
    """Mixin: the owner sets ``proc`` (a Popen or None) and ``stopped_rc``, and
    implements ``_finish()`` (close the log, forget the process)."""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM; return the exit status (None if it had to be killed)."""
        if self.proc is None:
            return self.stopped_rc
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self.stopped_rc = self.proc.returncode
        self._finish()
        return self.stopped_rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stopped_rc = None
        self._finish()
