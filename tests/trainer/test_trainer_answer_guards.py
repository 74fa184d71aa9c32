"""Guards on what the candidate writes: structure lines are no repetition, refusals are no answers."""

from __future__ import annotations

from flywheel.trainer.generation import has_repeated_line
from tests.support.cards import plain_result


def _javascript(case: int) -> str:
    return (
        f"Here is the fix for case {case}:\n```js\nfunction f{case}(xs) {{\n  for (const x of xs) {{\n"
        f"    if (x > {case}) {{\n      return x;\n    }}\n  }}\n  return null;\n}}\n```"
    )


def _markdown(case: int) -> str:
    return f"Results for case {case}:\n\n| a | b |\n|---|---|\n| {case} | x |\n\n---\n\nMore:\n\n---\n\nEnd:\n\n---\n"


def test_braces_fences_and_rules_are_no_repeated_line() -> None:
    assert not has_repeated_line(_javascript(3)) and not has_repeated_line(_markdown(3))
    assert not has_repeated_line("```\na\n```\n```\nb\n```\n```\nc\n```")
    assert has_repeated_line("the the the\nthe the the\nthe the the")
    assert has_repeated_line("}\nreturn x;\n}\nreturn x;\n}\nreturn x;")  # a loop of code still is one


def test_a_candidate_writing_the_users_code_or_markdown_passes_the_repetition_guard() -> None:
    for write in (_javascript, _markdown):
        wanted = [write(case) for case in range(40)]
        result = plain_result([f"A plain answer {case}." for case in range(40)], wanted)
        assert result.after is not None and result.after.repeated_line_rate.value == 0.0
