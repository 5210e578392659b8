"""The `perfctl` command line: `main` runs the Typer app (cli/app.py) and maps errors to exit
codes in one place. The commands, by topic: runs.py, monitoring.py, results.py, project.py;
the options they share: options.py. Typer functions only parse options and delegate to
`orchestrator.commands.*`, imported inside each function so `perfctl --help` stays fast.

This module imports only light modules at its top: `perfctl --version` answers before Typer
is imported, and `perfctl --help` too once its text is kept (cli/help_cache.py).
"""

import os
import sys

HELP_ARGS = (["--help"], ["-h"])  # the root help, kept between calls (cli/help_cache.py)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # the same line as the app's eager --version, ~40 ms sooner
        from orchestrator import __version__

        print(f"perfctl {__version__}")
        sys.exit(0)
    completing = "_PERFCTL_COMPLETE" in os.environ
    if args in HELP_ARGS and not completing:
        from orchestrator.cli.help_cache import cached

        text = cached(args)  # the root help as it was rendered last time
        if text is not None:
            from orchestrator.secret_mask import install_console

            install_console()
            sys.stdout.write(text)
            sys.exit(0)

    import atexit
    import errno
    import gc

    # Registered first, so it runs last of the exit handlers. What is left then goes with the
    # process; without it the interpreter's last collection walks every object the imports made
    # (pydantic's schemas above all): ~45 ms of wall after each command (bench/, figure 1).
    # Nothing of perfctl's waits for that collection: its files are closed by the code that writes them.
    atexit.register(gc.freeze)

    import typer

    from orchestrator.cli.app import NAMES, make_app
    from orchestrator.errors import ExitCode, PerfctlError
    from orchestrator.secret_mask import install_console

    install_console()  # every line perfctl prints has its secret values masked
    # Typer builds every registered command on each start. `perfctl NAME ...` needs only NAME;
    # `perfctl [--help]` only names and first help lines (stand-ins); shell completion and
    # anything else at the root (a typo, --version with more) get the whole app.
    listing = args in ([], *HELP_ARGS) and not completing
    app = make_app(only=args[0] if args and args[0] in NAMES and not completing else None, listing=listing)

    try:
        if args in HELP_ARGS and not completing:
            _render_help(app, args)
        # prog_name: `python -m orchestrator` completes (and names itself) as the perfctl it is.
        code = app(args=argv, prog_name="perfctl", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except PerfctlError as exc:
        print(exc.render(), file=sys.stderr)
        sys.exit(int(exc.exit_code))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("perfctl: aborted", file=sys.stderr)
        sys.exit(int(ExitCode.INTERRUPTED))
    except KeyboardInterrupt:
        print("perfctl: interrupted (a run left unfinished is finished by `perfctl recover`)", file=sys.stderr)
        sys.exit(int(ExitCode.INTERRUPTED))
    except _click_usage_errors() as exc:
        exc.show()
        sys.exit(int(ExitCode.USAGE))
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            _internal_error(exc)
        # A full disk anywhere perfctl writes (the ledger's writes say so themselves).
        print(f"perfctl: no space left on {exc.filename or 'the disk'}", file=sys.stderr)
        sys.exit(int(ExitCode.ENVIRONMENT))
    except Exception as exc:  # a bug: short message, traceback in a log file
        _internal_error(exc)


def _render_help(app, args: list[str]) -> None:
    """The root help, printed and kept for the next time (cli/help_cache.py)."""
    import contextlib
    import io

    import typer

    from orchestrator.cli.help_cache import remember

    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(shown):
            app(args=args, prog_name="perfctl", standalone_mode=False)
        code = 0
    except typer.Exit as exc:
        code = exc.exit_code
    sys.stdout.write(shown.getvalue())
    if code == 0 and shown.getvalue():
        remember(args, shown.getvalue())
    sys.exit(code)


def _internal_error(exc: BaseException) -> None:
    from orchestrator.errors import ExitCode

    log = _write_crash_log()
    print(f"perfctl: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"  this is a bug in perfctl; the traceback is in {log}", file=sys.stderr)
    sys.exit(int(ExitCode.BUG))


def _click_usage_errors():
    # Typer vendors click in new versions; take whatever it uses.
    try:
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover - older Typer
        from click.exceptions import ClickException
    return ClickException


def _write_crash_log() -> str:
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="perfctl-crash-", suffix=".log")
    with open(fd, "w") as fh:
        traceback.print_exc(file=fh)
    return path
