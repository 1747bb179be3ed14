import re
from pathlib import Path

import pytest

from hotline.settings import SettingsError, load_settings


def test_defaults_are_the_documented_ones():
    settings = load_settings(environ={})
    assert settings.http.port == 8080 and settings.agi.port == 4573
    assert settings.database.url.startswith("sqlite+aiosqlite:///var/")
    assert not settings.ami.enabled


def test_environment_overrides_every_section():
    settings = load_settings(environ={
        "HOTLINE_DATABASE_URL": "postgresql+asyncpg://u@db/x", "HOTLINE_HTTP_HOST": "0.0.0.0",
        "HOTLINE_HTTP_PORT": "9090", "HOTLINE_AGI_PORT": "4600", "HOTLINE_TWILIO_AUTH_TOKEN": "tok-123",
        "HOTLINE_PUBLIC_URL": "https://hotline.example.com", "HOTLINE_AMI_HOST": "pbx", "HOTLINE_AMI_PORT": "5039",
        "HOTLINE_AMI_USERNAME": "hl", "HOTLINE_AMI_SECRET": "s3cret", "HOTLINE_RECORDINGS_DIR": "/srv/rec"})
    assert settings.database.url == "postgresql+asyncpg://u@db/x"
    assert (settings.http.host, settings.http.port, settings.agi.port) == ("0.0.0.0", 9090, 4600)
    assert settings.twilio.auth_token.get_secret_value() == "tok-123"
    assert settings.public.url == "https://hotline.example.com"
    assert (settings.ami.host, settings.ami.port, settings.ami.username) == ("pbx", 5039, "hl")
    assert settings.ami.enabled and settings.ami.secret.get_secret_value() == "s3cret"
    assert settings.recordings.dir == Path("/srv/rec")
    assert "s3cret" not in repr(settings) and "tok-123" not in repr(settings)


def test_config_file_overrides_defaults_and_env_overrides_file(tmp_path):
    config = tmp_path / "site.yaml"
    config.write_text("http:\n  port: 9000\nivr:\n  max_failures: 5\n")
    settings = load_settings(config, environ={"HOTLINE_HTTP_PORT": "9001"})
    assert settings.http.port == 9001 and settings.ivr.max_failures == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http:\n  port: eighty\n", "site.yaml:2: http.port: Input should be a valid integer"),
        ("http:\n  port: 80\n  colour: blue\n", "site.yaml:3: http.colour: Extra inputs are not permitted"),
        ("http:\n  port: 80\nhttp:\n  port: 81\n", "site.yaml:3: duplicate key 'http' (first at line 1)"),
        ("http:\n  port: [80\n", "site.yaml:2: expected ',' or ']'"),
        ("databse:\n  url: x\n", "site.yaml:1: databse: Extra inputs are not permitted"),
    ],
)
def test_broken_config_names_file_line_and_key(tmp_path, text, expected):
    config = tmp_path / "site.yaml"
    config.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(config, environ={})
    assert expected in str(caught.value)


@pytest.mark.parametrize("text", [
    'http:\n  host: "127.0.0.1\n',  # unterminated quote at the end of the file
    'http:\n  host: "127.0.0.1',  # ... without a final newline
    "http:\n  port: [80\n\n\n",  # unclosed list, blank lines after it
    "http:\n  port: {a: 1\n",
])
def test_a_yaml_error_at_the_end_of_the_file_names_a_line_that_exists(tmp_path, text):
    config = tmp_path / "site.yaml"
    config.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(config, environ={})
    assert re.search(r"site\.yaml:(\d+): ", str(caught.value)).group(1) == "2"  # the broken line


def test_public_url_follows_the_http_listener_unless_set():
    assert load_settings(environ={}).public.url == "http://127.0.0.1:8080"
    assert load_settings(environ={"HOTLINE_HTTP_PORT": "8181"}).public.url == "http://127.0.0.1:8181"
    on_all = load_settings(environ={"HOTLINE_HTTP_HOST": "0.0.0.0", "HOTLINE_HTTP_PORT": "9000"})
    assert on_all.public.url == "http://127.0.0.1:9000"  # a wildcard address is reached on this machine
    assert load_settings(environ={"HOTLINE_HTTP_HOST": "::1"}).public.url == "http://[::1]:8080"
    behind_proxy = load_settings(environ={"HOTLINE_HTTP_PORT": "8181", "HOTLINE_PUBLIC_URL": "https://h.example.com"})
    assert behind_proxy.public.url == "https://h.example.com"


def test_bad_environment_value_names_the_variable():
    with pytest.raises(SettingsError, match="HOTLINE_HTTP_PORT: Input should be a valid integer"):
        load_settings(environ={"HOTLINE_HTTP_PORT": "eighty"})
    with pytest.raises(SettingsError, match="HOTLINE_HTTPS_PORT: unknown setting"):
        load_settings(environ={"HOTLINE_HTTPS_PORT": "1"})


def test_cli_reports_config_error_and_exits_2(tmp_path, capsys):
    from hotline.cli import main

    config = tmp_path / "bad.yaml"
    config.write_text("agi:\n  port: -5\n")
    assert main(["--config", str(config), "demo"]) == 2
    assert "bad.yaml:2: agi.port:" in capsys.readouterr().err
