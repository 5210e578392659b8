"""Specialised k6 code for the scenario shapes most suites use, shaped like a hand-written script.

Why: k6 runs a script's init context once in every VU, and whatever that context keeps alive
(objects, closures, the builtins it touches: RegExp's prototype alone is ~18 KB) is paid once per
VU. The general script (templates/script.js.j2) interprets PLAN with some forty helpers, regexes
and per-request objects: 1.4-1.8x a hand-written script's memory at 1,000 VUs (bench/, memory per
VU). Here Python decides once what that script decides on every request (which strings hold
`${NAME}` or `{placeholder}`, what is fixed, where a row is drawn, which variables a request can
see) and writes, per request, the k6 call and its checks, as one would by hand.

The injection rule holds: every value from the config is a slot of one data table (`C`, JSON in
PLAN, see `Table`); code names only slots, perfctl's own variables and k6's API.

What is covered is what `NotLean` does not refuse. Anything else (data files, custom metrics,
shared login, register steps, `{uuid}`, `order: unique`, placeholders in headers or JSON keys,
a path starting with `${...}`) keeps the general script: the two send the same bytes, checks and
tags (tests/render/test_specialised.py runs both against one server).
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal

from orchestrator.config.env import ENV_REF  # the config's `${NAME}` grammar, as the scripts read it

# A `{name}` / `{name.field}` placeholder, as the general script's PLACEHOLDER reads it.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_.-]+))?\}")


class NotLean(Exception):
    """This scenario needs the general script; the message says what it uses."""


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
    """A config string as the general script fills it: `${...}` first, then `{placeholders}`
    in the literal text. (The general script would also fill braces inside an environment
    value; a string that has both kinds is left to it.)"""
    out: list[str | Env | Slot] = []
    for piece in env_pieces(text):
        out += _placeholders(piece) if isinstance(piece, str) else [piece]
    if any(isinstance(p, Env) for p in out) and any(isinstance(p, Slot) for p in out):
        raise NotLean("a string with both ${NAME} and {placeholder}")
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
    raise NotLean(f"a {type(value).__name__} value in JSON")


def js_string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NotLean("a lone surrogate in a string") from None
    return json.dumps(text, ensure_ascii=False)


def js_keys(mapping: dict) -> list[str]:
    """A JavaScript object's key order: array-index keys ascending, then the rest as inserted."""
    if any(not isinstance(key, str) for key in mapping):
        raise NotLean("a JSON key that is not a string")
    index = [key for key in mapping if key.isascii() and key.isdigit() and (key == "0" or key[0] != "0")
             and int(key) < 2**32 - 1]
    return sorted(index, key=int) + [key for key in mapping if key not in index]


def js_number(number: int | float) -> str:
    """Number.prototype.toString (what JSON.stringify writes), from the shortest round-trip digits."""
    if isinstance(number, int) and abs(number) <= 2**53:
        return str(number)
    value = float(number)
    if not math.isfinite(value):
        raise NotLean("a number JSON cannot hold")
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
    top: list = field(default_factory=list)  # init-context statements in order (exec functions: see lean_script)
    helpers: set[str] = field(default_factory=set)
    envs: dict[Env, str] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)  # statements that need the environment (`ready`)
    headers: dict[str, Js] = field(default_factory=dict)  # headers objects, shared by what sends the same
    callbacks: dict[tuple, str] = field(default_factory=dict)  # expected statuses -> the responseCallback's const

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
        when it has none (it is sent as written). Lookup order as the general script's."""
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
            expr, is_text = f"({rand} !== undefined ? {rand} : ({rand} = `${{Math.floor(Math.random() * 1e9)}}`)))", True
        elif slot.name == "uuid":
            raise NotLean("{uuid}")
        else:
            return None
        if slot.field is None:
            return Js(expr), is_text
        self.script.helpers.add("dig")
        return Js(f"dig({expr}, {self.script.table.slot(slot.field.split('.'))})"), False

    # Each context fills placeholders as the general script's fill / fillText / fillPath do.

    def text(self, text: str) -> Js:
        """The string, filled (fillText): objects as JSON, a missing value as written."""
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

    def path(self, text: str) -> list[str | Js]:
        """fillPath: each value percent-encoded, so it never adds a segment, query or host."""
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
        return all(isinstance(p, str) or (isinstance(p, Slot) and self.value(p) is None) for p in pieces(text))

    def literal(self, text: str) -> str:
        """A static string as it is sent (unknown placeholders stay as written)."""
        return "".join(p if isinstance(p, str) else p.written for p in pieces(text))

    def json_body(self, value) -> Js:
        """JSON.stringify(fillDeep(value)): fixed JSON text around the values that change."""
        parts: list[str | Js] = []
        self._json(value, parts)
        return self.script.table.join(parts)

    def _json(self, value, parts: list) -> None:
        if isinstance(value, dict):
            parts.append("{")
            for i, key in enumerate(js_keys(value)):
                if not self.is_static(key):
                    raise NotLean("a JSON key with a {placeholder}")
                if any(isinstance(p, Env) for p in pieces(key)):
                    raise NotLean("a JSON key with ${NAME}")
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
            split = pieces(value)
            if self.is_static(value):
                parts.append(js_string(self.literal(value)))
            elif len(split) == 1 and isinstance(split[0], Slot):  # a whole placeholder keeps its type
                expr, is_text = self.value(split[0])
                if is_text:
                    parts.append(Js(f"JSON.stringify({expr})"))
                else:
                    self.script.helpers.add("json")
                    parts.append(Js(f"json({expr}, {self.script.table.slot(split[0].written)})"))
            else:
                parts.append(Js(f"JSON.stringify({self.text(value)})"))
        else:
            parts.append(js_json(value))

    def message(self, value) -> Js:
        """A WebSocket message: a string as filled (a whole placeholder's object as JSON), else JSON."""
        if not isinstance(value, str):
            return self.json_body(value)
        split = pieces(value)
        found = self.value(split[0]) if len(split) == 1 and isinstance(split[0], Slot) else None
        if found is None:
            return self.text(value)
        if found[1]:
            return found[0]
        self.script.helpers.add("wsText")
        return Js(f"wsText({found[0]}, {self.script.table.slot(split[0].written)})")


# ---- whole scenarios


@dataclass(frozen=True)
class Lean:
    code: list  # PLAN.code
    top: list[str]
    deferred: list[str]
    helpers: frozenset[str]
    uses_http: bool
    uses_websocket: bool


def lean_script(plan: dict, parts) -> Lean:
    """The specialised code of a scenario, or NotLean saying what it uses that needs the general one."""
    script = Script()
    for part in parts:
        _check_part(plan["parts"][part.name])
    base = _base_urls(plan, script)
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
    # An exec function starts with `ready` when anything waits for the environment: known only
    # once every part is written, so those statements are written last.
    ready = "if (!READY) ready();\n" if script.deferred else ""
    top = [statement(ready).replace(" => {\n\n", " => {\n") if callable(statement) else statement for statement in script.top]
    return Lean(script.table.values, top, script.deferred, frozenset(script.helpers),
                "http" in protocols, "websocket" in protocols)


def _check_part(data: dict) -> None:
    for name, pool in data["data"].items():
        if pool["source"] != "inline":
            raise NotLean(f"data pool '{name}' is read from a file")
        if pool["order"] == "unique":
            raise NotLean(f"data pool '{name}' has order: unique")
        if "${" in json.dumps(pool["values"]):
            raise NotLean(f"data pool '{name}' holds ${{NAME}} references")
    auth = data["auth"]
    if auth is not None:
        if auth["mode"] == "shared":
            raise NotLean("a shared login (setup)")
        if auth["register"] is not None:
            raise NotLean("a register step")
        if data["protocol"] == "websocket":
            raise NotLean("a WebSocket scenario with auth")
        if auth["mode"] != "env" and auth["login"]["capture"]:
            raise NotLean("captures on the login step")
    for req in [*(data.get("requests") or []), *([auth["login"]] if auth and auth["mode"] != "env" else [])]:
        if req["feeds"]:
            raise NotLean(f"request '{req['name']}' feeds custom metrics")
        if not req["path"].startswith("/"):
            raise NotLean(f"request '{req['name']}' has a path that starts with ${{...}} (checked when sent)")
    if data["protocol"] == "websocket" and not data["websocket"]["path"].startswith("/"):
        raise NotLean("a WebSocket path that starts with ${...} (checked when sent)")


def _base_urls(plan: dict, script: Script) -> dict[str, str | Js]:
    """The HTTP and WebSocket base URLs (targetUrl of the general script): the text itself, or
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
    script.top.append(f"const {name} = {script.table.slot(pool['values'])};")
    if pool["order"] == "sequential":  # each VU starts at its own row and walks on
        script.top.append(
            f"let CUR{part}_{index} = -1;\n"
            f"const draw{part}_{index} = () => {{\n"
            f"  if (CUR{part}_{index} < 0) CUR{part}_{index} = Math.max(__VU - 1, 0);\n"
            f"  return {name}[CUR{part}_{index}++ % {name}.length];\n}};")
    else:
        script.top.append(f"const draw{part}_{index} = () => {name}[Math.floor(Math.random() * {name}.length)];")


def _headers(scope: Scope, layers: list[dict], auth: dict | None, json_body: bool) -> tuple[Js, list[str], str | None]:
    """The headers object a request sends: the general script's Object.assign of the target's,
    the auth header and the request's, plus Content-Type for JSON. -> (its slot, init lines
    that fill in `${NAME}` values, the auth header's name if the token goes in)."""
    merged: dict[str, str | None] = {}  # None: the auth header's place
    auth_name = None
    for i, layer in enumerate(layers):
        if i == 1 and auth is not None:
            auth_name = auth["header"]
            merged[auth_name] = None
        for name, value in layer.items():
            if not scope.is_static(name) or any(isinstance(p, Env) for p in pieces(name)):
                raise NotLean("a header name with ${NAME} or {placeholder}")
            if not scope.is_static(value) and not all(isinstance(p, (str, Env)) for p in pieces(value)):
                raise NotLean(f"header '{name}' has a placeholder")
            name = scope.literal(name)
            merged[name] = value
            if name == auth_name:
                auth_name = None
    if json_body and not any(name.lower() == "content-type" for name in merged):
        merged["Content-Type"] = "application/json"
    # Requests whose headers come out the same share one object, as a hand-written script would
    # (each object a VU keeps costs it memory); what fills it in is then the same too.
    script = scope.script
    key = json.dumps([list(merged.items()), auth_name, scope.part if auth_name else None])
    if key in script.headers:
        return script.headers[key], [], auth_name
    static = {name: "" if value is None or not scope.is_static(value) else scope.literal(value) for name, value in merged.items()}
    slot = script.headers[key] = script.table.slot(static)
    lines = [f"{slot}[{script.table.slot(name)}] = {scope.text(value)};"
             for name, value in merged.items() if value is not None and not scope.is_static(value)]
    return slot, lines, auth_name


def _request(scope: Scope, req: dict, name: str, plan: dict, base: str | Js, auth: dict | None) -> tuple[list[str], str, tuple]:
    """(init-context lines, the statements that send and check it, (its headers object, the auth
    header's name) if they carry the token). The statements set `res` and `ok`."""
    t = scope.script.table
    headers, fill_env, auth_name = _headers(scope, [plan["headers"], req["headers"]], auth, req["json"] is not None)
    scope.script.deferred += fill_env
    init = []
    tags = {"name": req["name"], **req["tags"]}
    params = f"{{ headers: {headers}, tags: {t.slot(tags)}"
    if req["expect_status"]:
        params += f", responseCallback: {scope.script.callback(req['expect_status'])}"
    init.append(f"const {name} = {params} }};")
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
    send = (f"res = http.request({t.slot(req['method'])}, {t.join(url)}, {body}, {name});\n"
            f"ok = check(res, {{\n{_checks(scope, req)}\n}});")
    for capture in req["capture"]:  # later requests of a sequence see what this one captured
        scope.captured[capture] = f"V{scope.part}_{capture}"
    return init, send, (headers if auth_name is not None else None, auth_name)


def _checks(scope: Scope, req: dict) -> str:
    """The request's checks, named as the general script names them (requestChecks)."""
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


def _http_part(script: Script, index: int, part, data: dict, plan: dict, base: dict[str, str | Js]) -> None:
    t = script.table
    auth = data["auth"]
    token = f"TOKEN{index}" if auth is not None else None
    prelude = ""
    if auth is not None and auth["mode"] == "env":
        script.top.append(f"let {token};")
        script.deferred.append(f"{token} = {script.env_text(auth['token'])};")
    elif auth is not None:
        # Per VU: logged in on its first iteration, and again on the next while that fails.
        login = Scope(script, index, data["data"])
        init, send, _ = _request(login, auth["login"], f"P{index}_login", plan, base["http"], None)
        script.helpers.add("jsonField")
        script.top += init
        script.top.append(
            f"let {token} = null;\nconst login{index} = () => {{\n"
            + _indent(_lets(["res", "ok", *login.lets]) + send
                      + f"\nif (!ok) return null;\nconst token = jsonField(res, {t.slot(auth['token_path'])});\n"
                        "return token === undefined || token === null ? null : token;") + "\n};")
    scope = Scope(script, index, data["data"], token=token)
    sends, fill_token = [], []
    for i, req in enumerate(data["requests"]):
        if data["flow"] == "mix":
            scope.captured = {}  # one request per iteration: nothing was captured before it
        init, send, (headers, auth_name) = _request(scope, req, f"P{index}_{i}", plan, base["http"], auth)
        script.top += init
        if auth_name is not None:  # the header `scheme token`, set once the token is known
            prefix = t.slot(f"{auth['scheme']} " if auth["scheme"] else "")
            fill = f"{headers}[{t.slot(auth_name)}] = {prefix} + `${{{token}}}`;"
            if fill not in fill_token:
                fill_token.append(fill)
        sends.append((req, send))
    if auth is not None and auth["mode"] == "env":
        script.deferred += fill_token
    elif auth is not None:
        prelude = (f"if (!{token}) {{\n  {token} = login{index}();\n"
                   + (f"  if ({token} !== null) {{\n{_indent(chr(10).join(fill_token), '    ')}\n  }}\n" if fill_token else "")
                   + f"}}\nif ({token} === null) break flow; // the failed login is already a failed check\n")
    body = prelude
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
    script.top.append(lambda ready: f"export const {part.exec} = () => {{\n{_indent((ready + text).rstrip())}\n}};")


def _websocket_part(script: Script, index: int, part, data: dict, plan: dict, base: dict[str, str | Js]) -> None:
    """One streamed conversation per iteration, as the general script's streamConversation."""
    t = script.table
    flow = data["websocket"]
    scope = Scope(script, index, data["data"])
    headers, fill_env, _ = _headers(scope, [plan["headers"], flow["headers"]], None, False)
    script.deferred += fill_env
    url = t.join([base["websocket"], *scope.path(flow["path"])])
    messages = [scope.message(m) for m in flow["messages"]]
    choose = messages[-1]
    for i in range(len(messages) - 2, -1, -1):
        choose = f"index === {i} ? {messages[i]} : {choose}"
    path = flow["path"]
    script.helpers.add("frameType")
    think = f"\n  sleep({t.slot(data['think_time'])});" if data["think_time"] > 0 else ""
    lets = _lets(scope.lets)
    script.top.append(lambda ready: f"""export const {part.exec} = async () => {{
{_indent(ready + lets)}
  await new Promise((resolve) => {{
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
  }});{think}
}};""")
