"""Errors a user can fix. The CLI prints them as one line and exits 1; the GUI shows them."""


class UserError(Exception):
    """Bad input or an infeasible request, with a message naming file/row/field/value."""


class ValidationError(UserError):
    """One or more invalid values. `problems` lists each as a one-line string."""

    def __init__(self, problems: list[str], context: str = ""):
        self.problems = list(problems)
        self.context = context
        head = f"{context}: " if context else ""
        if len(self.problems) == 1:
            message = head + self.problems[0]
        else:
            message = head + f"{len(self.problems)} problems: " + "; ".join(self.problems[:5])
            if len(self.problems) > 5:
                message += f"; ... and {len(self.problems) - 5} more"
        super().__init__(message)


class InfeasibleRequest(UserError):
    """A request that can't be met (exit 1). `data`, when given, is still printed for --format json,
    so a script sees the figures and the reason alongside the exit code."""

    def __init__(self, message: str, data=None):
        super().__init__(message)
        self.data = data


class Cancelled(Exception):
    """A long computation stopped because its `should_stop()` hook returned True."""
