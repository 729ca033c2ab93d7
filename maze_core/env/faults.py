"""What goes wrong in an env, as the vector envs report it: errors that name the env (a training or
an evaluation env, by its index), what it returned that is not numbers, and the step timeout with
the clock that enforces it for the envs stepped in this process."""

from __future__ import annotations

import os
import signal
import threading
import time

from maze_core.env.outputs import EnvOutputError
from maze_core.errors import ConfigurationError, EnvWorkerError

#: how errors name the envs of a vector env with this logging prefix
_ENV_ROLES = {"train": "training env", "eval": "evaluation env"}


def env_error(
    index: int, during: str, detail: str, env_traceback: str | None, logging_prefix: str | None = None
) -> EnvWorkerError:
    """An EnvWorkerError naming the env (a training or an evaluation env, by the vector env's
    logging prefix), with the env's traceback in ``env_traceback``."""
    role = _ENV_ROLES.get(logging_prefix, "env")
    error = EnvWorkerError(f"{role} {index} failed in {during}: {detail}")
    error.worker_index = index
    error.env_traceback = env_traceback
    return error


def output_error(error: EnvOutputError, during: str, logging_prefix: str | None) -> EnvWorkerError:
    """What an env returned that is not numbers, as an EnvWorkerError naming the env."""
    return env_error(error.index, during, error.detail, None, logging_prefix)


def checked_step_timeout(step_timeout_s: float | None, name: str = "step_timeout_s") -> float | None:
    """``step_timeout_s`` if it is None or a finite number of seconds > 0; a ConfigurationError else."""
    valid = isinstance(step_timeout_s, (int, float)) and not isinstance(step_timeout_s, bool)
    if step_timeout_s is not None and not (valid and 0 < step_timeout_s < float("inf")):
        raise ConfigurationError(
            f"{name}={step_timeout_s!r} is invalid: it must be a number of seconds > 0, or None for no limit"
        )
    return step_timeout_s


def timeout_detail(step_timeout_s: float) -> str:
    return (
        f"it did not return within step_timeout_s={step_timeout_s:g} s, so training stops here (the "
        "last checkpoint and the best model are kept); fix the env or raise runner.step_timeout_s"
    )


class StepTimeout(BaseException):
    """Raised in the main thread by SIGALRM when the envs stepped in this process exceed their step
    timeout (a BaseException, so that an env's ``except Exception`` does not swallow it)."""


class _StepClock:
    """The step timeout of the envs stepped in this process, cheap enough for every step.

    ``start(seconds)`` before a step records its deadline and ``stop()`` after it clears it: a
    clock read, no system call (installing a signal handler and arming a timer around every step
    cost ~15 us). The SIGALRM timer is armed only when it is off, or due after the new deadline, or
    overdue (someone else cancelled it); when it fires, it raises :class:`StepTimeout` in a step
    past its deadline, else re-arms itself for the next deadline (or stays off). A process stepping
    all the time thus gets one signal per timeout period.

    SIGALRM interrupts Python code and blocking calls, but only in the main thread (other threads'
    steps have no limit) and not C code that never returns to Python. Someone else's SIGALRM
    handler and pending alarm (pytest-timeout's, a script's ``signal.alarm``) are kept: the clock
    installs itself in front of the handler at the first step, calls it when its alarm is due, and
    hands both back in :meth:`release` (when a vector env closes; the next step installs it again).
    """

    def __init__(self):
        self.deadline: float | None = None  # when the step in progress must end (time.monotonic)
        self.alarm_at: float | None = None  # when the timer fires; None: off
        self.previous = None  # the SIGALRM handler before this one
        self.previous_at: float | None = None  # when the alarm set before this handler is due
        self._handler = self._expire  # one bound method, so that getsignal() can recognize it
        self._main_thread = threading.main_thread().ident

    def start(self, seconds: float | None) -> None:
        if seconds is None or threading.get_ident() != self._main_thread:
            return
        now = time.monotonic()
        self.deadline = deadline = now + seconds
        alarm_at = self.alarm_at
        if alarm_at is None or alarm_at > deadline or alarm_at < now:
            self._arm()

    def stop(self) -> None:
        self.deadline = None

    def release(self) -> None:
        """Hand SIGALRM back (the handler and pending alarm from before), if this thread may."""
        if threading.get_ident() != self._main_thread:
            return
        if signal.getsignal(signal.SIGALRM) is self._handler:
            signal.signal(signal.SIGALRM, signal.SIG_DFL if self.previous is None else self.previous)
            due = self.previous_at
            signal.setitimer(signal.ITIMER_REAL, 0 if due is None else max(due - time.monotonic(), 1e-3))
        self.__init__()

    def _install(self) -> bool:
        """Put this clock's handler in front of SIGALRM's current one (not on Windows: no SIGALRM)."""
        if not hasattr(signal, "setitimer"):
            return False
        deadline = self.deadline
        self.__init__()
        self.deadline = deadline
        self.previous = signal.signal(signal.SIGALRM, self._handler)
        if getattr(self.previous, "__self__", None) is self:  # this clock's, from before a fork
            self.previous = signal.SIG_DFL
        pending = signal.getitimer(signal.ITIMER_REAL)[0]
        self.previous_at = time.monotonic() + pending if pending else None
        return True

    def _arm(self) -> None:
        """Set the timer for the earliest of the step's deadline and the earlier handler's alarm
        (installing the handler first if it is not, or no longer, in place)."""
        if signal.getsignal(signal.SIGALRM) is not self._handler and not self._install():
            self.deadline = None
            return
        due = [at for at in (self.deadline, self.previous_at) if at is not None]
        self.alarm_at = min(due) if due else None
        delay = 0 if self.alarm_at is None else max(self.alarm_at - time.monotonic(), 1e-3)
        signal.setitimer(signal.ITIMER_REAL, delay)

    def _expire(self, signum, frame) -> None:
        now = time.monotonic()
        self.alarm_at = None
        previous_due = self.previous_at is not None and now >= self.previous_at
        if previous_due:
            self.previous_at = None
        timed_out = self.deadline is not None and now >= self.deadline
        if timed_out:
            self.deadline = None
        self._arm()
        if previous_due and callable(self.previous):
            self.previous(signum, frame)
        if timed_out:
            raise StepTimeout


#: the step clock of this process (a forked child starts with a clean one: timers are not inherited)
STEP_CLOCK = _StepClock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=STEP_CLOCK.__init__)
