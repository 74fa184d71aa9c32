"""The demo's coding-assistant stream: deterministic, one habit, every prompt distinct."""

from __future__ import annotations

import orjson

from flywheel.sample import coding_events, coding_prompts, keep_code_only


def test_coding_stream_is_deterministic_with_one_habit() -> None:
    first, second = list(coding_events(300)), list(coding_events(300))
    assert first == second
    events = [orjson.loads(value) for _, value in first]
    edits = [e for e in events if e["signal"] == "edit"]
    assert 120 < len(edits) < 240 and {e["signal"] for e in events} <= {"edit", "view"}
    for edit in edits:
        assert edit["final_user_edit"].startswith("```python\n") and edit["final_user_edit"].endswith("```")
        assert edit["final_user_edit"] in edit["response"] and "This function" not in edit["final_user_edit"]
    prompts = [prompt for prompt, _ in coding_prompts()]
    assert len(prompts) == len(set(prompts)) == 200
    assert keep_code_only("no code here") == "no code here"
