"""The code of a generated k6 script, written for the scenario's shape as one would by hand.

Why: k6 runs a script's init context once in every VU, and whatever that context keeps alive
(objects, closures, the builtins it touches: RegExp's prototype alone is ~18 KB) is paid once per
VU. A script that interprets its plan at run time (perfctl's first, with some forty helpers,
regexes and per-request objects) cost 1.4-1.8x a hand-written script's memory at 1,000 VUs
(bench/, memory per VU). Here Python decides once what such a script would decide on every
request (which strings hold `${NAME}` or `{placeholder}`, what is fixed, where a row is drawn,
which variables a request can see) and writes, per request, the k6 call and its checks.

The injection rule holds: every value from the config is a slot of one data table (`C`, JSON in
PLAN, see `Table`); code names only slots, perfctl's own variables and k6's API.

What each string becomes (README, "Placeholders"): `${NAME}` is read from k6's environment once
per VU (on its first iteration); `{placeholder}`s are read in the config's own text and filled on
each call; a string that is one placeholder only keeps its value's type (a number stays a number
in JSON); a path's values are percent-encoded, one segment each. A path that starts with `${...}`
is known only when k6 runs, so its origin is checked each time it is sent (`onTarget`).
tests/render/test_script_code.py runs every shape in k6 against one server and checks the bytes.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal

from orchestrator.config.env import ENV_REF  # the config's `${NAME}` grammar, as the scripts read it

# A `{name}` / `{name.field}` placeholder.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_.-]+))?\}")


# ---- strings: literal text, `${NAME}` references and `{placeholders}`, split once here


@dataclass(frozen=True)
class Env:
    name: str
    default: str | None


@dataclass(frozen=True)
class Slot:
    """A `{name}` or `{name.field}` placeholder, with the text it stays as when it has no value."""
    name: str
    field: str | None
    written: str


def env_pieces(text: str) -> list[str | Env]:
    """A string with `${NAME}` / `${NAME:-default}` references (`$${` is a literal `${`)."""
    out: list[str | Env] = []
    literal, at = "", 0
    for match in ENV_REF.finditer(text):
        literal += text[at:match.start()]
        at = match.end()
        if match.group(0) == "$${":
            literal += "${"
            continue
        out += [literal, Env(match.group(1), match.group(2))]
        literal = ""
    return [p for p in out + [literal + text[at:]] if p != ""]


def pieces(text: str) -> list[str | Env | Slot]:
    """A config string split into literal text, `${...}` references and `{placeholders}`.
    Placeholders are read in the config's own text only: a variable's value is sent as it is,
    braces and all (README, "Placeholders")."""
    out: list[str | Env | Slot] = []
    for piece in env_pieces(text):
        out += _placeholders(piece) if isinstance(piece, str) else [piece]
    return [p for p in out if p != ""]


def _placeholders(text: str) -> list[str | Slot]:
    out: list[str | Slot] = []
    at = 0
    for match in PLACEHOLDER.finditer(text):
        out += [text[at:match.start()], Slot(match.group(1), match.group(2), match.group(0))]
        at = match.end()
    return out + [text[at:]]


class Js(str):
    """A JavaScript expression (perfctl's code); a plain str beside it is literal text."""


def js_uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent."""
    return urllib.parse.quote(text, safe="-_.!~*'()")


# ---- JSON exactly as k6's JSON.stringify writes it (integer keys first, JS number format)


def js_json(value) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (int, float)):
        return js_number(value)
    if isinstance(value, str):
        return js_string(value)
    if isinstance(value, list):
        return "[" + ",".join(js_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(js_string(key) + ":" + js_json(value[key]) for key in js_keys(value)) + "}"
    raise ValueError(f"a {type(value).__name__} value in JSON (the config admits JSON data only)")


def js_string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a lone surrogate in a string (the config is UTF-8 text)") from None
    return json.dumps(text, ensure_ascii=False)


def js_keys(mapping: dict) -> list[str]:
    """A JavaScript object's key order: array-index keys ascending, then the rest as inserted."""
    if any(not isinstance(key, str) for key in mapping):
        raise ValueError("a JSON key that is not a string (the config admits JSON data only)")
    index = [key for key in mapping if key.isascii() and key.isdigit() and (key == "0" or key[0] != "0")
             and int(key) < 2**32 - 1]
    return sorted(index, key=int) + [key for key in mapping if key not in index]


def js_number(number: int | float) -> str:
    """Number.prototype.toString (what JSON.stringify writes), from the shortest round-trip digits."""
    if isinstance(number, int) and abs(number) <= 2**53:
        return str(number)
    value = float(number)
    if not math.isfinite(value):
        raise ValueError("a number JSON cannot hold (the config admits JSON data only)")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    exact = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, exact.digits))
    k, n = len(digits), len(digits) + exact.exponent  # value = 0.DIGITS x 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))


# ---- the data table and the code around it


class Table:
    """Every config value the code uses, in one JSON array (PLAN.code): code reads `C[i]`."""

    def __init__(self) -> None:
        self.values: list = []
        self._known: dict[str, int] = {}

    def slot(self, value) -> Js:
        # Strings and numbers are shared; objects never are (init code may fill them in).
        key = json.dumps([type(value).__name__, value]) if isinstance(value, (str, int, float)) else None
        if key is not None and key in self._known:
            return Js(f"C[{self._known[key]}]")
        self.values.append(value)
        if key is not None:
            self._known[key] = len(self.values) - 1
        return Js(f"C[{len(self.values) - 1}]")

    def join(self, parts: list[str | Js]) -> Js:
        """A string expression: neighbouring literal texts become one slot."""
        out: list[str] = []
        text = None
        for part in parts:
            if isinstance(part, Js):
                if text is not None:
                    out.append(self.slot(text))
                text = None
                out.append(part)
            else:
                text = (text or "") + part
        if text is not None or not out:
            out.append(self.slot(text or ""))
        return Js(" + ".join(out))


@dataclass
class Script:
    table: Table = field(default_factory=Table)
    top: list = field(default_factory=list)  # init-context statements in order (exec functions: see script_code)
    helpers: set[str] = field(default_factory=set)
    envs: dict[Env, str] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)  # statements that need the environment (`ready`)
    headers: dict[str, Js] = field(default_factory=dict)  # headers objects, shared by what sends the same
    callbacks: dict[tuple, str] = field(default_factory=dict)  # expected statuses -> the responseCallback's const
    imports: set[str] = field(default_factory=set)  # k6 modules beyond http and k6: exec, SharedArray, metric kinds
    metrics: dict[str, tuple[str, str]] = field(default_factory=dict)  # custom metric -> (JS const, type)

    def callback(self, statuses: list[int]) -> str:
        """One http.expectedStatuses object per set of statuses, shared by the requests expecting it."""
        key = tuple(statuses)
        if key not in self.callbacks:
            name = self.callbacks[key] = f"EXPECT{len(self.callbacks)}"
            self.top.append(f"const {name} = http.expectedStatuses({', '.join(self.table.slot(code) for code in statuses)});")
        return self.callbacks[key]

    def env(self, ref: Env) -> Js:
        """A `${NAME}`, read once per VU on its first iteration (`ready`): not in the init
        context, which `k6 inspect` and `perfctl validate` run without the run's variables."""
        if ref not in self.envs:
            self.helpers.add("env")
            name = f"E{len(self.envs)}"
            self.envs[ref] = name
            self.top.append(f"let {name};")
            self.deferred.append(f"{name} = env({self.table.slot(ref.name)}, {self.table.slot(ref.default)});")
        return Js(self.envs[ref])

    def env_text(self, text: str) -> Js:
        """A string where only `${NAME}` is resolved (base URLs, an auth token)."""
        return self.table.join([self.env(p) if isinstance(p, Env) else p for p in env_pieces(text)])


@dataclass
class Scope:
    """What one function of the script can name: its part's pools, the variables captured so
    far, the login token. `lets` are the per-call variables it declares."""
    script: Script
    part: int
    pools: dict[str, dict]
    captured: dict[str, str] = field(default_factory=dict)  # capture name -> JS variable
    token: str | None = None
    lets: list[str] = field(default_factory=list)

    def let(self, name: str) -> str:
        if name not in self.lets:
            self.lets.append(name)
        return name

    def value(self, slot: Slot) -> tuple[Js, bool] | None:
        """(JS expression of the placeholder's value, whether it is always a string), or None
        when it has none (it is sent as written). A capture first, then the token, a pool, the built-ins."""
        if slot.name in self.captured:
            expr, is_text = self.captured[slot.name], False
        elif slot.name == "token" and self.token is not None:
            expr, is_text = self.token, False
        elif slot.name in self.pools:
            index = list(self.pools).index(slot.name)  # one row per pool per call, drawn on first use
            row = self.let(f"R{self.part}_{index}")
            expr, is_text = f"({row} !== undefined ? {row} : ({row} = draw{self.part}_{index}()))", False
        elif slot.name == "vu":
            # A template literal is String(): calling String itself would make each VU build
            # that constructor and its methods.
            expr, is_text = "`${__VU}`", True
        elif slot.name == "iter":
            expr, is_text = "`${__ITER}`", True
        elif slot.name == "rand":
            rand = self.let("RAND")
            expr, is_text = f"({rand} !== undefined ? {rand} : ({rand} = `${{Math.floor(Math.random() * 1e9)}}`))", True
        elif slot.name == "uuid":
            self.script.helpers.add("uuid4")
            uuid = self.let("UUID")
            expr, is_text = f"({uuid} !== undefined ? {uuid} : ({uuid} = uuid4()))", True
        else:
            return None
        if slot.field is None:
            return Js(expr), is_text
        self.script.helpers.add("dig")
        return Js(f"dig({expr}, {self.script.table.slot(slot.field.split('.'))})"), False

    # Each context fills placeholders its own way: text, a whole value, a path, JSON.

    def text(self, text: str) -> Js:
        """The string, filled as text: objects as JSON, a placeholder without a value as written."""
        return self.script.table.join([self._text_piece(piece) for piece in pieces(text)])

    def _text_piece(self, piece) -> str | Js:
        if isinstance(piece, str):
            return piece
        if isinstance(piece, Env):
            return self.script.env(piece)
        found = self.value(piece)
        if found is None:
            return piece.written
        expr, is_text = found
        if is_text:
            return expr
        self.script.helpers.add("text")
        return Js(f"text({expr}, {self.script.table.slot(piece.written)})")

    def whole(self, text: str, helper: str) -> tuple[Js, bool] | None:
        """A string that is one placeholder only keeps the value's own type.
        -> (`helper(value, as written)`, False) when the value may be missing or not a
        string; (the value, True) when it is always a string; None when the string is not one
        placeholder with a value."""
        split = pieces(text)
        found = self.value(split[0]) if len(split) == 1 and isinstance(split[0], Slot) else None
        if found is None or found[1]:
            return found
        self.script.helpers.add(helper)
        return Js(f"{helper}({found[0]}, {self.script.table.slot(split[0].written)})"), False

    def raw(self, text: str) -> Js:
        """The string as a value: one placeholder only is the value itself (a number stays a
        number), anything else text."""
        found = self.whole(text, "raw")
        return found[0] if found else self.text(text)

    def path(self, text: str) -> list[str | Js]:
        """A path: each value percent-encoded, so it never adds a segment, query or host."""
        parts: list[str | Js] = []
        for piece in pieces(text):
            found = self.value(piece) if isinstance(piece, Slot) else None
            if not isinstance(piece, Slot) or found is None:
                parts.append(self._text_piece(piece))
            elif found[1]:
                parts.append(Js(f"encodeURIComponent({found[0]})"))
            else:
                self.script.helpers.add("seg")
                parts.append(Js(f"seg({found[0]}, {self.script.table.slot(piece.written)})"))
        return parts

    def is_static(self, text: str) -> bool:
        """Whether the string is known here: no `${NAME}`, no placeholder with a value."""
        return all(isinstance(p, str) or (isinstance(p, Slot) and self.value(p) is None) for p in pieces(text))

    def literal(self, text: str) -> str:
        """A static string as it is sent (unknown placeholders stay as written)."""
        return "".join(p if isinstance(p, str) else p.written for p in pieces(text))

    def json_body(self, value) -> Js:
        """The value as JSON text, each string filled: fixed JSON text around the values that change."""
        parts: list[str | Js] = []
        self._json(value, parts)
        return self.script.table.join(parts)

    def _json(self, value, parts: list) -> None:
        if isinstance(value, dict) and not all(self.is_static(key) for key in value):
            # A key known only when sent: where it lands among the others (integer-like keys
            # go first in JavaScript) is too, so JavaScript builds this object and writes it.
            parts.append(Js(f"JSON.stringify({self.filled(value)})"))
        elif isinstance(value, dict):
            parts.append("{")
            for i, key in enumerate(js_keys(value)):
                parts.append(("," if i else "") + js_string(self.literal(key)) + ":")
                self._json(value[key], parts)
            parts.append("}")
        elif isinstance(value, list):
            parts.append("[")
            for i, item in enumerate(value):
                if i:
                    parts.append(",")
                self._json(item, parts)
            parts.append("]")
        elif isinstance(value, str):
            if self.is_static(value):
                parts.append(js_string(self.literal(value)))
            else:  # a whole placeholder keeps its type (`json` writes it), other text is a JSON string
                found = self.whole(value, "json")
                parts.append(found[0] if found and not found[1] else Js(f"JSON.stringify({found[0] if found else self.text(value)})"))
        else:
            parts.append(js_json(value))

    def filled(self, value) -> Js:
        """A JSON value built in JavaScript: strings filled (one placeholder only is its value),
        keys filled as text, in JavaScript's key order."""
        if isinstance(value, str):
            return self.raw(value)
        if isinstance(value, list):
            return Js("[" + ", ".join(self.filled(item) for item in value) + "]")
        if isinstance(value, dict):
            return Js("{ " + ", ".join(f"[{self.text(key)}]: {self.filled(value[key])}" for key in js_keys(value)) + " }")
        return self.script.table.slot(value)

    def message(self, value) -> Js:
        """A WebSocket message: a string as filled (a whole placeholder's object as JSON), else JSON."""
        if not isinstance(value, str):
            return self.json_body(value)
        found = self.whole(value, "wsText")
        return found[0] if found else self.text(value)


# ---- whole scenarios


@dataclass(frozen=True)
class Code:
    table: list  # PLAN.code: the config's values the code reads as C[i]
    top: list[str]
    deferred: list[str]
    helpers: frozenset[str]
    uses_http: bool
    uses_websocket: bool
    imports: frozenset[str]


def script_code(plan: dict, parts) -> Code:
    """The code of a scenario's script (render/plan.py's plan, its parts)."""
    script = Script()
    base = _base_urls(plan, script)
    for i, (name, spec) in enumerate(plan["metrics"].items()):  # custom metrics, fed by the requests naming them
        kind = {"counter": "Counter", "gauge": "Gauge", "rate": "Rate", "trend": "Trend"}[spec["type"]]
        script.imports.add(kind)
        script.metrics[name] = (f"M{i}", spec["type"])
        timed = ", true" if spec["type"] == "trend" and spec["time"] else ""
        script.top.append(f"const M{i} = new {kind}({script.table.slot(name)}{timed});")
    protocols = set()
    for index, part in enumerate(parts):
        data = plan["parts"][part.name]
        protocols.add(data["protocol"])
        script.top.append(f"\n// {json.dumps(part.name)}: {data['protocol']}, executor {part.executor}")
        for pool_index, pool in enumerate(data["data"].values()):
            _pool(script, index, pool_index, pool)
        if data["protocol"] == "websocket":
            _websocket_part(script, index, part, data, plan, base)
        else:
            _http_part(script, index, part, data, plan, base)
    shared = [(i, part.name) for i, part in enumerate(parts)
              if plan["parts"][part.name]["auth"] and plan["parts"][part.name]["auth"]["mode"] == "shared"]
    if shared:  # one login before the test; every VU of these parts uses its token
        script.imports.add("exec")
        lines = ["const tokens = {};"]
        for i, name in shared:
            key = script.table.slot(name)
            lines += [f"tokens[{key}] = login{i}();",
                      f"if (tokens[{key}] === null) exec.test.abort(`login for scenario ${{{key}}} failed (see the checks above)`);"]
        body = "\n".join(lines + ["return { tokens: tokens };"])
        script.top.append(lambda ready: "\nexport const setup = () => {\n" + _indent(ready + body) + "\n};")
    # An exec function starts with `ready` when anything waits for the environment: known only
    # once every part is written, so those statements are written last.
    ready = "if (!READY) ready();\n" if script.deferred else ""
    top = [statement(ready) if callable(statement) else statement for statement in script.top]
    # k6/http where anything sends HTTP: HTTP parts, and the login of a WebSocket part.
    sends_http = "http" in protocols or any(plan["parts"][p.name]["auth"] for p in parts)
    return Code(script.table.values, top, script.deferred, frozenset(script.helpers),
                sends_http, "websocket" in protocols, frozenset(script.imports))


def _base_urls(plan: dict, script: Script) -> dict[str, str | Js]:
    """The HTTP and WebSocket base URLs, without a trailing `/`: the text itself, or
    the variable that holds it once `${NAME}` is read."""
    out: dict[str, str | Js] = {}
    for protocol, url in (("http", plan["base_url"]), ("websocket", plan["ws_base_url"])):
        if url is None:
            continue
        if all(isinstance(p, str) for p in env_pieces(url)):
            out[protocol] = re.sub(r"/+$", "", "".join(env_pieces(url)))
        else:
            script.helpers.add("trimEnd")
            name = "BASE_HTTP" if protocol == "http" else "BASE_WS"
            script.top.append(f"let {name};")
            script.deferred.append(f"{name} = trimEnd({script.env_text(url)});")
            out[protocol] = Js(name)
    if "websocket" not in out:
        # k6's WebSocket refuses `user:password@`: a URL derived from base_url goes without them.
        if out["http"] == "BASE_HTTP":
            script.helpers.add("wsOf")
            script.top.append("let BASE_WS;")
            script.deferred.append("BASE_WS = wsOf(BASE_HTTP);")
            out["websocket"] = Js("BASE_WS")
        else:
            out["websocket"] = re.sub(r"^(wss?://)[^/?#]*@", r"\1", re.sub(r"^http", "ws", out["http"]))
    return out


def _pool(script: Script, part: int, index: int, pool: dict) -> None:
    name = f"POOL{part}_{index}"
    if pool["source"] == "inline" and _reads_env(pool["values"]):
        # Rows with `${NAME}` (in keys or values) are built once the environment is read.
        script.top.append(f"let {name};")
        script.deferred.append(f"{name} = {_env_filled(script, pool['values'])};")
    elif pool["source"] == "inline":
        script.top.append(f"const {name} = {script.table.slot(pool['values'])};")
    else:  # read once per k6 process, in the init context, and shared by all VUs (never copied)
        script.imports.add("SharedArray")
        parse = "parseCsv(open(path))" if pool["source"] == "csv" else "JSON.parse(open(path))"
        if pool["source"] == "csv":
            script.helpers.add("parseCsv")
        script.top.append(f"const {name} = new SharedArray({script.table.slot(pool['key'])}, () => {{\n"
                          f"  const path = {script.table.slot(pool['path'])};\n  return {parse};\n}});")
    if pool["order"] == "sequential":  # each VU starts at its own row and walks on
        script.top.append(
            f"let CUR{part}_{index} = -1;\n"
            f"const draw{part}_{index} = () => {{\n"
            f"  if (CUR{part}_{index} < 0) CUR{part}_{index} = Math.max(__VU - 1, 0);\n"
            f"  return {name}[CUR{part}_{index}++ % {name}.length];\n}};")
    elif pool["order"] == "unique":  # one row per iteration of the whole test
        script.imports.add("exec")
        script.top.append(
            f"const draw{part}_{index} = () => {{\n  let at = 0;\n"
            f"  try {{\n    at = exec.scenario.iterationInTest % {name}.length;\n"
            "  } catch (e) {\n    at = 0; // setup() has no scenario\n  }\n"
            f"  return {name}[at];\n}};")
    else:
        script.top.append(f"const draw{part}_{index} = () => {name}[Math.floor(Math.random() * {name}.length)];")


def _reads_env(value) -> bool:
    """Whether a string anywhere in the value (a key too) holds `${NAME}` or `$${`."""
    if isinstance(value, str):
        return ENV_REF.search(value) is not None
    if isinstance(value, list):
        return any(_reads_env(item) for item in value)
    if isinstance(value, dict):
        return any(_reads_env(key) or _reads_env(item) for key, item in value.items())
    return False


def _env_filled(script: Script, value) -> Js:
    """The value built in JavaScript with each `${NAME}` read; what holds none stays one slot."""
    if not _reads_env(value):
        return script.table.slot(value)
    if isinstance(value, str):
        return script.env_text(value)
    if isinstance(value, list):
        return Js("[" + ", ".join(_env_filled(script, item) for item in value) + "]")
    return Js("{ " + ", ".join(f"[{_env_filled(script, key)}]: {_env_filled(script, value[key])}"
                               for key in js_keys(value)) + " }")


def _headers(scope: Scope, layers: list[dict], auth: dict | None, json_body: bool) -> tuple[Js, list[str], str | None, bool]:
    """The headers a request sends: the target's, then the auth header, then the request's
    (a later one of the same name wins), plus Content-Type for JSON. -> (a shared object's slot and
    the init lines that fill in `${NAME}` values, the auth header's name if the token goes in
    there; or, when a value has a placeholder, the object literal built on each call)."""
    merged: dict[str, str | None] = {}  # None: the auth header's place
    auth_name = None
    for i, layer in enumerate(layers):
        if i == 1 and auth is not None:
            auth_name = auth["header"]
            merged[auth_name] = None
        # A header name is an RFC 9110 token (config/types.HEADER_NAME): no braces, so neither
        # `${NAME}` nor a placeholder; the names are known here.
        for name, value in layer.items():
            merged[name] = value
            if name == auth_name:
                auth_name = None
    if json_body and not any(name.lower() == "content-type" for name in merged):
        merged["Content-Type"] = "application/json"
    script, table = scope.script, scope.script.table
    if any(value is not None and any(isinstance(p, Slot) and scope.value(p) is not None for p in pieces(value))
           for value in merged.values()):
        fields = []
        for name, value in merged.items():
            if value is None:
                expr = f"{_token_prefix(table, auth)} + `${{{scope.token}}}`"
            else:
                expr = scope.raw(value)
            fields.append(f"[{table.slot(name)}]: {expr}")
        return Js("{ " + ", ".join(fields) + " }"), [], None, True
    # Requests whose headers come out the same share one object, as a hand-written script would
    # (each object a VU keeps costs it memory); what fills it in is then the same too.
    key = json.dumps([list(merged.items()), auth_name, scope.part if auth_name else None])
    if key in script.headers:
        return script.headers[key], [], auth_name, False
    static = {name: "" if value is None or not scope.is_static(value) else scope.literal(value) for name, value in merged.items()}
    slot = script.headers[key] = table.slot(static)
    lines = [f"{slot}[{table.slot(name)}] = {scope.text(value)};"
             for name, value in merged.items() if value is not None and not scope.is_static(value)]
    return slot, lines, auth_name, False


def _token_prefix(table: Table, auth: dict) -> Js:
    """What goes before the token in the auth header: `Bearer ` (the scheme and a space), or nothing."""
    return table.slot(f"{auth['scheme']} " if auth["scheme"] else "")


def _feeds(scope: Scope, req: dict) -> list[str]:
    """Custom metrics fed by a request after its checks."""
    lines = []
    for feed in req["feeds"]:
        metric, kind = scope.script.metrics[feed["metric"]]
        rate = kind == "rate"
        what = feed["what"]
        if what == "duration":
            lines.append(f"{metric}.add({'Boolean(res.timings.duration)' if rate else 'res.timings.duration'});")
        elif what in ("success", "failure"):
            value = "ok" if what == "success" else "!ok"
            lines.append(f"{metric}.add({value if rate else f'({value}) ? 1 : 0'});")
        elif what == "always":
            lines.append(f"{metric}.add({'true' if rate else '1'});")
        else:  # json:PATH, a value of the response, when it has one
            scope.script.helpers |= {"feed", "jsonField"}
            path = scope.script.table.slot(what[len("json:"):])
            lines.append(f"feed({metric}, jsonField(res, {path}), {'true' if rate else 'false'});")
    return lines


def _request(scope: Scope, req: dict, name: str, plan: dict, base: str | Js, auth: dict | None) -> tuple[list[str], str, tuple]:
    """(init-context lines, the statements that send and check it, (its headers object, the auth
    header's name) if they carry the token). The statements set `res` and `ok`."""
    t = scope.script.table
    headers, fill_env, auth_name, per_call = _headers(scope, [plan["headers"], req["headers"]], auth, req["json"] is not None)
    scope.script.deferred += fill_env
    init = []
    tags = {"name": req["name"], **req["tags"]}
    params = f"{{ headers: {headers}, tags: {t.slot(tags)}"
    if req["expect_status"]:
        params += f", responseCallback: {scope.script.callback(req['expect_status'])}"
    params += " }"
    if not per_call:  # built once per VU; else on each call, as its headers change
        init.append(f"const {name} = {params};")
        params = name
    # The URL: the path filled, then the query (keys and values filled, then encoded).
    url: list[str | Js] = [base, *scope.path(req["path"])]
    for i, (key, value) in enumerate(req["query"].items()):
        url.append("?" if i == 0 else "&")
        for j, text in enumerate((key, value)):
            url.append(js_uri_component(scope.literal(text)) if scope.is_static(text) else Js(f"encodeURIComponent({scope.text(text)})"))
            if j == 0:
                url.append("=")
    if req["json"] is not None:
        body = scope.json_body(req["json"])
    elif req["body"] is not None:
        body = scope.text(req["body"])
    else:
        body = "null"
    # The base URL then a path cannot leave the origin; a path from the environment is checked
    # each time it is sent (README, "Secrets and origin").
    checked = not req["path"].startswith("/")
    method = t.slot(req["method"])  # its slot before the URL's: the table keeps its order (k6-scripts/)
    target = scope.let("url") if checked else t.join(url)
    send = "\n".join([f"res = http.request({method}, {target}, {body}, {params});",
                      f"ok = check(res, {{\n{_checks(scope, req)}\n}});", *_feeds(scope, req)])
    if checked:
        send = (f"{target} = {t.join(url)};\nif ({_on_target(scope.script, base, target)}) {{\n{_indent(send)}\n}} "
                f"else {{\n  res = null;\n  ok = refuse({t.slot(req['name'])});\n}}")
    for capture in req["capture"]:  # later requests of a sequence see what this one captured
        scope.captured[capture] = f"V{scope.part}_{capture}"
    return init, send, (headers if auth_name is not None else None, auth_name)


def _on_target(script: Script, base: str | Js, url: str) -> str:
    """Whether the URL is the base URL followed by nothing, /, ? or #: else it is refused, not sent."""
    script.helpers.add("onTarget")
    script.imports.add("Counter")  # perfctl_refused_requests
    return f"onTarget({script.table.join([base])}, {url})"


def _checks(scope: Scope, req: dict) -> str:
    """The request's checks, each named after the request (that is how checks are told apart)."""
    t = scope.script.table
    name = req["name"]
    lines = []
    if req["expect_status"]:
        codes = req["expect_status"]
        test = " || ".join(f"r.status === {t.slot(code)}" for code in codes)
        lines.append(f"  [{t.slot(f'{name}: status in ' + '/'.join(map(str, codes)))}]: (r) => {test},")
    else:
        lines.append(f"  [{t.slot(f'{name}: status 2xx/3xx')}]: (r) => r.status >= 200 && r.status < 400,")
    if req["expect_json"] or req["capture"]:
        scope.script.helpers.add("jsonField")
    for json_field in req["expect_json"]:
        lines.append(f"  [{t.slot(f'{name}: json has {json_field}')}]: (r) => {{\n"
                     f"    const value = jsonField(r, {t.slot(json_field)});\n"
                     "    return value !== undefined && value !== null;\n  },")
    for capture, path in req["capture"].items():
        var = scope.let(f"V{scope.part}_{capture}")
        lines.append(f"  [{t.slot(f'{name}: captures {capture}')}]: (r) => {{\n"
                     f"    const value = jsonField(r, {t.slot(path)});\n"
                     "    if (value === undefined || value === null) return false;\n"
                     f"    {var} = value;\n    return true;\n  }},")
    return "\n".join(lines)


def _indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line if line else line for line in text.splitlines())


def _lets(names: list[str]) -> str:
    return f"let {', '.join(names)};\n" if names else ""


class Auth:
    """A part's token: from the environment, from one login in setup() (shared), or from each
    VU's own login (per-vu), and the headers objects that carry it once it is known."""

    def __init__(self, script: Script, index: int, part_name: str, data: dict, plan: dict, base: str | Js) -> None:
        self.script, self.index, self.part_name, self.auth = script, index, part_name, data["auth"]
        self.token = f"TOKEN{index}"
        self.fills: list[str] = []  # `headers[name] = scheme + token`, once per headers object
        t = script.table
        mode = self.auth["mode"]
        if mode == "env":
            script.top.append(f"let {self.token};")
            script.deferred.append(f"{self.token} = {script.env_text(self.auth['token'])};")
            return
        # register (optional) then login, in one scope: they share rows, {rand}, {uuid} and captures
        login = Scope(script, index, data["data"])
        sends = []
        for step, name in ((self.auth["register"], "register"), (self.auth["login"], "login")):
            if step is not None:
                init, send, _ = _request(login, step, f"P{index}_{name}", plan, base, None)
                script.top += init
                sends.append(send + "\nif (!ok) return null;")
        script.helpers.add("jsonField")
        script.top.append(
            f"let {self.token}{' = null' if mode == 'per-vu' else ''};\nconst login{index} = () => {{\n"
            + _indent(_lets(["res", "ok", *login.lets]) + "\n".join(sends)
                      + f"\nconst token = jsonField(res, {t.slot(self.auth['token_path'])});\n"
                        "return token === undefined || token === null ? null : token;") + "\n};")

    def carry(self, headers: Js, name: str | None) -> None:
        """`headers` is an object the token goes in, under `name` (None: it does not)."""
        if name is None:
            return
        fill = f"{headers}[{self.script.table.slot(name)}] = {_token_prefix(self.script.table, self.auth)} + `${{{self.token}}}`;"
        if fill not in self.fills:
            self.fills.append(fill)

    def prelude(self) -> str:
        """The start of each iteration: the token (and the headers it fills), or the end of the
        iteration when there is none (the failed login is already a failed check)."""
        token, fills = self.token, "\n".join(self.fills)
        if self.auth["mode"] == "env":
            self.script.deferred += self.fills
            return ""
        if self.auth["mode"] == "shared":
            key = self.script.table.slot(self.part_name)
            get = f"{token} = data && data.tokens ? data.tokens[{key}] : null;"
            first = f"if ({token} === undefined) {{\n  {get}\n"
        else:  # per VU: logged in on its first iteration, and again on the next while that fails
            first = f"if (!{token}) {{\n  {token} = login{self.index}();\n"
        if fills:
            first += f"  if ({token} !== null) {{\n{_indent(fills, '    ')}\n  }}\n"
        return first + f"}}\nif ({token} === null) break flow;\n"


def _http_part(script: Script, index: int, part, data: dict, plan: dict, base: dict[str, str | Js]) -> None:
    t = script.table
    auth = Auth(script, index, part.name, data, plan, base["http"]) if data["auth"] is not None else None
    scope = Scope(script, index, data["data"], token=auth.token if auth else None)
    sends = []
    for i, req in enumerate(data["requests"]):
        if data["flow"] == "mix":
            scope.captured = {}  # one request per iteration: nothing was captured before it
        init, send, (headers, auth_name) = _request(scope, req, f"P{index}_{i}", plan, base["http"], data["auth"])
        script.top += init
        if auth is not None:
            auth.carry(headers, auth_name)
        sends.append((req, send))
    body = auth.prelude() if auth is not None else ""
    if data["flow"] == "sequence":
        for req, send in sends:
            body += send + "\n"
            if req["capture"]:
                body += "if (!ok) break flow; // what the next requests need was not captured\n"
    elif len(sends) == 1 and data["cumulative_weights"][0] >= data["total_weight"]:
        body += sends[0][1] + "\n"
    else:  # a weighted pick; a roll past the last request is the idle share (only thinks)
        body += f"const roll = Math.random() * {t.slot(data['total_weight'])};\n"
        body += " else ".join(f"if (roll < {t.slot(cumulative)}) {{\n{_indent(send)}\n}}"
                              for (_, send), cumulative in zip(sends, data["cumulative_weights"])) + "\n"
    text = _lets(["res", "ok", *scope.lets])
    text += f"flow: {{\n{_indent(body.rstrip())}\n}}\n" if "break flow" in body else body
    if data["think_time"] > 0:
        text += f"sleep({t.slot(data['think_time'])});\n"
    args = "data" if auth is not None and data["auth"]["mode"] == "shared" else ""
    script.top.append(lambda ready: f"export const {part.exec} = ({args}) => {{\n{_indent((ready + text).rstrip())}\n}};")


def _websocket_part(script: Script, index: int, part, data: dict, plan: dict, base: dict[str, str | Js]) -> None:
    """One streamed conversation per iteration: each message waits for its streamed reply."""
    t = script.table
    flow = data["websocket"]
    auth = Auth(script, index, part.name, data, plan, base["http"]) if data["auth"] is not None else None
    scope = Scope(script, index, data["data"], token=auth.token if auth else None)
    headers, fill_env, auth_name, _ = _headers(scope, [plan["headers"], flow["headers"]], data["auth"], False)
    script.deferred += fill_env
    if auth is not None:
        auth.carry(headers, auth_name)
    url = t.join([base["websocket"], *scope.path(flow["path"])])
    origin = ""
    if not flow["path"].startswith("/"):  # a path from the environment: checked before each connect
        origin = (f"const url = {url};\nif (!{_on_target(script, base['websocket'], 'url')}) {{\n  refuse({t.slot(flow['path'])});\n"
                  "  break flow;\n}\n")
        url = Js("url")
    messages = [scope.message(m) for m in flow["messages"]]
    choose = messages[-1]
    for i in range(len(messages) - 2, -1, -1):
        choose = f"index === {i} ? {messages[i]} : {choose}"
    path = flow["path"]
    script.helpers.add("frameType")
    think = f"\n  sleep({t.slot(data['think_time'])});" if data["think_time"] > 0 else ""
    head = _lets(scope.lets)
    prelude = auth.prelude() if auth is not None else ""
    args = "data" if auth is not None and data["auth"]["mode"] == "shared" else ""
    conversation = f"""await new Promise((resolve) => {{
  const ws = new WebSocket({url}, null, {{ headers: {headers}, tags: {{ name: {t.slot(path)} }} }});
  let index = 0;
  let sentAt = 0;
  let firstChunkSeen = false;
  let timer = null;
  let opened = false;
  // Connects and replies count in the custom Rates and, as checks, in `checks` too.
  const connected = (ok) => {{
    wsConnectSuccess.add(ok);
    check(ok, {{ [{t.slot(f"{path}: connected")}]: (yes) => yes }});
  }};
  const replied = (ok) => {{
    wsReplySuccess.add(ok);
    check(ok, {{ [{t.slot(f"{path}: reply done within {flow['reply_timeout_ms']} ms")}]: (done) => done }});
  }};
  const finishReply = (ok) => {{
    if (timer !== null) clearTimeout(timer);
    timer = null;
    replied(ok);
    if (ok) wsReplyTime.add(Date.now() - sentAt);
    index += 1;
    if (!ok || index >= {len(messages)}) ws.close();
    else sendNext();
  }};
  const sendNext = () => {{
    const message = {choose};
    sentAt = Date.now();
    firstChunkSeen = false;
    ws.send(message);
    timer = setTimeout(() => finishReply(false), {t.slot(flow['reply_timeout_ms'])});
  }};
  ws.onopen = () => {{
    opened = true;
    connected(true);
    sendNext();
  }};
  ws.onmessage = (event) => {{
    if (!firstChunkSeen) {{
      firstChunkSeen = true;
      wsFirstChunk.add(Date.now() - sentAt);
    }}
    if (frameType(event.data) === {t.slot(flow['done_type'])}) finishReply(true);
  }};
  ws.onerror = () => {{
    if (!opened) connected(false);
  }};
  ws.onclose = () => {{
    if (timer !== null) {{
      clearTimeout(timer); // closed in the middle of a reply
      timer = null;
      replied(false);
    }}
    resolve();
  }};
}});"""
    body = prelude + origin + conversation
    body = f"flow: {{\n{_indent(body)}\n}}" if "break flow" in prelude + origin else body
    script.top.append(lambda ready: f"export const {part.exec} = async ({args}) => {{\n"
                      f"{_indent(ready + head + body)}{think}\n}};")

