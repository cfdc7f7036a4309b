"""Moderator console benchmark (issue 15): a moderator console in Chromium with 2,000
pending questions, while questions keep arriving.

    .venv/bin/python bench/console.py                  # 2,000 pending, 60 actions
    .venv/bin/python bench/console.py --pending 500 --actions 20

What it does, in one process and a temporary directory removed at the end:

1. Builds the app with ``create_app`` (SQLite, recording off) on a loopback port, creates a
   moderator and a started broadcast, and asks ``--pending`` questions through the
   moderation service (distinct viewers, so no rate limit applies; each is screened as a
   viewer's question is).
2. Opens the moderation console in headless Chromium (/usr/bin/chromium, or CHROMIUM_PATH)
   and waits for the snapshot to be rendered.
3. ``list_render_ms``: the time to render the pending list when switching to its tab (the
   console's synchronous render, layout forced), median of ``--renders`` switches.
4. ``action_rtt_p95_ms``: while a background task asks ``--arrival-rate`` new questions per
   second, the page approves the question under the keyboard cursor (the ``a`` key) and times,
   in the page, from the key press to the card leaving the list (the ack and the question's
   event both back, the list re-rendered). ``--actions`` approvals, p50 and p95.
5. The floor, in the same run: a bare websocket ``ping`` to the same server from the same
   page (no store write, no rendering), p95 over as many round trips.

Output: one JSON line on stdout with every figure, the targets (action_rtt_p95_ms ≤ 100,
list_render_ms ≤ 200) and pass/miss for each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web
from playwright.async_api import async_playwright

from live.sessions import SessionForm
from settings import Secret, load_settings
from web import keys
from web.app import create_app

TEXTS = ("驾驶证到期了怎么换证", "机动车年检需要带什么", "驾照扣分怎么查询", "电动车上牌要什么材料",
         "驾驶证丢了如何补办", "车辆违章在哪里处理", "摩托车驾驶证怎么考", "新车上牌流程是什么",
         "驾驶证满分学习在哪学", "异地年检怎么办")
PASSWORD = "bench-password-123"
TARGETS = {"action_rtt_p95_ms": 100.0, "list_render_ms": 200.0}

RENDER_JS = """async () => {
  const tabs = [document.getElementById("tab-queue"), document.getElementById("tab-pending")];
  tabs[0].click();
  void document.body.offsetHeight;
  const t0 = performance.now();
  tabs[1].click();
  void document.body.offsetHeight;
  return performance.now() - t0;
}"""

ACTION_JS = """async () => {
  const card = document.querySelector(".mod-card.current");
  if (!card) return -1;
  const id = card.dataset.questionId;
  const t0 = performance.now();
  document.dispatchEvent(new KeyboardEvent("keydown", { key: "a", bubbles: true }));
  await new Promise((resolve) => {
    const check = () => (document.getElementById(`q-${id}`) ? setTimeout(check, 0) : resolve());
    check();
  });
  return performance.now() - t0;
}"""

PING_JS = """async (n) => {
  const ws = new WebSocket(`ws://${location.host}/ws/staff/${document.getElementById("console").dataset.sessionId}`);
  const times = [];
  let pending = null;
  let t0 = 0;
  ws.onmessage = (ev) => {
    const frame = JSON.parse(ev.data);
    if (frame.re && pending) { times.push(performance.now() - t0); pending(); }
  };
  await new Promise((resolve) => { ws.onopen = resolve; });
  await new Promise((resolve) => setTimeout(resolve, 300));  // hello and snapshot
  for (let i = 0; i < n; i += 1) {
    await new Promise((resolve) => {
      pending = resolve;
      t0 = performance.now();
      ws.send(JSON.stringify({ type: "ping", id: `p${i}` }));
    });
  }
  ws.close();
  return times;
}"""


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


async def ask(app: web.Application, session_id: str, n: int) -> None:
    moderation = app[keys.MODERATION]
    await moderation.ask(session_id, f"viewer-{n}", f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
                         uuid.uuid4().hex, f"{TEXTS[n % len(TEXTS)]}？第{n}位观众")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={}).replace(
            server={"data_dir": str(Path(tmp) / "data"), "port": 0},
            security={"secret_key": Secret("bench-secret-key-0123456789abcdef")},
            media={"record": False})
        app = create_app(settings)
        runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        try:
            return await measure(app, url, args)
        finally:
            await runner.cleanup()


async def measure(app: web.Application, url: str, args: argparse.Namespace) -> dict[str, Any]:
    await app[keys.ACCOUNTS].create("mod", "moderator", PASSWORD, actor="bench")
    sessions = app[keys.SESSIONS]
    created = await sessions.create(SessionForm("控制台基准", scheduled_start=time.time()),
                                    actor="bench")
    session = await sessions.start(created.id, actor="bench")
    t0 = time.perf_counter()
    for n in range(args.pending):
        await ask(app, session.id, n)
    print(f"asked {args.pending} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = await browser.new_page(base_url=url, viewport={"width": 1280, "height": 900})
            await page.goto("/login")
            await page.fill("input[name=name]", "mod")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url("**/staff")
            started = time.perf_counter()
            await page.goto(f"/staff/sessions/{session.id}/moderate")
            await page.wait_for_function(
                "(n) => document.querySelector('[data-count=pending]').textContent === String(n)"
                " && document.querySelectorAll('.mod-card').length > 0", arg=args.pending,
                timeout=60_000, polling=50)
            first_ms = (time.perf_counter() - started) * 1000
            renders = [await page.evaluate(RENDER_JS) for _ in range(args.renders)]
            await page.keyboard.press("j")
            stop = asyncio.Event()

            async def arrivals() -> int:
                n = args.pending
                while not stop.is_set():
                    await ask(app, session.id, n)
                    n += 1
                    await asyncio.sleep(1 / args.arrival_rate)
                return n - args.pending

            feeder = asyncio.create_task(arrivals())
            rtts = []
            for _ in range(args.actions):
                rtt = await page.evaluate(ACTION_JS)
                if rtt >= 0:
                    rtts.append(rtt)
            stop.set()
            arrived = await feeder
            pings = await page.evaluate(PING_JS, args.actions)
        finally:
            await browser.close()
    result: dict[str, Any] = {
        "bench": "console", "pending": args.pending, "actions": len(rtts),
        "arrived_during_actions": arrived,
        "first_load_ms": round(first_ms, 1),
        "list_render_ms": round(statistics.median(renders), 1),
        "list_render_max_ms": round(max(renders), 1),
        "action_rtt_p50_ms": round(statistics.median(rtts), 1),
        "action_rtt_p95_ms": round(p95(rtts), 1),
        "floor_ping_rtt_p95_ms": round(p95(pings), 1),
        "targets": TARGETS,
    }
    result["pass"] = {name: result[name] <= target for name, target in TARGETS.items()}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pending", type=int, default=2000)
    parser.add_argument("--actions", type=int, default=60)
    parser.add_argument("--renders", type=int, default=7)
    parser.add_argument("--arrival-rate", type=float, default=10.0, help="questions per second")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
