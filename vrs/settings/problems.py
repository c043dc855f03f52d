"""Invalid settings said in one line that names each variable, never its value."""

from __future__ import annotations

from pydantic import ValidationError

from vrs.settings import Settings

# Settings sections by class name (a ValidationError's title), to name the variables.
_ENV_PREFIXES = {
    str(getattr(section.default_factory, "__name__", "")): str(
        getattr(section.default_factory, "model_config", {}).get("env_prefix", "")
    )
    for section in Settings.model_fields.values()
}


def settings_problems(exc: ValidationError) -> str:
    """'invalid settings: VRS_X: problem; ...' (values left out: one may be a secret)."""
    prefix = _ENV_PREFIXES.get(exc.title, "")
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        field = "_".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        # A rule across fields has no one variable: its message names them all.
        problems.append(f"{(prefix + field).upper()}: {message}" if field else message)
    return "invalid settings: " + "; ".join(problems)
