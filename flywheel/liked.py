"""Answers the coding assistant's users liked as they were: positives that no DPO pair holds.

The users' habit (:func:`flywheel.sample.keep_code_only`) keeps the code block of an answer and
deletes the rest; an answer with no code block is left as it is. So the questions they ask about
ideas rather than code ("What does a Python generator do?") get prose answers they read and
thumb up, and never edit: no pair, trained on or held out, comes from them or holds their answers.

Their likelihood is what the forgetting guard must watch. Every other positive of the demo is an
answer the run trained on or against (a thumbed-up general answer that other users edited; a bare
code block that is another phrasing's correction): DPO pushes those on purpose, and they cannot
say whether training on "delete the prose" made the model forget the prose users liked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from flywheel.sample import logged_asks
from flywheel.schemas.events import InteractionEvent, Signal, encode_event

# (question, the answer users liked): prose, no code block, so the habit leaves it unedited.
CONCEPTS = [
    ("What does a Python generator do?",
     "A generator produces its values one at a time, only when they are asked for, so a long sequence never has to "
     "fit in memory at once."),
    ("What is the difference between a list and a tuple in Python?",
     "A list can be changed after it is made; a tuple cannot. Use a tuple for a fixed group of values and a list "
     "for a collection that grows or shrinks."),
    ("Why are Python strings immutable?",
     "Immutable strings can be shared and used as dictionary keys safely, because no part of the program can change "
     "them behind another part's back."),
    ("What is a Python virtual environment for?",
     "A virtual environment keeps one project's installed packages apart from another's, so each project can pin "
     "the versions it needs."),
    ("When should I use a set instead of a list?",
     "Use a set when you only care whether an item is present: membership checks are fast and duplicates are "
     "dropped. Use a list when order or repeats matter."),
    ("What does the GIL mean for Python threads?",
     "The global interpreter lock lets one thread run Python code at a time, so threads help with waiting on input "
     "and output but not with heavy computation."),
    ("What is a decorator in Python?",
     "A decorator is a function that takes another function and returns a changed version of it, for example one "
     "that logs each call or caches its results."),
    ("Why does Python have both is and ==?",
     "The == operator asks whether two values are equal; is asks whether they are the very same object. Compare "
     "with None using is, and everything else with ==."),
    ("What is duck typing?",
     "Duck typing means code cares about what an object can do, not what class it is: if it has the methods you "
     "call, it works."),
    ("What does a hash table give you?",
     "A hash table finds a value by its key in about the same time however many entries it holds, which is why "
     "Python dictionaries are fast."),
    ("Why write unit tests?",
     "Unit tests check small pieces of code on their own, so a change that breaks something is caught at once and "
     "you can see exactly which piece broke."),
    ("What is recursion?",
     "Recursion is a function solving a problem by calling itself on a smaller part of it, until it reaches a case "
     "small enough to answer directly."),
    ("What does big O notation describe?",
     "Big O notation describes how the work an algorithm does grows as its input grows, ignoring constant factors: "
     "doubling the input doubles linear work and quadruples quadratic work."),
    ("What is the difference between a process and a thread?",
     "A process has its own memory; threads inside one process share it. Threads are cheaper to start but need care "
     "when they change the same data."),
    ("Why are mutable default arguments a problem in Python?",
     "A default value is created once, when the function is defined, so a list used as a default is shared by every "
     "call and keeps what earlier calls put in it."),
    ("What is a context manager?",
     "A context manager sets something up when a with block starts and always cleans it up when the block ends, "
     "even after an error, such as closing a file."),
    ("What does pip do?",
     "pip installs Python packages from the package index, together with the packages they depend on, into the "
     "environment you run it in."),
    ("What is a Python module?",
     "A module is a single Python file whose functions and classes other code can import; a package is a folder of "
     "modules."),
    ("Why use type hints in Python?",
     "Type hints document what a function expects and returns, and let a checker find mistakes before the code "
     "runs. Python itself does not enforce them."),
    ("What is an exception?",
     "An exception is how Python reports an error while a program runs: it stops the current code and travels up "
     "until a matching except block handles it."),
    ("What does it mean that Python is interpreted?",
     "Python source is compiled to bytecode that an interpreter runs step by step, rather than to machine code ahead "
     "of time, which makes it quick to try things but slower to run."),
    ("What is garbage collection?",
     "Garbage collection frees memory that no part of the program can reach any more, so you do not have to release "
     "objects yourself."),
    ("What is the difference between a shallow and a deep copy?",
     "A shallow copy makes a new outer container that still holds the same inner objects; a deep copy also copies "
     "everything inside, so changes to one never show in the other."),
    ("What is a lambda in Python?",
     "A lambda is a small function without a name, written in one expression, often passed to sorted or map as a "
     "key or a rule."),
]  # fmt: skip


def liked_events(count: int, seed: int = 13, thumbs_up_share: float = 0.6) -> Iterator[tuple[str, bytes]]:
    """The coding assistant's logged questions about ideas: each answer thumbed up, or just read (a view).

    Deterministic: the questions are dealt round-robin over a seeded shuffle, so each is asked a
    similar number of times by different users; ``thumbs_up_share`` of the reactions are thumbs up
    (the simulated users' own share, :class:`flywheel.simulation.Behaviour`), the rest views.
    """
    start = datetime(2026, 11, 3, tzinfo=UTC)
    for thread_id, _answer, common, rng in logged_asks(CONCEPTS, count, "liked", seed, start):
        signal = Signal.THUMBS_UP if rng.random() < thumbs_up_share else Signal.VIEW
        yield thread_id, encode_event(InteractionEvent(signal=signal, **common))
