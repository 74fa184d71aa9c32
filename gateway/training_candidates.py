"""The read route: ``GET /v1/flywheel/training-candidates``, curated DPO pairs from Iceberg, paginated."""

# No `from __future__ import annotations`: route signatures refer to values of candidates_router's scope.

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError

from flywheel.errors import CatalogUnavailable
from flywheel.gateway.candidates import CandidateQuery, CandidateReader, InvalidCursor
from flywheel.gateway.config import GatewaySettings
from flywheel.gateway.failures import Failure, documented_errors
from flywheel.gateway.guard import guarded_router
from flywheel.gateway.models import CandidatePage, DateTime, ErrorBody


def candidates_router(gateway: GatewaySettings, reader: CandidateReader) -> APIRouter:
    """The guarded candidates route, reading through ``reader``."""
    router = guarded_router(gateway.api_key_header)

    @router.get(
        "/v1/flywheel/training-candidates",
        response_model=CandidatePage,
        responses={
            **documented_errors(401, 413, 422, 429),
            503: {"model": ErrorBody, "description": "Iceberg catalog (or shared replay cache) unavailable; retry."},
        },
        summary="Curated DPO pairs, oldest first, paginated by cursor",
    )
    def get_training_candidates(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=gateway.candidates_max_page_size)] = 100,
        segment: Annotated[str | None, Query()] = None,
        model_id: Annotated[str | None, Query()] = None,
        model_version: Annotated[str | None, Query()] = None,
        min_similarity: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
        since: Annotated[DateTime | None, Query(description="occurred_at >= since")] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> CandidatePage:
        _check_query(request)
        query = CandidateQuery(limit, segment, model_id, model_version, min_similarity, since, cursor)
        try:
            return reader.page(query)
        except InvalidCursor as exc:
            raise RequestValidationError(
                [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}]
            ) from exc
        except CatalogUnavailable as exc:
            raise Failure(503, str(exc), None) from exc

    return router


_CANDIDATE_PARAMS = {"limit", "segment", "model_id", "model_version", "min_similarity", "since", "cursor"}


def _check_query(request: Request) -> None:
    """Refuse unknown and repeated query parameters: a typo such as `segmnt=` must not widen a result."""
    errors: list[dict[str, Any]] = []
    for name in sorted(set(request.query_params)):
        if name not in _CANDIDATE_PARAMS:
            errors.append({"loc": ["query", name], "msg": "unknown parameter", "type": "extra_forbidden"})
        elif len(request.query_params.getlist(name)) > 1:
            errors.append({"loc": ["query", name], "msg": "parameter given more than once", "type": "repeated"})
    if errors:
        raise RequestValidationError(errors)
