"""tap.FileTap: what one recording tap wrote, read by each e2e worker as the file grows."""

from __future__ import annotations

import json

from tap import FileTap


def test_a_file_tap_reads_whole_lines_as_they_come(tmp_path):
    path = tmp_path / "tap.jsonl"
    first = {"body": {"order_id": "o-1", "type": "OrderPlaced"}, "violations": []}
    second = {"body": {"order_id": "o-1", "type": "InventoryReserved"}, "violations": ["bad field"]}
    path.write_text(json.dumps(first) + "\n" + json.dumps(second)[:10])  # the second still being written
    tap = FileTap(path)
    assert [e["type"] for e in tap.events("o-1")] == ["OrderPlaced"]
    assert tap.contract_violations() == []
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    assert tap.events("o-1", "InventoryReserved") == [second["body"]]
    assert tap.events("o-2") == []
    assert tap.contract_violations() == ["bad field"]
