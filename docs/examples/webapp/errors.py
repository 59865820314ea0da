"""The library's exceptions as HTTP answers: 404 missing, 409 conflict, 422 bad input.

Every refusal of fractal_core derives from `FractalCoreError` and names the
objects and values at fault in its message; the backend only chooses the
status code and passes the message on as `detail` (with the exception's class
name as `error`, so a client can branch on it).
"""

from __future__ import annotations

import logging

import pydantic
from fastapi import FastAPI
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from fractal_core.collection import OngoingActivityError
from fractal_core.collection import TaskGroupPathExists
from fractal_core.errors import FractalCoreError
from fractal_core.images.errors import DuplicateImageError
from fractal_core.images.errors import ImageNotFoundError
from fractal_core.repository.base import ConflictError
from fractal_core.repository.base import NotFoundError
from fractal_core.services import ActiveJobError
from fractal_core.services import JobNotRunningError
from fractal_core.services import MultipleRunningJobsError
from fractal_core.services import NameConflictError
from fractal_core.services import WrongParentError
from fractal_core.services import ZarrDirFrozenError

logger = logging.getLogger(__name__)

NOT_FOUND: tuple[type[Exception], ...] = (
    NotFoundError,
    WrongParentError,  # it exists, but not at this URL
    ImageNotFoundError,
)
CONFLICT: tuple[type[Exception], ...] = (
    ActiveJobError,  # DatasetBusyError included
    ConflictError,
    DuplicateImageError,
    JobNotRunningError,
    MultipleRunningJobsError,
    NameConflictError,
    OngoingActivityError,
    TaskGroupPathExists,
    ZarrDirFrozenError,
)


def status_for(error: Exception) -> int:
    """The HTTP status of a library refusal: 404, 409, or 422 for the rest."""
    if isinstance(error, NOT_FOUND):
        return 404
    if isinstance(error, CONFLICT):
        return 409
    return 422


def _detail(error: Exception) -> str:
    """The refusal's own message (a KeyError's str() would add quotes)."""
    return (
        str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    )


async def _library_error(request: Request, error: Exception) -> JSONResponse:
    """Answer a library refusal with its status and message."""
    status = status_for(error)
    logger.info("%s %s -> %s %s", request.method, request.url.path, status, error)
    body = {"error": type(error).__name__, "detail": _detail(error)}
    return JSONResponse(status_code=status, content=body)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    """The request's shape or a model of the library refused the input: 422
    with pydantic's list of errors (location, message, input)."""
    if isinstance(error, RequestValidationError):
        errors = list(error.errors())
    else:
        assert isinstance(error, pydantic.ValidationError)
        errors = error.errors(include_url=False, include_context=False)
    body = {"error": "ValidationError", "detail": jsonable_encoder(errors)}
    return JSONResponse(status_code=422, content=body)


def install_error_handlers(app: FastAPI) -> None:
    """Map `FractalCoreError` and validation errors on `app`, one answer shape:
    `{"error": <class name>, "detail": <message or list of errors>}`."""
    app.add_exception_handler(FractalCoreError, _library_error)
    app.add_exception_handler(pydantic.ValidationError, _validation_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
