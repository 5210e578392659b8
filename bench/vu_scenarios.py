"""The four scenario kinds of the memory-per-VU figure (bench/fig_vu_memory.py): one perfctl.yaml
holding them, and for each a k6 script as someone would write it by hand that sends the same
requests with the same weights, think time, data pool, checks, tags and options.

The hand-written scripts read VUS, DURATION, RATE and BASE_URL from k6's environment, so one
text serves every run; both sides get the same numbers (`hand_env`)."""

from __future__ import annotations

import textwrap

from orchestrator.render.plan import LEAN_SYSTEM_TAGS

KINDS = ("http-mix", "http-sequence", "arrival-rate", "websocket")
CONVERSATIONS = [f"conv-{i:03d}" for i in range(1, 9)]
PROMPTS = ["how fast is the loop?", "and the lag?", "tell me a short story"]


def config_text(base_url: str, *, vus: int, duration: float, rate: int) -> str:
    """perfctl.yaml with one scenario per kind, the names of KINDS."""
    return textwrap.dedent(f"""\
        version: 1
        name: bench-vu-memory
        target:
          base_url: {base_url}
          health_path: /health
        prometheus:
          url: http://127.0.0.1:9
          manage: false
        scenarios:
          http-mix:
            description: weighted mix with an idle share and a data pool
            executor: constant-vus
            vus: {vus}
            duration: {duration:g}s
            think_time: 1s
            idle_weight: 1
            data:
              conversation: {{ values: {CONVERSATIONS} }}
            requests:
              - name: send_message
                method: POST
                path: /api/messages
                json: {{ conversation_id: "{{conversation}}", text: "hello from perfctl" }}
                weight: 5
                expect_status: [201]
                expect_json: [id]
              - name: history
                path: /api/v1/conversations/{{conversation}}/messages
                weight: 3
                expect_status: [200]
              - name: health
                path: /health
                weight: 1
                expect_status: [200]
          http-sequence:
            description: per-VU login, then a flow whose later request uses what the first captured
            executor: constant-vus
            vus: {vus}
            duration: {duration:g}s
            think_time: 1s
            flow: sequence
            auth:
              mode: per-vu
              login:
                method: POST
                path: /api/auth/login
                json: {{ username: "perf-{{vu}}", password: "pw" }}
                expect_status: [200]
              token_path: token
            requests:
              - name: send_message
                method: POST
                path: /api/messages
                json: {{ conversation_id: "conv-{{vu}}", text: "hello" }}
                expect_status: [201]
                capture: {{ conversation: conversation_id }}
              - name: history
                path: /api/v1/conversations/{{conversation}}/messages
                expect_status: [200]
                expect_json: [messages]
              - name: verify
                path: /api/auth/verify
                expect_status: [200]
          arrival-rate:
            description: a fixed arrival rate over a large pre-allocated VU pool
            executor: constant-arrival-rate
            rate: {rate}
            duration: {duration:g}s
            pre_allocated_vus: {vus}
            max_vus: {vus}
            requests:
              - name: history
                path: /api/v1/conversations/conv-001/messages
                weight: 3
                expect_status: [200]
              - name: health
                path: /health
                weight: 1
                expect_status: [200]
          websocket:
            description: streamed replies over WebSocket, prompts from a pool
            protocol: websocket
            executor: constant-vus
            vus: {vus}
            duration: {duration:g}s
            think_time: 1s
            data:
              prompt: {{ values: {PROMPTS} }}
            websocket:
              path: /api/chat
              messages: [{{ text: "{{prompt}}" }}]
              done_type: done
              reply_timeout: 5s
        """)


def hand_env(base_url: str, *, vus: int, duration: float, rate: int) -> dict[str, str]:
    return {"BASE_URL": base_url, "VUS": str(vus), "DURATION": f"{duration:g}s", "RATE": str(rate)}


# What perfctl's scripts set besides the scenario: the same for the hand-written ones, so the
# figure compares scripts, not k6 options (system tags change how much each sample costs).
_COMMON_OPTIONS = (
    f"systemTags: {list(LEAN_SYSTEM_TAGS)!r},\n"
    '  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count"],'
).replace("'", '"')

HTTP_MIX = textwrap.dedent("""\
    import http from "k6/http";
    import { check, sleep } from "k6";

    export const options = {
      scenarios: { mix: { executor: "constant-vus", vus: Number(__ENV.VUS), duration: __ENV.DURATION, gracefulStop: "10s" } },
      %(common)s
    };

    const BASE = __ENV.BASE_URL;
    const CONVERSATIONS = %(conversations)s;
    const SEND = { headers: { "Content-Type": "application/json" }, tags: { name: "send_message" },
                   responseCallback: http.expectedStatuses(201) };
    const HISTORY = { tags: { name: "history" }, responseCallback: http.expectedStatuses(200) };
    const HEALTH = { tags: { name: "health" }, responseCallback: http.expectedStatuses(200) };

    export default function () {
      const conversation = CONVERSATIONS[Math.floor(Math.random() * CONVERSATIONS.length)];
      const roll = Math.random() * 10; // weights 5, 3, 1 and 1 idle
      if (roll < 5) {
        const res = http.post(`${BASE}/api/messages`, JSON.stringify({ conversation_id: conversation, text: "hello from perfctl" }), SEND);
        check(res, {
          "send_message: status in 201": (r) => r.status === 201,
          "send_message: json has id": (r) => r.json("id") !== undefined,
        });
      } else if (roll < 8) {
        const res = http.get(`${BASE}/api/v1/conversations/${conversation}/messages`, HISTORY);
        check(res, { "history: status in 200": (r) => r.status === 200 });
      } else if (roll < 9) {
        const res = http.get(`${BASE}/health`, HEALTH);
        check(res, { "health: status in 200": (r) => r.status === 200 });
      }
      sleep(1);
    }
    """)

HTTP_SEQUENCE = textwrap.dedent("""\
    import http from "k6/http";
    import { check, sleep } from "k6";

    export const options = {
      scenarios: { sequence: { executor: "constant-vus", vus: Number(__ENV.VUS), duration: __ENV.DURATION, gracefulStop: "10s" } },
      %(common)s
    };

    const BASE = __ENV.BASE_URL;
    const OK200 = http.expectedStatuses(200);
    const OK201 = http.expectedStatuses(201);
    let token = null;

    function login() {
      const res = http.post(`${BASE}/api/auth/login`, JSON.stringify({ username: `perf-${__VU}`, password: "pw" }),
        { headers: { "Content-Type": "application/json" }, tags: { name: "login" }, responseCallback: OK200 });
      check(res, { "login: status in 200": (r) => r.status === 200 });
      return res.status === 200 ? res.json("token") : null;
    }

    export default function () {
      if (token === null) token = login();
      if (!token) return;
      const auth = { Authorization: `Bearer ${token}` };
      const sent = http.post(`${BASE}/api/messages`, JSON.stringify({ conversation_id: `conv-${__VU}`, text: "hello" }),
        { headers: Object.assign({ "Content-Type": "application/json" }, auth), tags: { name: "send_message" }, responseCallback: OK201 });
      let conversation;
      const ok = check(sent, {
        "send_message: status in 201": (r) => r.status === 201,
        "send_message: captures conversation": (r) => (conversation = r.json("conversation_id")) !== undefined,
      });
      if (ok) {
        const history = http.get(`${BASE}/api/v1/conversations/${conversation}/messages`,
          { headers: auth, tags: { name: "history" }, responseCallback: OK200 });
        check(history, {
          "history: status in 200": (r) => r.status === 200,
          "history: json has messages": (r) => r.json("messages") !== undefined,
        });
        const verify = http.get(`${BASE}/api/auth/verify`, { headers: auth, tags: { name: "verify" }, responseCallback: OK200 });
        check(verify, { "verify: status in 200": (r) => r.status === 200 });
      }
      sleep(1);
    }
    """)

ARRIVAL_RATE = textwrap.dedent("""\
    import http from "k6/http";
    import { check } from "k6";

    export const options = {
      scenarios: { arrival: { executor: "constant-arrival-rate", rate: Number(__ENV.RATE), timeUnit: "1s",
                              duration: __ENV.DURATION, preAllocatedVUs: Number(__ENV.VUS), maxVUs: Number(__ENV.VUS),
                              gracefulStop: "10s" } },
      %(common)s
    };

    const HISTORY_URL = `${__ENV.BASE_URL}/api/v1/conversations/conv-001/messages`;
    const HEALTH_URL = `${__ENV.BASE_URL}/health`;
    const HISTORY = { tags: { name: "history" }, responseCallback: http.expectedStatuses(200) };
    const HEALTH = { tags: { name: "health" }, responseCallback: http.expectedStatuses(200) };

    export default function () {
      if (Math.random() * 4 < 3) {
        check(http.get(HISTORY_URL, HISTORY), { "history: status in 200": (r) => r.status === 200 });
      } else {
        check(http.get(HEALTH_URL, HEALTH), { "health: status in 200": (r) => r.status === 200 });
      }
    }
    """)

WEBSOCKET = textwrap.dedent("""\
    import { check, sleep } from "k6";
    import { Rate, Trend } from "k6/metrics";
    import { WebSocket } from "k6/experimental/websockets";
    import { setTimeout, clearTimeout } from "k6/timers";

    export const options = {
      scenarios: { ws: { executor: "constant-vus", vus: Number(__ENV.VUS), duration: __ENV.DURATION, gracefulStop: "10s" } },
      %(common)s
    };

    const URL = `${__ENV.BASE_URL.replace(/^http/, "ws")}/api/chat`;
    const PROMPTS = %(prompts)s;
    const connectSuccess = new Rate("ws_connect_success");
    const replySuccess = new Rate("ws_reply_success");
    const firstChunk = new Trend("ws_first_chunk_time", true);
    const replyTime = new Trend("ws_reply_time", true);

    export default async function () {
      const prompt = PROMPTS[Math.floor(Math.random() * PROMPTS.length)];
      await new Promise((resolve) => {
        const ws = new WebSocket(URL, null, { tags: { name: "/api/chat" } });
        let sentAt = 0;
        let first = false;
        let timer = null;
        let opened = false;
        const replied = (ok) => {
          replySuccess.add(ok);
          check(ok, { "/api/chat: reply done within 5000 ms": (done) => done });
        };
        ws.onopen = () => {
          opened = true;
          connectSuccess.add(true);
          check(true, { "/api/chat: connected": (yes) => yes });
          sentAt = Date.now();
          ws.send(JSON.stringify({ text: prompt }));
          timer = setTimeout(() => { timer = null; replied(false); ws.close(); }, 5000);
        };
        ws.onmessage = (event) => {
          if (!first) {
            first = true;
            firstChunk.add(Date.now() - sentAt);
          }
          let type;
          try { type = JSON.parse(event.data).type; } catch (e) { type = undefined; }
          if (type === "done") {
            clearTimeout(timer);
            timer = null;
            replied(true);
            replyTime.add(Date.now() - sentAt);
            ws.close();
          }
        };
        ws.onerror = () => {
          if (!opened) {
            connectSuccess.add(false);
            check(false, { "/api/chat: connected": (yes) => yes });
          }
        };
        ws.onclose = () => {
          if (timer !== null) {
            clearTimeout(timer);
            replied(false);
          }
          resolve();
        };
      });
      sleep(1);
    }
    """)


def hand_written(kind: str, websocket_module: str = "k6/experimental/websockets") -> str:
    """The hand-written k6 script of one kind (KINDS)."""
    text = {"http-mix": HTTP_MIX, "http-sequence": HTTP_SEQUENCE, "arrival-rate": ARRIVAL_RATE, "websocket": WEBSOCKET}[kind]
    text = text.replace('"k6/experimental/websockets"', f'"{websocket_module}"')
    return text % {"common": _COMMON_OPTIONS, "conversations": _js_list(CONVERSATIONS), "prompts": _js_list(PROMPTS)}


def _js_list(values: list[str]) -> str:
    import json

    return json.dumps(values)
