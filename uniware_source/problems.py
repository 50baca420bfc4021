"""Every failure of the command line as one line with its documented exit code.

dlt's configuration errors (a destination's missing credentials or bucket, a value that cannot be
coerced) are setting errors like the connector's own: exit 2, naming the setting, its env var and
the command-line flag where there is one. An unreachable host is named with the reason (name not
resolved, connection refused). A destination that cannot be connected to at a run's first contact
with it for a setting (a role, database or host that does not exist, a connection string that does not
parse, a DuckDB path that is a directory) is a setting error too, naming the destination's setting; one
that may be down for a while (a refused port, a server starting up) is said the same way, as exit 3, as is
the same failure later in a run. Anything else is its type and the first line of its message.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote

import requests
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigurationValueError,
    ConfigValueCannotBeCoercedException,
    InvalidNativeValue,
    ValueNotSecretException,
)
from dlt.common.configuration.specs import CredentialsConfiguration
from dlt.common.configuration.specs.exceptions import InvalidConnectionString
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.destinations.exceptions import DestinationConnectionError
from dlt.pipeline.exceptions import PipelineStepFailed
from tomlkit.exceptions import TOMLKitError

from .client.connection_errors import NAME_RESOLUTION, causes, unreachable
from .errors import AuthError, ConfigError, DestinationNotReached, UniwareError
from .redact import MASK, redact
from .setting_places import misplaced_settings, secrets_file

EXIT_CONFIG = 2
EXIT_CANNOT_PROCEED = 3
EXIT_LOCKED = 4  # another run holds the pipeline's lock
MAX_LINE = 300

# settings that have a flag of their own
FLAGS = {
    "exports": "--export", "facilities": "--facility", "backfill_start": "--start", "backfill_end": "--end",
    "job_codes": "--job-code", "destination": "--destination", "loader_file_format": "--loader-file-format",
}



def with_flag(setting: str) -> str:
    flag = FLAGS.get(setting)
    return f" (flag {flag})" if flag else ""


def _env_var(traces: Any, field_name: str) -> str:
    """The most specific environment variable dlt looked up for a missing field (for an embedded
    configuration such as a destination's credentials, the variable of the whole value)."""
    best: Optional[str] = None
    best_depth = -1
    for item in traces if isinstance(traces, list) else []:
        nested = getattr(item, "traces", None)
        if isinstance(nested, dict):  # LookupTraces of an embedded config: name the field itself
            for inner in (t for ts in nested.values() for t in ts):
                if "environ" in str(inner.provider).lower() and len(inner.sections) > best_depth \
                        and str(inner.key).upper().startswith(str(inner.sections[0]).upper()):
                    best, best_depth = "__".join(inner.sections).upper(), len(inner.sections)
        elif "environ" in str(getattr(item, "provider", "")).lower() and len(item.sections) > best_depth:
            key = str(item.key).upper()
            if not item.sections or key.startswith(str(item.sections[0]).upper()):
                best, best_depth = key if key.endswith(field_name.upper()) else \
                    "__".join([*item.sections, field_name]).upper(), len(item.sections)
    return best or field_name.upper()


def missing_field(error: ConfigFieldMissingException) -> str:
    parts = []
    for field_name in error.fields:
        env = _env_var(error.traces.get(field_name), field_name)
        where = ".".join(env.lower().split("__")[:-1]) or error.spec_name
        flag = " (--destination chose it)" if where.startswith("destination") else ""
        lacking = _parts_missing(error.traces.get(field_name))
        if lacking:  # the value was given (a connection string), without some of its parts
            inner = " or ".join(f"{env}__{name.upper()}" for name in lacking)
            parts.append(f"'{field_name}' of {where}{flag} was read, but without its "
                         f"{', '.join(repr(name) for name in lacking)}: add it to {env} (a connection string "
                         "takes the password after the user name and a colon, before the @, and the database after "
                         f"the last /) or set {inner}")
            continue
        parts.append(f"'{field_name}' of {where}{flag} is missing: set {env} or put it in {secrets_file()}")
    return "configuration error: " + "; ".join(parts)


def _parts_missing(traces: Any) -> list[str]:
    """The fields an embedded configuration still lacks when some of it was read (a connection string
    without its password or database); [] when nothing of it was found."""
    for item in traces if isinstance(traces, list) else []:
        if getattr(item, "resolved_fields_set", None) and isinstance(getattr(item, "traces", None), dict):
            return [str(name) for name in item.traces]
    return []


def first_line(text: str) -> str:
    return next((s.strip() for s in text.splitlines() if s.strip()), "")


def one_line(text: str) -> str:
    """The first line, cut at MAX_LINE: for other libraries' messages (the connector's own are whole)."""
    line = first_line(text)
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 3] + "..."


def explain(error: BaseException) -> tuple[int, str]:
    """(exit code, one line) for an error that ended a run, with every secret masked (Uniware's own
    messages, quoted in it, may echo a token)."""
    code, line = _explained(error)
    return code, redact(line)


def _explained(error: BaseException) -> tuple[int, str]:
    chain = list(causes(error))
    for item in chain:
        if isinstance(item, ConfigError):
            line = first_line(str(item))  # whole: the fix is often at the end
            flag = FLAGS.get(item.setting)
            return EXIT_CONFIG, f"configuration error: {line}{'' if flag and flag in line else with_flag(item.setting)}"
    for item in chain:
        if isinstance(item, ConfigFieldMissingException):
            # a missing setting given where dlt does not read it: that is why it is missing
            for key, where in misplaced_settings(set(item.fields)):
                line = one_line(str(ConfigError(key, "the source never sees it", where)))
                return EXIT_CONFIG, f"configuration error: {line}"
            return EXIT_CONFIG, first_line(missing_field(item))  # the connector's own words: whole
        if isinstance(item, ConfigValueCannotBeCoercedException):
            hint = getattr(item.hint, "__name__", str(item.hint))
            env = f"SOURCES__UNIWARE__{item.field_name.upper()}"
            return EXIT_CONFIG, (f"configuration error: setting '{item.field_name}' ({env}, or wherever it is set): "
                                 f"{redact(repr(item.field_value))[:80]} is not a valid {hint}"
                                 f"{with_flag(item.field_name)}")
        if isinstance(item, ConfigurationValueError):
            return EXIT_CONFIG, f"configuration error: {one_line(redact(str(item)))}"
    for item in chain:
        if isinstance(item, TOMLKitError):
            return EXIT_CONFIG, f"configuration error: {broken_toml(item)}"
        if isinstance(item, ValueNotSecretException):
            env = item.key.upper().replace(".", "__")
            return EXIT_CONFIG, (f"configuration error: '{item.key}' is a secret, and {item.provider_name} may not "
                                 f"hold one: move it to .dlt/secrets.toml (the same table) or give it as {env}")
        if isinstance(item, UnknownDestinationModule):
            return EXIT_CONFIG, f"configuration error: {unknown_destination(item.ref)}"
    refused = destination_not_connected(chain)
    if refused is not None:
        wrong, message = refused
        return (EXIT_CONFIG, f"configuration error: {message}") if wrong else (EXIT_CANNOT_PROCEED, f"error: {message}")
    for item in chain:
        if isinstance(item, requests.ConnectionError):
            said = unreachable(item)
            if said:
                return EXIT_CANNOT_PROCEED, f"error: {said}"
    for item in chain:
        if isinstance(item, (AuthError, UniwareError)):
            return EXIT_CANNOT_PROCEED, f"error: {first_line(redact(str(item)))}"
    innermost = _innermost(error)
    if innermost is error:
        return EXIT_CANNOT_PROCEED, f"error: {type(error).__name__}: {one_line(redact(str(error)))}"
    step = getattr(error, "step", None)  # dlt's PipelineStepFailed: its first line names the step, not the reason
    where = f"dlt's {step} step failed: " if isinstance(step, str) else ""
    return EXIT_CANNOT_PROCEED, f"error: {where}{type(innermost).__name__}: {one_line(redact(str(innermost)))}"


# what a driver's words on a refused connection say is wrong: (words, what to check, its own settings, whether
# the setting is wrong for sure: a refused port or a timeout may be a server down for a while, as are a server
# starting up or out of connections, a file another program holds locked: those stay exit 3)
CONNECTION_REASONS: tuple[tuple[tuple[str, ...], str, tuple[str, ...], bool], ...] = (
    # first: words of a server or network not ready now, whatever role, database or host they name
    (("too many connections", "too many clients", "remaining connection slots", "starting up", "recovery mode",
      "shutting down", "administrator command", "temporary failure in name resolution"),
     "that the server is up, reachable and accepting connections", (), False),
    (('role "',), "its user name", ("USERNAME",), True),
    (("password authentication failed", "no password supplied", "authentication failed", "pg_hba.conf"),
     "its user name and password", ("USERNAME", "PASSWORD"), True),
    (('database "',), "its database", ("DATABASE",), True),
    (("could not translate host name", *NAME_RESOLUTION), "its host, whose name does not resolve", ("HOST",), True),
    (("connection refused",), "its host and port, and that the server is up there", ("HOST", "PORT"), False),
    (("timeout expired", "timed out"), "its host and port, and that the server is up and reachable",
     ("HOST", "PORT"), False),
    (("invalid connection option", "invalid sslmode", "invalid value", " value for ", "invalid uri"),
     "the options after its '?'", (), True),
    (("is a directory", "cannot open file", "permission denied", "read-only", "not a directory"),
     "the path it names (one that can be written, in a folder that exists)", (), True),
)


def destination_not_connected(chain: list[BaseException]) -> Optional[tuple[bool, str]]:
    """(whether a setting is wrong, what to say) naming the destination's setting, when the run could not
    connect to it at its first contact (dlt's sync step, before anything was exported): its credentials
    (or bucket_url) did not parse, or the server refused them (a setting error) or could not be reached
    or was not ready (said, but no setting error: it may pass). A connection lost later in the run (the
    first sync went through) is neither; the password is never quoted."""
    step: Any = next((item for item in chain if isinstance(item, (PipelineStepFailed, DestinationNotReached))), None)
    destination = getattr(getattr(step, "pipeline", None), "destination", None)
    if step is None or destination is None:
        return None
    name = str(destination.destination_name)
    pipeline_name = getattr(step.pipeline, "pipeline_name", None)
    _forget_trace_quoting_password(step.pipeline, name, pipeline_name)
    unparsed = next((item for item in chain if isinstance(item, InvalidConnectionString) or (
        isinstance(item, InvalidNativeValue) and isinstance(item.spec, type)
        and issubclass(item.spec, CredentialsConfiguration))), None)
    if unparsed is not None:
        return True, (f"{_destination_setting(destination)} does not parse as a connection string "
                "(the scheme, ://, then user:password@host:port/database, special characters URL-encoded): "
                f"{_masked(name, one_line(str(_innermost(unparsed))), pipeline_name)}")
    # dlt syncs the state once a pipeline's run begins, and marks it done only when it went through: a later
    # sync (after pending packages loaded) met a destination that had answered before
    if step.step != "sync" or getattr(step.pipeline, "_state_restored", False):
        return None
    failed = next((item for item in chain if _opening_connection(item)), None)
    if failed is None:
        return None
    inner = failed.inner_exc if isinstance(failed, DestinationConnectionError) else failed
    reason = " ".join(one_line(str(inner)).split())
    lowered = reason.lower()
    check, wrong = "", False
    for words, what, parts, certain in CONNECTION_REASONS:
        if any(word.lower() in lowered for word in words):
            env = _destination_env(destination)
            given_apart = " or ".join(f"{env}__{part}" for part in parts if env.endswith("__CREDENTIALS"))
            check = f"; check {what}" + (f" ({given_apart} when given apart)" if given_apart else "")
            wrong = certain
            break
    unescaped, misread = unescaped_in_user_information(name, pipeline_name)
    if unescaped:
        held = ", ".join(repr(character) for character in unescaped)
        encode = f"URL-encode (percent-encode) its user name and password (write {ENCODED}): they hold {held} unescaped"
        if misread:  # the host, port or database the driver was given were cut from the password: no check of them
            check, wrong = f"; {encode}, so part of the password was read as the host, port or database", True
        else:
            check = (f"{check}; and " if check else "; ") + f"{encode}, where other readers of a URL end them"
    return wrong, (f"could not connect to the {name} destination with {_destination_setting(destination)}: "
            f"{_masked(name, reason, pipeline_name)}{check}")


def _destination_env(destination: Any) -> str:
    name = str(destination.destination_name).upper()
    field = "BUCKET_URL" if str(destination.destination_type).endswith("filesystem") else "CREDENTIALS"
    return f"DESTINATION__{name}__{field}"


def _destination_setting(destination: Any) -> str:
    """`DESTINATION__POSTGRES__CREDENTIALS (or credentials in [destination.postgres] of .dlt/secrets.toml)`"""
    env = _destination_env(destination)
    field = env.rsplit("__", 1)[-1].lower()
    where = ".dlt/config.toml" if field == "bucket_url" else ".dlt/secrets.toml"
    return f"{env} (or {field} in [destination.{destination.destination_name}] of {where})"


def _opening_connection(error: BaseException) -> bool:
    """Whether `error` was raised opening a destination's connection: dlt's own error for it (most SQL
    destinations, DuckDB), the driver's raised in a client's `open_connection` (PostgreSQL), or a local
    path that cannot be a database or a bucket."""
    if isinstance(error, DestinationConnectionError):
        return True
    if isinstance(error, (PermissionError, NotADirectoryError, IsADirectoryError)):
        return True
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "open_connection":
            return True
        tb = tb.tb_next
    return False


# a password holding what ends a URL's user name or password for one reader or another ("@", ":", "/", "?",
# "#") is split differently by each: urlsplit ends the authority at the first "/", "?" or "#"; dlt's parser
# (SQLAlchemy's) ends the user information at the first "@", others at the last; libpq at the first "/"
PIECE = 4  # no run of this many characters of a password is quoted, however a driver split its URL
ENCODED = "@ as %40, : as %3A, / as %2F, ? as %3F, # as %23"


def _credential_values(name: str, pipeline_name: Optional[str]) -> list[Any]:
    """The destination's credentials as given (a connection string, a table) and its password given apart,
    where dlt looks them up: under the pipeline's name first, then [destination.<name>]."""
    import dlt

    values: list[Any] = []
    for section in ([f"{pipeline_name}."] if pipeline_name else []) + [""]:
        for key in (f"{section}destination.{name}.credentials", f"{section}destination.{name}.credentials.password"):
            try:
                value: Any = dlt.secrets.get(key)
            except Exception:  # a value dlt cannot read: nothing of it to mask
                continue
            if value is not None:
                values.append({"password": value} if key.endswith(".password") else value)
    return values


def _user_information(url: str) -> Optional[str]:
    """`user:password` of a connection string as written, up to its last "@" (a password may hold "@",
    "/", "?", "#" or ":" unescaped; a host, none of them), or None when it names no user."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    return rest.rsplit("@", 1)[0] if "@" in rest else None


def _secrets_and_users(name: str, pipeline_name: Optional[str]) -> tuple[list[str], set[str]]:
    """The destination's passwords, each as written and URL-decoded, and its user names (not secret: a
    message about the user quotes it, and a password may hold it)."""
    secrets: list[str] = []
    users: set[str] = set()
    for value in _credential_values(name, pipeline_name):
        if isinstance(value, str):
            userinfo = _user_information(value)
            if userinfo is not None:
                user, _, password = userinfo.partition(":")
                secrets.append(password)
                users.add(user)
        elif isinstance(value, Mapping):
            secrets.append(str(value.get("password") or ""))
            users.add(str(value.get("username") or ""))
    secrets = [form for secret in secrets for form in (secret, unquote(secret)) if len(form) >= PIECE]
    return secrets, {form for user in users for form in (user, unquote(user)) if form}


def unescaped_in_user_information(name: str, pipeline_name: Optional[str] = None) -> tuple[str, bool]:
    """(the characters among @ / ? # that the user name or password of the destination's connection string
    holds unescaped, whether dlt's parser surely took part of them for the host, port or database: an "@"
    in them, or a "/" in the user name)."""
    found: set[str] = set()
    misread = False
    for value in _credential_values(name, pipeline_name):
        userinfo = _user_information(value) if isinstance(value, str) else None
        if userinfo is not None:
            found |= set(userinfo) & set("@/?#")
            misread = misread or "@" in userinfo or "/" in userinfo.partition(":")[0]
    return "".join(c for c in "@/?#" if c in found), misread


def _masked(name: str, text: str, pipeline_name: Optional[str] = None) -> str:
    """`text` with every run of PIECE or more characters of the destination's password masked, had a driver
    quoted any part of it: one that split the URL elsewhere than meant (a password holding "@", "#", "?",
    "/" or ":" unescaped) quotes its pieces as a host, port or database. A run that is a user name's own
    stays readable (the message may be about the user). redact drops a URL's user and password besides."""
    secrets, users = _secrets_and_users(name, pipeline_name)
    return redact(mask_pieces(text, secrets, users))


def _forget_trace_quoting_password(pipeline: Any, name: str, pipeline_name: Optional[str]) -> None:
    """dlt pickles a failed step's error as the driver raised it (trace.pickle: `dlt pipeline <name> trace`),
    before the connector sees it: a trace quoting a piece of the destination's password goes (the run's
    own message says the error, masked)."""
    from dlt.pipeline.trace import TRACE_FILE_NAME

    secrets, users = _secrets_and_users(name, pipeline_name)
    path = Path(str(getattr(pipeline, "working_dir", ""))) / TRACE_FILE_NAME
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:  # no trace kept
        return
    if secrets and mask_pieces(text, secrets, users) != text:
        path.unlink(missing_ok=True)


def mask_pieces(text: str, secrets: list[str], keep: set[str]) -> str:
    """`text` with each run of PIECE or more characters that is part of one of `secrets` (in any case)
    masked, longest first, unless the run is part of one of `keep`."""
    lowered = [secret.lower() for secret in secrets]
    kept = [word.lower() for word in keep]
    spans: list[tuple[int, int]] = []
    for start in range(len(text)):
        end = start + PIECE
        if end > len(text) or not any(text[start:end].lower() in secret for secret in lowered):
            continue
        while end < len(text) and any(text[start:end + 1].lower() in secret for secret in lowered):
            end += 1
        if not any(text[start:end].lower() in word for word in kept):
            spans.append((start, end))
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, at = [], 0
    for start, end in merged:
        pieces += [text[at:start], MASK]
        at = end
    return "".join(pieces) + text[at:]


def unknown_destination(ref: str) -> str:
    """A destination name dlt does not know, with the names it does (the closest first)."""
    import difflib

    import dlt.destinations

    known = sorted(name for name in dlt.destinations.__all__ if name != "destination")
    close = difflib.get_close_matches(ref, known, n=1)
    return (f"--destination '{ref}' is not a dlt destination" + (f" (did you mean '{close[0]}'?)" if close else "")
            + " (the flag, or dlt's DESTINATION_TYPE or [pipelines.<name>] destination_type when it is left out)"
            + f"; dlt's destinations: {', '.join(known)} (DESTINATION__<NAME>__... configures each)")


def broken_toml(error: BaseException) -> str:
    """dlt's TOML files that do not parse, named, with the parser's words (a table given twice, a bad value)."""
    import os
    from pathlib import Path

    import tomlkit

    folders = [Path(os.environ.get("DLT_PROJECT_DIR") or Path.cwd()) / ".dlt", Path.home() / ".dlt"]
    broken = []
    for path in (folder / name for folder in dict.fromkeys(folders) for name in ("config.toml", "secrets.toml")):
        try:
            tomlkit.parse(path.read_text(encoding="utf-8"))
        except OSError:
            continue
        except TOMLKitError as found:
            broken.append(f"{path}: {one_line(str(found))}")
    where = "; ".join(broken) or f"dlt's .dlt/config.toml or .dlt/secrets.toml: {one_line(str(error))}"
    return (f"a TOML file of the configuration does not parse: {where} (give each table once: one "
            "[sources.uniware]; several exports as [[sources.uniware.exports]])")


def _innermost(error: BaseException) -> BaseException:
    """The error a chain of wrappers (dlt's `.exception`, `raise ... from`) started from."""
    current = error
    for _ in range(10):
        inner = getattr(current, "exception", None) or current.__cause__ or current.__context__
        if not isinstance(inner, BaseException) or not one_line(str(inner)):
            break
        current = inner
    return current
