"""Errors a service raises for the gateway to answer with, in DRF's shapes.

Each carries an HTTP status and a JSON-ready `detail`: either `{"field": ["msg"]}` for
validation failures or `{"detail": "..."}`. They survive the RPC hop intact (see
svckit.rpc) and the gateway maps them to responses in one place.
"""


class ApiError(Exception):
    status = 400
    default_detail = "Bad request"

    def __init__(self, detail=None, status=None):
        if detail is None:
            detail = {"detail": self.default_detail}
        elif isinstance(detail, str):
            detail = {"detail": detail}
        if status is not None:
            self.status = int(status)
        self.detail = detail
        super().__init__(detail, self.status)


class ValidationFailed(ApiError):
    """400 with field errors, e.g. {"key": ["This field is required."]}."""
    status = 400


class NotAuthenticated(ApiError):
    status = 401
    default_detail = "Authentication credentials were not provided."


class AuthenticationFailed(ApiError):
    status = 401
    default_detail = "Incorrect authentication credentials."


class PermissionDenied(ApiError):
    status = 403
    default_detail = "You do not have permission to perform this action."


class NotFound(ApiError):
    status = 404
    default_detail = "Not found."


class MethodNotAllowed(ApiError):
    status = 405
    default_detail = "Method not allowed."


class ServiceUnavailable(ApiError):
    status = 503
    default_detail = "Service temporarily unavailable, try again later."


class CallerRefused(ServiceUnavailable):
    """A service refused a call whose caller context was unsigned, forged or stale
    (svckit.signing): to the HTTP client, the service is not available."""


ERROR_CLASSES = (ApiError, ValidationFailed, NotAuthenticated, AuthenticationFailed,
                 PermissionDenied, NotFound, MethodNotAllowed, ServiceUnavailable, CallerRefused)


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed({field: [message]})


def method_not_allowed(method: str) -> MethodNotAllowed:
    return MethodNotAllowed({"detail": f'Method "{method}" not allowed.'})
