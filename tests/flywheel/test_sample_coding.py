"""The demo's coding-assistant stream: deterministic, one habit, every prompt distinct, history apart from live."""

from __future__ import annotations

import ast

import orjson

from flywheel.revolutions import KEEP_CODE_ONLY, WheelOptions, revolution_prompts, wheel_users
from flywheel.sample import _TASKS, coding_events, coding_prompts, coding_task_prompts, keep_code_only


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
    assert len(prompts) == len(set(prompts)) == 6 * len(_TASKS)
    assert keep_code_only("no code here") == "no code here"


def _code(answer: str) -> str:
    return keep_code_only(answer).split("\n", 2)[1]  # the line after the fence: the function's def


def test_the_live_users_ask_questions_the_history_never_asked() -> None:
    history, live = coding_prompts("history"), coding_prompts("live")
    assert sorted(history + live) == sorted(coding_prompts())
    half = 6 * len(_TASKS) / 2
    assert 0.8 * half <= len(history) <= 1.2 * half and 0.8 * half <= len(live) <= 1.2 * half  # halves, by task
    # Disjoint by task, not only by wording: no live question's code is in the history either.
    assert not {p for p, _ in history} & {p for p, _ in live}
    assert not {_code(a) for _, a in history} & {_code(a) for _, a in live}
    assert coding_prompts("history") == history  # deterministic
    logged = {orjson.loads(value)["prompt"] for _, value in coding_events(600)}
    assert logged <= {p for p, _ in history} and len(logged) == len(history)  # every history prompt, only those
    asked = wheel_users(WheelOptions()).prompts
    assert len(asked) == len(live) and not set(asked) & logged
    # The users' habit applies to the live questions as it did to the history's.
    answers = dict(live)
    assert all(KEEP_CODE_ONLY.correct(prompt, answers[prompt]) for prompt in asked)


def test_each_revolution_asks_coding_tasks_no_earlier_one_asked() -> None:
    # make run measures a run on questions it never trained on: each revolution its own tasks,
    # every phrasing of a task in one revolution (a rewording of a trained question is not new).
    options = WheelOptions()
    asked = revolution_prompts(options)
    tasks = coding_task_prompts("live")
    assert len(asked) == options.revolutions + 1
    task_of = {prompt: index for index, phrasings in enumerate(tasks) for prompt in phrasings}
    owners = [{task_of[prompt] for prompt in questions} for questions in asked]
    assert all(not a & b for i, a in enumerate(owners) for b in owners[i + 1 :])
    assert all(
        set(tasks[task]) <= set(questions) for questions, mine in zip(asked, owners, strict=True) for task in mine
    )
    assert len(owners[0]) == (len(tasks) + 1) // 2 and all(owners[1:])
    questions_per_revolution = options.users * options.prompts_per_user
    assert all(len(questions) >= questions_per_revolution for questions in asked)  # no user asks twice
    same = revolution_prompts(WheelOptions(fresh_questions=False))
    assert same[0] == same[-1] == tuple(prompt for phrasings in tasks for prompt in phrasings)


def test_many_distinct_tasks_each_asked_in_six_phrasings() -> None:
    # Many independent tasks (the held-out groups), few phrasings each; every task's code is a real,
    # distinct, one-function answer.
    assert len(_TASKS) >= 100
    codes = [code for _, _, code, _ in _TASKS]
    assert len(set(codes)) == len(codes)
    assert len({does for does, *_ in _TASKS}) == len({do for _, do, *_ in _TASKS}) == len(_TASKS)
    names = []
    for code in codes:
        compile(code, "<task>", "exec")
        functions = [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.FunctionDef)]
        assert len(functions) == 1 and functions[0].name in code
        names.append(functions[0].name)
    assert len(set(names)) == len(names)
    tasks = coding_task_prompts()
    assert len(tasks) == len(_TASKS) and all(len(phrasings) == len(set(phrasings)) == 6 for phrasings in tasks)
    assert [prompt for phrasings in tasks for prompt in phrasings] == [prompt for prompt, _ in coding_prompts()]
    history, live = coding_task_prompts("history"), coding_task_prompts("live")
    assert len(history) + len(live) == len(_TASKS) and abs(len(history) - len(live)) <= 1
    assert not {p for t in history for p in t} & {p for t in live for p in t}
    assert sorted(history + live) == sorted(tasks)
