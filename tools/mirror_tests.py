"""Move the tests into a tree that mirrors the packages (issue 9, item 7); running it again does nothing.

Before: ``tests/unit/`` and ``tests/integration/``. After: ``tests/<package>/`` for each top-level
folder of the product (``flywheel`` for the root modules: CLI, settings, demo, ...), with
"integration" a marker (``pytest.mark.integration``) instead of a folder, and the helper modules
that lived next to the tests in ``tests/support/``. ``tests/conftest.py``, ``tests/support/``,
``tests/data/`` and ``tests/packaging/`` stay where they are (the packaging tests get a
``packaging`` marker so that ``-m "not integration and not packaging"`` selects the old unit set).

A test file goes where the module it mainly tests lives, read from its ``flywheel.*`` imports:
imports of set-up plumbing (settings, config sections, errors, the broker, Kafka and catalog
clients, the sample stream) and of the contracts (``schemas``) only count when the file imports
nothing else. The names imported per package are counted and the single largest wins; a tie, or
a file with no ``flywheel`` import, is an error unless ``OVERRIDES`` names the file. Every problem
(an unmapped file, two files for one path, a mention of an old path this script cannot rewrite)
is listed and nothing is changed.

Run from the repository root (with the project's venv: it runs ruff on the files it edits)::

    python tools/mirror_tests.py            # print the mapping, then move and rewrite
    python tools/mirror_tests.py --dry-run  # print the mapping and every check, change nothing

It moves with ``git mv`` and stages everything; committing is left to you.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("flows", "operators", "schemas", "infra", "trainer", "gateway", "benchmarks", "review", "serving")
ROOT_PACKAGE = "flywheel"
OLD_DIRS = ("unit", "integration")
KEPT_DIRS = ("support", "data", "packaging")
SETUP_MODULES = ("settings", "config", "errors", "sample", "infra.broker", "infra.kafka", "infra.catalog")
CONTRACT_PACKAGES = ("schemas",)

# Files whose imports do not name the module under test (or name two equally); reason after each.
OVERRIDES = {
    "test_group_offsets.py": "flows",  # the flow commits consumer-group offsets (flows/group_offsets.py)
    "test_flow_backbone.py": "flows",  # the flow end to end; imports the DLQ operator to read its rows
    "test_gateway_flow.py": "gateway",  # gateway -> flow -> the gateway's candidates route
    "test_prometheus.py": "infra",  # a real Prometheus on infra/prometheus' scrape config and rules
    "test_curation_config.py": "operators",  # CurationSettings (operators/config.py)
    "test_curation_hygiene.py": "flows",  # through the curation dataflow (tests.support.curation_flow)
    "test_curation_flow_turns.py": "flows",  # branch turns: earlier turns through the flow to the chat prompt
    "test_docs_match_code.py": ROOT_PACKAGE,  # the README and docs/ against every app's routes and metrics
    "test_k8s_serving_review.py": "infra",  # infra/k8s manifests
    "test_observability_rules.py": "infra",  # infra/prometheus rules, scrape config, dashboard
    "test_serving_cli.py": ROOT_PACKAGE,  # flywheel/serving_cli.py (`flywheel model`, `flywheel impact`)
}

# Edits no path mapping can make: (file, old text, new text), applied once, where the old text is.
TEXT_EDITS = (
    (
        "Makefile",
        "$(BIN)/python -m pytest tests/unit\n",
        '$(BIN)/python -m pytest -m "not integration and not packaging"\n',
    ),
    (
        "pyproject.toml",
        '  "integration: needs the local broker and catalog (started by fixtures)",\n',
        '  "integration: needs real services or assets: the local broker and catalog (started by fixtures),'
        ' a browser, model weights",\n'
        '  "packaging: builds the wheel (tests/packaging)",\n',
    ),
    (  # the unit tests of the review path, spread over three packages now
        "README.md",
        "`tests/unit/test_review_*.py` (",
        "`tests/review/test_review_*.py`, `tests/operators/test_review_operators.py`,\n"
        "`tests/flows/test_review_curation_flow.py` (",
    ),
    (
        "README.md",
        "catalog per test; no mocks of Kafka or Iceberg.\n",
        "catalog per test; no mocks of Kafka or Iceberg. The tests mirror the packages: `tests/<package>/`\n"
        "holds the tests of `<package>/` (`tests/flywheel/` those of the root modules: CLI, demo, logs),\n"
        "`tests/support/` the shared helpers, `tests/data/` the labelled curation set. A test that needs\n"
        "the broker and catalog, a browser or model weights is marked `integration`, the wheel's tests\n"
        '`packaging`; `make test-unit` runs `pytest -m "not integration and not packaging"`.\n',
    ),
)

OLD_FILE_MENTION = re.compile(r"tests/(?:unit|integration)/(\w+\.py)")
OLD_MODULE_MENTION = re.compile(r"tests\.(?:unit|integration)\.(\w+)")
ANY_OLD_MENTION = re.compile(r"tests[/.](?:unit|integration)\b")


@dataclass
class Plan:
    moves: dict[Path, Path] = field(default_factory=dict)  # old -> new, test files and helpers
    reasons: dict[Path, str] = field(default_factory=dict)
    integration: set[Path] = field(default_factory=set)  # old paths that must carry the marker
    packaging: list[Path] = field(default_factory=list)
    texts: dict[Path, str] = field(default_factory=dict)  # tracked file -> rewritten text
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def imported_modules(tree: ast.Module) -> Counter[str]:
    """``flywheel`` submodules a file imports (anywhere in it), weighted by the names taken from each."""
    found: Counter[str] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != ROOT_PACKAGE:
                continue
            if len(parts) == 1:  # from flywheel import trainer
                for alias in node.names:
                    found[alias.name] += 1
            else:
                found[".".join(parts[1:])] += len(node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == ROOT_PACKAGE and len(parts) > 1:
                    found[".".join(parts[1:])] += 1
    return found


def package_of(module: str) -> str:
    head = module.split(".")[0]
    return head if head in PACKAGES else ROOT_PACKAGE


def tier_of(module: str) -> int:
    """0: what a test is about; 1: set-up plumbing; 2: contracts."""
    if package_of(module) in CONTRACT_PACKAGES:
        return 2
    if any(module == m or module.startswith(m + ".") for m in SETUP_MODULES):
        return 1
    return 0


def destination(path: Path, tree: ast.Module) -> tuple[str | None, str]:
    """The package a test file belongs to, and why (or None and why not)."""
    if path.name in OVERRIDES:
        return OVERRIDES[path.name], "override"
    modules = imported_modules(tree)
    for tier in (0, 1, 2):
        scores: Counter[str] = Counter()
        for module, count in modules.items():
            if tier_of(module) == tier:
                scores[package_of(module)] += count
        if not scores:
            continue
        ranked = scores.most_common()
        shown = ", ".join(f"{name} {count}" for name, count in ranked)
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None, f"imports tie ({shown}): add it to OVERRIDES"
        return ranked[0][0], f"imports: {shown}"
    return None, "no flywheel import: add it to OVERRIDES"


def has_mark(tree: ast.Module, mark: str) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            return f"mark.{mark}" in ast.unparse(node.value)
    return False


def tracked_files(root: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True, text=True).stdout
    return [Path(p) for p in dict.fromkeys(out.split("\0")) if p]  # a conflicted file is listed per stage


def parsed(source: str, path: Path, result: Plan) -> ast.Module | None:
    """The module's syntax tree, or None with an error noted (say, merge conflict markers left in it)."""
    try:
        return ast.parse(source, str(path))
    except SyntaxError as error:
        result.errors.append(f"{path}:{error.lineno}: does not parse ({error.msg}): fix it first")
        return None


def plan(root: Path) -> Plan:
    result = Plan()
    tests = root / "tests"
    for old in OLD_DIRS:
        folder = tests / old
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(root)
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            if path.parent != folder or path.suffix != ".py":
                result.errors.append(f"{rel}: not a module directly in {folder.relative_to(root)}: move it by hand")
                continue
            source = path.read_text()
            tree = parsed(source, rel, result)
            if tree is None:
                continue
            if path.name == "__init__.py":
                if source.strip():
                    result.errors.append(f"{rel}: not empty: move its contents by hand")
                continue
            if path.name == "conftest.py":
                result.errors.append(
                    f"{rel}: move its fixtures by hand to tests/conftest.py (same names and scopes; hooks and"
                    " autouse fixtures there would reach every test), then run again"
                )
                continue
            if not path.name.startswith("test_"):  # a helper module: shared support now
                result.moves[rel] = Path("tests", "support", path.name)
                result.reasons[rel] = "helper"
                continue
            package, reason = destination(path, tree)
            result.reasons[rel] = reason
            if package is None:
                result.errors.append(f"{rel}: unmapped, {reason}")
                continue
            result.moves[rel] = Path("tests", package, path.name)
            if old == "integration" and not has_mark(tree, "integration"):
                result.integration.add(rel)
            if old == "unit" and "mark.integration" in source:
                result.errors.append(f"{rel}: a unit test marked integration would leave the unit selection")
    for path in sorted((tests / "packaging").glob("test_*.py")):
        tree = parsed(path.read_text(), path.relative_to(root), result)
        if tree is not None and not has_mark(tree, "packaging"):
            result.packaging.append(path.relative_to(root))

    targets = Counter(result.moves.values())
    for old_path, new_path in result.moves.items():
        if targets[new_path] > 1 or (root / new_path).exists():
            result.errors.append(f"{old_path} -> {new_path}: that path is taken")
    known = {p.name: n for p, n in result.moves.items()}
    for path in tracked_files(root):
        full = root / path
        if path == Path("tools/mirror_tests.py") or not full.is_file():
            continue
        try:
            text = full.read_text()
        except UnicodeDecodeError:
            continue
        new = text
        for file, old_text, new_text in TEXT_EDITS:
            if path == Path(file) and new_text not in new:
                new = new.replace(old_text, new_text)
        new = OLD_FILE_MENTION.sub(lambda m: str(known[m[1]]) if m[1] in known else m[0], new)
        new = OLD_MODULE_MENTION.sub(
            lambda m: ".".join(known[m[1] + ".py"].with_suffix("").parts) if m[1] + ".py" in known else m[0], new
        )
        for number, line in enumerate(new.splitlines(), 1):
            if ANY_OLD_MENTION.search(line):
                result.errors.append(f"{path}:{number}: an old test path this script cannot rewrite: {line.strip()}")
        if new != text:
            result.texts[path] = new

    # Files already in a package folder (say, placed there by a merge's directory-rename guess).
    for folder in sorted(p for p in tests.iterdir() if p.is_dir() and p.name in (*PACKAGES, ROOT_PACKAGE)):
        for path in sorted(folder.glob("test_*.py")):
            tree = parsed(path.read_text(), path.relative_to(root), result)
            package = None if tree is None else destination(path, tree)[0]
            if package is not None and package != folder.name:
                result.warnings.append(f"{path.relative_to(root)}: its imports point to tests/{package}/")
    return result


def add_mark(source: str, mark: str) -> str:
    """``source`` with ``pytest.mark.<mark>`` first in its module ``pytestmark`` (added if missing)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    text = f"pytest.mark.{mark}"
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            value = node.value
            line = lines[value.lineno - 1]
            if isinstance(value, ast.List):
                lines[value.lineno - 1] = line[: value.col_offset + 1] + f"{text}, " + line[value.col_offset + 1 :]
            elif value.lineno == value.end_lineno and not isinstance(value, ast.Tuple):
                segment = line[value.col_offset : value.end_col_offset]
                lines[value.lineno - 1] = (
                    line[: value.col_offset] + f"[{text}, {segment}]" + line[value.end_col_offset :]
                )
            else:
                raise SystemExit(f"cannot add {text} to this pytestmark by itself: {ast.unparse(node)}")
            return "".join(lines)
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    after = imports[-1].end_lineno if imports else 0
    assert after is not None
    has_pytest = any(isinstance(n, ast.Import) and any(a.name == "pytest" for a in n.names) for n in imports)
    block = ([] if has_pytest else ["import pytest\n"]) + [f"\npytestmark = {text}\n"]
    return "".join([*lines[:after], *block, *lines[after:]])


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True)


def apply(root: Path, work: Plan) -> list[Path]:
    """Move, rewrite and mark; returns the Python files it edited (for ruff)."""
    for folder in sorted({new.parent for new in work.moves.values()}):
        init = root / folder / "__init__.py"
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text("")
            git(root, "add", str(init.relative_to(root)))
    for old, new in work.moves.items():
        git(root, "mv", str(old), str(new))
    edited: list[Path] = []
    for path, text in work.texts.items():
        target = work.moves.get(path, path)
        (root / target).write_text(text)
        edited.append(target)
    for path in sorted(work.integration):
        target = root / work.moves[path]
        target.write_text(add_mark(target.read_text(), "integration"))
        edited.append(work.moves[path])
    for path in work.packaging:
        (root / path).write_text(add_mark((root / path).read_text(), "packaging"))
        edited.append(path)
    for old_dir in OLD_DIRS:
        folder = root / "tests" / old_dir
        if (folder / "__init__.py").exists():
            git(root, "rm", "--quiet", str((folder / "__init__.py").relative_to(root)))
        if folder.is_dir():
            for cache in folder.rglob("__pycache__"):
                for compiled in cache.iterdir():
                    compiled.unlink()
                cache.rmdir()
            folder.rmdir()  # fails, loudly, if anything untracked is left there
    python = sorted({str(p) for p in edited if p.suffix == ".py"})
    if python:
        subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--fix", "--select", "I", *python], cwd=root)
        subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", *python], cwd=root, check=True)
    git(root, "add", "--all", "--", *sorted({str(p) for p in edited}))
    return edited


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the mapping and checks, change nothing")
    args = parser.parse_args()
    root = Path.cwd()
    if not (root / "tests" / "conftest.py").is_file() or not (root / ".git").exists():
        print("run from the repository root", file=sys.stderr)
        return 2
    work = plan(root)
    for old, new in sorted(work.moves.items(), key=lambda item: (str(item[1]), str(item[0]))):
        marked = "  (+ integration marker)" if old in work.integration else ""
        print(f"{old!s:52} -> {new!s:52} {work.reasons[old]}{marked}")
    for path in work.packaging:
        print(f"{path!s:52}    (+ packaging marker)")
    for path in sorted(set(work.texts) - set(work.moves)):
        print(f"{path!s:52}    (old test paths or test config rewritten)")
    for warning in work.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if work.errors:
        print(f"\n{len(work.errors)} problem(s); nothing was changed:", file=sys.stderr)
        for error in work.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    if not (work.moves or work.texts or work.packaging):
        print("the test tree already mirrors the packages: nothing to do")
        return 0
    if args.dry_run:
        return 0
    apply(root, work)
    print(f"moved {len(work.moves)} file(s); review with `git status`, then commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
