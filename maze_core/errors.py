"""Exceptions raised by Maze. Every error a user can cause derives from :class:`MazeError`."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a value quoted in an error stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class MazeError(Exception):
    """Base class of all Maze errors."""


class ConfigurationError(MazeError, ValueError):
    """A value given by the user is invalid (a config field, an override, an argument)."""


class UnknownNameError(MazeError, LookupError):
    """A name (of an env, algorithm, policy, ...) is not registered by any installed plugin."""


class PluginError(MazeError):
    """A plugin failed to load, raised in a hook, or clashes with another plugin."""


class EnvWorkerError(MazeError, RuntimeError):
    """An environment (in-process or in a worker process) raised or died."""


class TrainingError(MazeError, RuntimeError):
    """Training cannot go on (for example a NaN loss)."""


class RunDirectoryError(MazeError):
    """A run directory cannot be used: in use, damaged, not writable, or holding a link."""


class Terminated(KeyboardInterrupt):
    """SIGTERM during training: handled like Ctrl-C (the checkpoint is kept), exit status 143."""


class MazeWarning(UserWarning):
    """Something works but is likely not what the user wants (the CLI prints it as one line)."""


def exit_at_once(signum: int, frame=None) -> None:
    """A signal handler that ends the process at once, saying that nothing was saved: for the
    moments when an exception raised by a handler could land in an import that swallows it (torch
    imports numpy from C and goes on without it when that raises) and nothing of Maze's needs
    cleaning up (its own file writes hold signals back)."""
    what = "Interrupted" if signum == signal.SIGINT else "Terminated"
    sys.stderr.write(f"{what} before anything was saved.\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def interrupts_exit_at_once_until_a_command_starts() -> None:
    """``maze``'s first line: Ctrl-C ends the process at once while the command line is imported
    and parsed (typer compiles type hints then, and an interrupt raised inside ``compile`` is
    lost), until :func:`commands_take_interrupts`."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, exit_at_once)


def commands_take_interrupts() -> None:
    """Called as a command starts: from here on Ctrl-C raises ``KeyboardInterrupt``, which a
    command may handle (``maze train`` keeps its checkpoint)."""
    if signal.getsignal(signal.SIGINT) is exit_at_once:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def signals_exit_at_once() -> Iterator[None]:
    """Within the block Ctrl-C and SIGTERM :func:`exit_at_once` (in the main thread; a signal
    that is ignored stays ignored); the handlers before it are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(number, exit_at_once)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def sigterm_as_interrupt(replace: bool = False) -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Terminated`, so that it ends a run as Ctrl-C does
    (the checkpoint is kept); the handler before it is restored afterwards.

    Only in the main thread, and, unless ``replace``, only where nobody installed a SIGTERM handler
    of their own (``maze`` replaces its own early one, see ``maze_core.__main__``).
    """
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or (
        not replace and previous is not signal.SIG_DFL
    ):
        yield
        return

    def terminate(signum, frame):
        _sigterm_received.set()
        raise Terminated("terminated by SIGTERM")

    unraisable_hook = sys.unraisablehook

    def quiet_when_lost(unraisable):
        """Python prints an exception raised where it cannot propagate (a finalizer, an import
        lock's callback) as "Exception ignored ... Traceback"; a lost Terminated is raised again
        by :func:`raise_if_terminated`, so it needs no such message."""
        if not isinstance(unraisable.exc_value, Terminated):
            unraisable_hook(unraisable)

    _sigterm_received.clear()
    signal.signal(signal.SIGTERM, terminate)
    sys.unraisablehook = quiet_when_lost
    try:
        yield
    finally:
        _sigterm_received.clear()  # it concerned this block only
        if sys.unraisablehook is quiet_when_lost:
            sys.unraisablehook = unraisable_hook
        if signal.getsignal(signal.SIGTERM) is terminate:
            signal.signal(signal.SIGTERM, previous)


#: set when :func:`sigterm_as_interrupt`'s handler ran: the exception it raised can be lost (raised
#: while Python ran a finalizer, say), so long loops also ask :func:`raise_if_terminated`
_sigterm_received = threading.Event()


def raise_if_terminated() -> None:
    """Raise :class:`Terminated` if SIGTERM arrived within :func:`sigterm_as_interrupt` (cheap: the
    trainer asks once per update, so a lost exception still ends the run at the next update)."""
    if _sigterm_received.is_set():
        raise Terminated("terminated by SIGTERM")
