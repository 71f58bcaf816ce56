"""Engine configs arrive as Kubernetes string maps (Engine.spec.config, ConfigMap data): non-text fields are
read as JSON, text fields stay text, and a bad value is refused naming its field."""

from __future__ import annotations

import pytest

from neuroedge_runtime.engines import base, conversation, predictive


def test_string_values_of_structured_fields_are_decoded_as_json() -> None:
    config = base.parse_config(
        conversation.Config,
        {
            "documents": '[{"id": "reset", "text": "Open Settings to reset your password."}]',
            "max_history": "20",
            "min_score": "0.25",
            "greeting": "[not json, just text]",
        },
    )
    assert config.documents[0].id == "reset"
    assert config.max_history == 20
    assert config.min_score == 0.25
    assert config.greeting == "[not json, just text]"


def test_native_values_pass_through_unchanged() -> None:
    native = {"documents": [{"id": "a", "text": "Alpha text."}], "max_history": 4}
    assert base.parse_config(conversation.Config, native).max_history == 4


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"documents": "[{not json"}, "documents"),
        ({"documents": '[{"id": "a", "text": "t"}]', "max_history": "lots"}, "max_history"),
        ({"documents": '[{"id": "a", "text": "t"}]', "SYSTEM_PROMPT": "hi"}, "SYSTEM_PROMPT"),
    ],
)
def test_bad_values_and_unknown_keys_are_refused_naming_the_field(config: dict[str, str], field: str) -> None:
    with pytest.raises(base.EngineInputError) as raised:
        base.parse_config(conversation.Config, config)
    assert any(field in error["loc"] for error in raised.value.errors), raised.value.errors


def test_predictive_weights_from_a_string_map() -> None:
    fields = predictive.Config.model_fields
    assert "weights" in fields, list(fields)
    parsed = base.parse_config(predictive.Config, {"weights": '{"x": 2.0}', "bias": "0.5"})
    assert parsed.weights == {"x": 2.0}
