"""docs/api.md's agent loop, run as written: every shell block of the loop, in order, in one bash session,
against a live server. A request the page shows as succeeding must answer 2xx; the one it shows refused (a
block followed by an error body) must answer 4xx; a command whose output is piped (grep) must find it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from apps.agents.services import agent_create
from tests.factories import ExchangeFactory, StrategyFactory

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"
SETUP_MARKERS = ("make run", "create_agent")  # the terminal set-up; the test provides the server and token

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]


def loop_blocks() -> list[tuple[str, bool]]:
    """The loop's sh blocks, each with whether the page shows it refused (an error body right after it)."""
    text = DOC.read_text()
    loop = text[
        text.index("## An agent's whole loop") : text.index(
            "\n## ", text.index("## An agent's whole loop") + 3
        )
    ]
    fences = list(re.finditer(r"```(\w+)\n(.*?)```", loop, re.S))
    blocks = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "sh" or any(marker in fence.group(2) for marker in SETUP_MARKERS):
            continue
        following = fences[index + 1] if index + 1 < len(fences) else None
        refused = bool(
            following
            and following.group(1) == "json"
            and '"code"' in following.group(2)
            and loop[fence.end() : following.start()].strip() == ""
        )
        blocks.append((fence.group(2), refused))
    return blocks


def test_the_loop_has_its_steps():
    blocks = loop_blocks()
    assert len(blocks) >= 10
    assert sum(refused for _, refused in blocks) == 1
    assert any("idempotent-replayed" in block.lower() for block, _ in blocks)


def test_the_agent_loop_runs_as_written(live_server, tmp_path):
    ExchangeFactory(name="binance")
    StrategyFactory(name="rsi_mean_reversion", is_active=True)
    token = agent_create(name="docs-loop").token
    blocks = loop_blocks()
    # Every curl prints its status on stderr, after a marker naming its block.
    script = [
        "set -euo pipefail",
        "curl() { command curl --show-error -w '%{stderr}HTTP %{http_code}\\n' \"$@\"; }",
    ]
    for number, (block, _) in enumerate(blocks):
        script += [f"echo 'BLOCK {number}' >&2", block]
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "TOKEN": token,
            "BASE": live_server.url,
            "API": f"{live_server.url}/api/v1",
            "RUN": "1767225",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, f"stopped at: {result.stderr[-2000:]}\n{result.stdout[-2000:]}"
    statuses: dict[int, list[int]] = {}
    current = -1
    for line in result.stderr.splitlines():
        if line.startswith("BLOCK "):
            current = int(line.split()[1])
            statuses[current] = []
        elif line.startswith("HTTP "):
            statuses[current].append(int(line.split()[1]))
    assert sorted(statuses) == list(range(len(blocks)))
    for number, (block, refused) in enumerate(blocks):
        codes = statuses[number]
        assert codes, f"block {number} made no request:\n{block}"
        if refused:
            assert all(400 <= code < 500 for code in codes), (codes, block)
        else:
            assert all(200 <= code < 300 for code in codes), (codes, block)
    assert "Idempotent-Replayed: true" in result.stdout
