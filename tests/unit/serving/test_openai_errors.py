"""Every problem under /v1/ becomes OpenAI's error shape; validation errors are 400s naming the parameter."""

from __future__ import annotations

import json

from neuroedge_runtime import problems
from neuroedge_runtime.serving import openai_errors


def _error(problem: problems.Problem) -> tuple[int, dict[str, object], dict[str, str]]:
    response = openai_errors.from_problem(problem)
    assert response.text is not None and response.content_type == "application/json"
    return response.status, json.loads(response.text)["error"], dict(response.headers)


def test_validation_problem_is_a_400_naming_the_field() -> None:
    status, error, _ = _error(
        problems.invalid(
            "bad", [{"loc": ["dimensions"], "msg": "Input should be greater than or equal to 1"}]
        )
    )
    assert status == 400
    assert error == {
        "message": "Input should be greater than or equal to 1 (dimensions)",
        "type": "invalid_request_error",
        "param": "dimensions",
        "code": "invalid-request",
    }


def test_rate_limit_keeps_its_headers() -> None:
    status, error, headers = _error(
        problems.Problem(429, "rate-limited", "Too many", "exhausted", headers={"Retry-After": "3"})
    )
    assert status == 429 and error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert headers["Retry-After"] == "3"


def test_unauthorized_and_unavailable() -> None:
    assert _error(problems.unauthorized())[1]["code"] == "invalid_api_key"
    status, error, _ = _error(problems.unavailable("down"))
    assert status == 503 and error["type"] == "api_error" and error["message"] == "down"


def test_openai_error_keeps_param_and_code() -> None:
    status, error, _ = _error(
        openai_errors.OpenAIError(404, "no such model", param="model", code="model_not_found")
    )
    assert status == 404
    assert error == {
        "message": "no such model",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


def test_error_response_shape() -> None:
    response = openai_errors.error_response(400, "m", "invalid_request_error")
    assert response.text is not None
    assert json.loads(response.text) == {
        "error": {"message": "m", "type": "invalid_request_error", "param": None, "code": None}
    }
