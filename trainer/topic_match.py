"""Own-prompt match: is an answer about its own prompt, or about anything?

The primary figure (normalised Levenshtein similarity to users' corrections) rewards an answer of
the users' length and style whatever it says: where users lengthen answers, another prompt's
correction or length-matched filler is "closer" than the base's short, on-topic answer. This
figure asks what similarity cannot: on each held-out prompt, is the answer nearer in words to
what users wanted *there* than to what they wanted on other prompts?

Nearness is the cosine of binary TF-IDF word vectors fitted on the held-out prompts' corrections
(scikit-learn's ``TfidfVectorizer``): words every correction uses count for little, words no
correction uses not at all. Other prompts whose users wanted nearly the same words (rewordings of
one task) are no contrast: answering them alike is right. Ties count half, so an answer sharing
nothing with any prompt (empty, filler) scores 0.5, chance; an answer about its own prompt near 1.
"""

from __future__ import annotations

from collections.abc import Sequence

# Other prompts each answer is held against (the next ones in order): bounds the cost.
CONTRASTS = 32
# Cosine of two prompts' corrections at or above which their users wanted the same answer.
SAME_WANT = 0.8


def own_prompt_match(answers: Sequence[str], wanted: Sequence[str]) -> list[float | None]:
    """Per prompt: the share of its contrast prompts the answer is farther from (in words) than its own.

    ``answers[i]`` answers the prompt whose users wanted ``wanted[i]``. None where a prompt has no
    contrast (every other prompt wanted the same answer, or there is no other prompt).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(answers) != len(wanted):
        raise ValueError("one answer per prompt")
    if len(wanted) < 2:
        return [None] * len(wanted)
    vectorizer = TfidfVectorizer(binary=True)
    try:
        targets = vectorizer.fit_transform(wanted)
    except ValueError:  # no word in any correction: nothing to tell prompts apart by
        return [None] * len(wanted)
    between = (targets @ targets.T).toarray()  # rows are L2-normalised: products are cosines
    nearness = (vectorizer.transform(answers) @ targets.T).toarray()
    count = len(wanted)
    matches: list[float | None] = []
    for index in range(count):
        others = [
            other for other in ((index + step) % count for step in range(1, count)) if between[index, other] < SAME_WANT
        ][:CONTRASTS]
        if not others:
            matches.append(None)
            continue
        own = nearness[index, index]
        score = sum(1.0 if own > there else 0.5 if own == there else 0.0 for there in nearness[index, others])
        matches.append(float(score) / len(others))
    return matches
