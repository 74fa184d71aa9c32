"""Which version produced an answer whose reaction did not say: read from the answer's other reactions.

A client that sends feedback without ``model_version`` gets the gateway's default, ``unknown``, and
the impact figures cannot put that reaction on any version. The answer's ``request_id`` (the model
server's ``X-Request-Id``, in the body and header of every completion, with the version that
produced it) names the answer; where another stored reaction to the same ``request_id`` carries a
version, that is the version that produced the answer, and the unknown reaction is put on it.

Where the reactions to one ``request_id`` name two versions, the answer's version is in doubt
(a client reused a request id, or misreported a version): its unknown reactions stay ``unknown``.
Nothing stores which version answered a ``request_id`` on its own (the server's answer goes only
to its client; views are counted by the flow, not stored): a reaction without a version and
without a sibling that has one stays ``unknown``, shown in the impact table and counted in
``flywheel_impact_unattributed_interactions``, never compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # impact imports this module: a runtime import back would be a cycle
    from flywheel.serving.impact import Reaction

# The version the gateway records when a client sends none.
UNKNOWN = "unknown"


def attribute_by_request(reactions: Sequence[Reaction]) -> list[Reaction]:
    """``reactions``, each ``unknown`` one put on the one version its answer's other reactions name.

    An attributed reaction has ``attributed`` set, so the figures can say how many were.
    """
    named: dict[str, set[str]] = {}
    for reaction in reactions:
        if reaction.request_id and reaction.model_version != UNKNOWN:
            named.setdefault(reaction.request_id, set()).add(reaction.model_version)
    attributed = []
    for reaction in reactions:
        versions = named.get(reaction.request_id, set()) if reaction.model_version == UNKNOWN else set()
        if len(versions) == 1:
            (version,) = versions
            reaction = replace(reaction, model_version=version, attributed=True)
        attributed.append(reaction)
    return attributed
