"""Settings from the environment: defaults, one sentence per bad variable, no secrets shown."""

from __future__ import annotations

import pytest

from lib.core.errors import ConfigError
from lib.core.settings import LOCAL_ENDPOINT, Settings

HTTPS = "https://cbr.ap-southeast-1.myhuaweicloud.com"


def test_local_defaults_replay_the_sample_logs_into_a_local_lake() -> None:
    settings = Settings.from_env({})
    assert settings.cbr_endpoint == LOCAL_ENDPOINT
    assert settings.replay_dir == "events/operation-logs"
    assert settings.lake_uri == "./lake"
    assert (settings.fetch_concurrency, settings.http_timeout_s, settings.max_attempts) == (
        16,
        10.0,
        5,
    )
    assert settings.log_level == "INFO" and not settings.in_lambda


def test_values_are_read_and_typed() -> None:
    settings = Settings.from_env(
        {
            "CBR_ENDPOINT": HTTPS + "/",
            "CBR_PROJECT_ID": "p1",
            "CBR_AUTH_TOKEN": "tok",
            "LAKE_URI": "s3://bucket/prefix",
            "QUEUE_URL": "https://sqs.example/q",
            "FETCH_CONCURRENCY": "32",
            "HTTP_TIMEOUT_S": "2.5",
            "MAX_ATTEMPTS": "3",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.cbr_endpoint == HTTPS
    assert settings.project_id == "p1" and settings.auth_token == "tok"
    assert settings.lake_uri == "s3://bucket/prefix"
    assert (settings.fetch_concurrency, settings.http_timeout_s, settings.max_attempts) == (
        32,
        2.5,
        3,
    )
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"AWS_LAMBDA_FUNCTION_NAME": "f"}, "CBR_ENDPOINT"),
        ({"CBR_ENDPOINT": "ftp://x"}, "CBR_ENDPOINT"),
        ({"CBR_ENDPOINT": "http://cbr.example.com"}, "CBR_ENDPOINT"),  # plain HTTP off loopback
        ({"CBR_ENDPOINT": "file://"}, "CBR_ENDPOINT"),
        ({"CBR_ENDPOINT": HTTPS}, "CBR_ENDPOINT"),  # https needs credentials
        ({"FETCH_CONCURRENCY": "0"}, "FETCH_CONCURRENCY"),
        ({"FETCH_CONCURRENCY": "many"}, "FETCH_CONCURRENCY"),
        ({"HTTP_TIMEOUT_S": "-1"}, "HTTP_TIMEOUT_S"),
        ({"MAX_ATTEMPTS": "2.5"}, "MAX_ATTEMPTS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"CBR_PROJECT_ID": "../p"}, "CBR_PROJECT_ID"),
        ({"IAM_USERNAME": "u"}, "IAM_PASSWORD"),
        ({"IAM_ENDPOINT": "http://iam.example.com"}, "IAM_ENDPOINT"),
        ({"LAKE_URI": "gs://bucket/x"}, "LAKE_URI"),
        ({"LAKE_URI": "s3:///x"}, "LAKE_URI"),
        ({"LAKE_SSE": "rot13"}, "LAKE_SSE"),
        ({"DRAIN_BATCH_IDS": "1"}, "DRAIN_BATCH_IDS"),
        ({"IAM_ENDPOINT": "https://iam", "IAM_USERNAME": "u", "IAM_DOMAIN": "d"}, "IAM_PASSWORD"),
        ({"CBR_ACCESS_KEY": "ak"}, "CBR_SECRET_KEY"),
        ({"DISCOVER_START": "0999-12-31"}, "DISCOVER_START"),  # the API takes four-digit years
        ({"DISCOVER_START": "9999-01-01"}, "DISCOVER_START"),  # still to come: lists nothing
        ({"DISCOVER_START": "yesterday"}, "DISCOVER_START"),
        ({"CBR_AUTH_TOKEN": "t", "CBR_ACCESS_KEY": "a", "CBR_SECRET_KEY": "s"}, "CBR_AUTH_TOKEN"),
    ],
)
def test_a_bad_setting_is_one_sentence_naming_the_variable(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    message = str(raised.value)
    assert variable in message
    assert message.endswith(".") and "\n" not in message


def test_loopback_http_is_allowed_for_local_fakes() -> None:
    assert Settings.from_env({"CBR_ENDPOINT": "http://127.0.0.1:8080"}).cbr_endpoint.startswith(
        "http:"
    )


def test_secrets_never_show_in_repr() -> None:
    settings = Settings.from_env(
        {
            "CBR_ENDPOINT": HTTPS,
            "IAM_ENDPOINT": "https://iam.myhuaweicloud.com",
            "IAM_USERNAME": "auditor",
            "IAM_PASSWORD": "pa55-w0rd-SECRET",
            "IAM_DOMAIN": "acme",
        }
    )
    assert "pa55-w0rd-SECRET" not in repr(settings)
    assert "auditor" in repr(settings)
    token_settings = Settings.from_env({"CBR_ENDPOINT": HTTPS, "CBR_AUTH_TOKEN": "MIIsecret-token"})
    assert "MIIsecret-token" not in repr(token_settings)


def test_the_rate_cap_times_the_callers_must_fit_the_api_limit() -> None:
    settings = Settings.from_env({"CBR_MAX_RPS": "60", "CBR_CALLERS": "3"})
    assert settings.max_rps == 60.0
    with pytest.raises(ConfigError, match=r"CBR_MAX_RPS=80 times CBR_CALLERS=3 .* CBR_API_RPS=200"):
        Settings.from_env({"CBR_MAX_RPS": "80", "CBR_CALLERS": "3"})
    assert Settings.from_env(
        {"CBR_MAX_RPS": "80", "CBR_CALLERS": "3", "CBR_API_RPS": "500"}
    ).max_rps
    assert Settings.from_env({}).max_rps is None


def test_every_variable_refuses_surrounding_space_or_a_control_character() -> None:
    """Each variable the settings know is read (and checked) at cold start, used or not."""
    from lib.core.settings import variable_names

    for name in sorted(variable_names()):
        for bad in ("value\n", "value ", " value", "va\x00lue"):
            with pytest.raises(ConfigError, match=name):
                Settings.from_env({name: bad})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("QUEUE_URL", "tasks"),
        ("QUEUE_URL", "sqs.ap-southeast-1.amazonaws.com/123/tasks"),
        ("CBR_CREDENTIALS_SECRET_ID", "name with spaces"),
        ("SSE_KMS_KEY_ID", "key;drop"),
    ],
)
def test_free_text_settings_must_have_their_shape(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})


def test_the_redactor_replaces_every_spelling_of_a_secret() -> None:
    import json
    from urllib.parse import quote

    from lib.core.runtime import RedactingFilter

    secret = 'tök/en+\n"x'
    redactor = RedactingFilter([secret])
    spellings = {
        "raw": secret,
        "repr": repr(secret),
        "bytes-repr": repr(secret.encode()),
        "json": json.dumps(secret),
        "json-ascii": json.dumps(secret, ensure_ascii=True),
        "url": quote(secret, safe=""),
        "header": f"Invalid header value {secret.encode()!r}",
    }
    for name, text in spellings.items():
        assert "tök" not in redactor.redact(text) and "t\\xc3" not in redactor.redact(text), name


def test_inventory_types_are_a_list_of_known_types_and_keep_days_bounded() -> None:
    assert Settings.from_env({}).inventory_types == ("server", "disk", "turbo")
    chosen = Settings.from_env({"INVENTORY_TYPES": "disk,workspace_v2,disk"})
    assert chosen.inventory_types == ("disk", "workspace_v2")
    with pytest.raises(ConfigError, match="INVENTORY_TYPES must be some of server, disk, turbo"):
        Settings.from_env({"INVENTORY_TYPES": "server,,disk"})
    assert Settings.for_lake({"INVENTORY_KEEP_DAYS": "30"}).inventory_keep_days == 30
    with pytest.raises(ConfigError, match="INVENTORY_KEEP_DAYS must be a number from 1 to 36500"):
        Settings.for_lake({"INVENTORY_KEEP_DAYS": "0"})
