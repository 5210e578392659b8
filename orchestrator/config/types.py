"""Value types of perfctl.yaml with the ranges k6 and Prometheus accept (orchestrator/config/limits.py):
a value either of them would refuse at run time, or read differently, is refused at load time
with the field named. The config models use these; messages come from config/messages.py.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import types
import typing
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from orchestrator.config.limits import MAX_COUNT, MAX_PORT, MAX_VUS

Vus = Annotated[int, Field(gt=0, le=MAX_VUS)]
VusOrZero = Annotated[int, Field(ge=0, le=MAX_VUS)]
Count = Annotated[int, Field(gt=0, le=MAX_COUNT)]
CountOrZero = Annotated[int, Field(ge=0, le=MAX_COUNT)]
# The status codes HTTP defines (k6's expectedStatuses takes nothing else).
HttpStatus = Annotated[int, Field(ge=100, le=599)]

# RFC 9110 token: what a header name may be made of (k6 refuses the rest at run time).
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # \Z: `$` lets a final newline through
# CR and LF would end the header and start another; NUL is refused by every HTTP stack.
HEADER_VALUE_FORBIDDEN = re.compile(r"[\r\n\x00]")


def shown(text: str) -> str:
    """`text` fit for one line of a message: line breaks and other controls written as escapes."""
    return text.encode("unicode_escape").decode("ascii") if re.search(r"[\x00-\x1f\x7f]", text) else text


def check_header_name(name: str) -> str:
    if not HEADER_NAME.match(name):
        raise ValueError(f"'{shown(name)}' is not a header name (letters, digits and !#$%&'*+.^_`|~- only, no spaces)")
    return name


def check_header_value(value: str) -> str:
    if HEADER_VALUE_FORBIDDEN.search(value):
        raise ValueError("a header value must not contain line breaks (CR, LF) or NUL")
    return value


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    problems = []
    for name, value in headers.items():
        try:
            check_header_name(name)
            check_header_value(value)
        except ValueError as exc:
            # A bad value is named by its header (`headers.X-Token: ...`); a bad name by itself.
            problems.append(str(exc) if not HEADER_NAME.match(name) else f"{name}: {exc}")
    if problems:
        raise ValueError("\n".join(problems))
    return headers


Headers = Annotated[dict[str, str], AfterValidator(_check_headers)]
HeaderName = Annotated[str, AfterValidator(check_header_name)]
HeaderValue = Annotated[str, AfterValidator(check_header_value)]


# A path that starts with an environment reference is known only when k6 runs; the generated
# script's origin check refuses it then if it does not keep to base_url (README, "Secrets and origin").
_RUNTIME_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}")


def _check_path(path: str) -> str:
    # A path is appended to the base URL: without its `/`, `api` after `http://h:80` names another port.
    if not path.startswith("/") and not _RUNTIME_REF.match(path):
        raise ValueError(f"'{shown(path)}' must start with / (it is appended to the base URL)")
    if re.search(r"[\x00-\x1f\x7f]", path):
        raise ValueError(f"'{shown(path)}' must not contain line breaks or other control characters")
    return path


UrlPath = Annotated[str, AfterValidator(_check_path)]

# What is sent as JSON (a request's `json`, WebSocket messages) or drawn into placeholders (inline
# pool values) is JSON data: YAML's other values have no JSON form, or one the generated script
# would write differently from how they are written in the file.
def _json_data(value: Any, where: str = "") -> Any:
    at = f"{where}: " if where else ""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            written = ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
            raise ValueError(f"{at}{written} is not a number JSON can hold")
        return value
    if isinstance(value, datetime.datetime):
        raise ValueError(f"{at}a YAML timestamp ({value.isoformat()}); quote it to send it as text")
    if isinstance(value, datetime.date):  # `2024-01-01` unquoted: sent as written
        return value.isoformat()
    if isinstance(value, list):
        return [_json_data(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, int) and not isinstance(key, bool):
                key = str(key)  # `200: ok` (JSON keys are text)
            elif not isinstance(key, str):
                raise ValueError(f"{at}the key {json.dumps(key)} is not text; quote it")
            if key in out:
                raise ValueError(f"{at}the key '{shown(key)}' appears twice")
            out[key] = _json_data(item, f"{where}.{key}" if where else key)
        return out
    kind = {bytes: "!!binary", set: "!!set"}.get(type(value), type(value).__name__)
    raise ValueError(f"{at}a YAML {kind} value is not JSON data")


JsonData = Annotated[Any, AfterValidator(_json_data)]


# host:port as Prometheus scrapes it: a DNS name, an IPv4 address or a [bracketed] IPv6 one.
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])"
SCRAPE_ADDRESS = re.compile(rf"^{_HOST}:(\d{{1,5}})\Z")


def _check_scrape_address(text: str) -> str:
    match = SCRAPE_ADDRESS.match(text)
    if not match:
        raise ValueError(f"'{shown(text)}' must be HOST:PORT (e.g. 127.0.0.1:8080), without scheme or path")
    if not 1 <= int(match.group(1)) <= MAX_PORT:
        raise ValueError(f"'{text}': the port must be 1-{MAX_PORT}")
    return text


ScrapeAddress = Annotated[str, AfterValidator(_check_scrape_address)]


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """What is wrong with `url` as a base URL of one of `schemes`, or None."""
    from urllib.parse import urlsplit

    wanted = " or ".join(f"{s}://" for s in schemes)
    if re.search(r"[\s\x00-\x1f\x7f]", url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"must have a port in 1-{MAX_PORT}"
    if parts.scheme.lower() not in schemes or not parts.netloc:
        return f"must start with {wanted}"
    if not parts.hostname:
        return "must name a host"
    if port == 0:
        return f"must have a port in 1-{MAX_PORT}"
    return None


def wants_number(annotation: Any) -> bool:
    """Whether a field's type is (or may be) a number: YAML's `true` must not pass as 1 there."""
    origin = typing.get_origin(annotation)
    if annotation in (int, float):
        return True
    if origin is Annotated:
        return wants_number(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(wants_number(arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:  # `version: Literal[1]`: True == 1 would pass it
        return any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in typing.get_args(annotation))
    return False


def wants_bool(annotation: Any) -> bool:
    """Whether a field is a flag (bool, or bool or None): there pydantic would take 0, 1 or "yes"
    too, which the JSON schema editors check against refuses."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return True
    if origin is Annotated:
        return wants_bool(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return len(args) == 1 and wants_bool(args[0])
    return False


def number_list_item(annotation: Any) -> bool:
    """Whether a field is a list of numbers (`expect_status: [200]`, `levels: [10, 20]`)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return number_list_item(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(number_list_item(arg) for arg in typing.get_args(annotation))
    return origin is list and wants_number(typing.get_args(annotation)[0])
