"""Settings: `config/hotline.yaml`, then `--config PATH`, then `HOTLINE_<SECTION>_<KEY>` variables.

Every problem is reported with the file and line it comes from, so an operator can fix a broken
deployment without reading a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PACKAGE_ROOT / "config" / "hotline.yaml"
ENV_PREFIX = "HOTLINE_"


class SettingsError(Exception):
    """A setting is missing, mistyped or unknown; the message names file, line and key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)


class AgiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(4573, ge=0, le=65535)
    enabled: bool = True
    reply_timeout_s: float = Field(30.0, gt=0)


class AmiSettings(_Section):
    host: str = ""
    port: int = Field(5038, ge=1, le=65535)
    username: str = "hotline"
    secret: SecretStr = SecretStr("")
    ping_interval_s: float = Field(10.0, gt=0)
    action_timeout_s: float = Field(10.0, gt=0)
    originate_caller_id: str = "Hotline <95588>"

    @property
    def enabled(self) -> bool:
        return bool(self.host)


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///var/hotline.db"
    echo: bool = False


class PublicSettings(_Section):
    url: str = ""  # empty: the HTTP listener's own address (see Settings.public)


class TwilioSettings(_Section):
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    api_base: str = "https://api.twilio.com"
    caller_id: str = ""
    rest_timeout_s: float = Field(10.0, gt=0)
    rest_retries: int = Field(3, ge=0)


def _pairs(value: Any) -> Any:
    """`id:value,id2:value2` (how a mapping arrives from an environment variable) as a mapping."""
    if not isinstance(value, str):
        return value
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, sep, rest = item.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"expected NAME:VALUE pairs separated by commas, got {item!r}")
        pairs[name.strip()] = rest.strip()
    return pairs


class RecordingsSettings(_Section):
    dir: Path = Path("var/recordings")
    # where Asterisk's MixMonitor files are, as this host sees them (same host or a mounted share)
    spool_dir: Path = Path("var/spool/monitor")
    # the same directory as Asterisk names it in MIXMONITOR_FILENAME (its own monitor directory)
    pbx_spool_dir: str = "/var/spool/asterisk/monitor"
    storage: Literal["local", "s3"] = "local"
    s3_bucket: str = ""
    s3_prefix: str = "recordings/"
    s3_endpoint_url: str = ""
    s3_region: str = ""
    format: Literal["opus", "mp3"] = "opus"
    bitrate_kbps: int = Field(16, ge=8, le=32)  # per channel: a two-channel call gets twice this
    # key id -> base64 of 32 random bytes; new files use active_key, older ones keep their key id.
    # Empty: one key derived from security.secret_key (demo and tests only).
    keys: dict[str, SecretStr] = {}
    active_key: str = ""
    # days kept after the call, per business category (config/acd/queues.yaml); others: default
    retention_days: dict[str, int] = {"complaint": 3650}
    default_retention_days: int = Field(1095, ge=1)
    delete_at_source: bool = False  # Twilio: delete their copy once ours is verified
    ingest_max_attempts: int = Field(6, ge=1)
    ingest_backoff_s: float = Field(30.0, ge=0)
    ingest_max_backoff_s: float = Field(3600.0, ge=0)
    agents_hear_own_calls: bool = False  # agents may find and play the recordings of their own calls

    @model_validator(mode="before")
    @classmethod
    def _mappings_from_environment(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {key: _pairs(value) if key in ("keys", "retention_days") else value for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _active_key_is_known(self) -> RecordingsSettings:
        if self.keys and self.active_key not in self.keys:
            raise ValueError(f"active_key {self.active_key!r} is not one of keys ({', '.join(sorted(self.keys))})")
        if any(days < 1 for days in self.retention_days.values()):
            raise ValueError("retention_days: every category is kept at least 1 day")
        return self


class SecuritySettings(_Section):
    secret_key: SecretStr = SecretStr("change-me-demo-only-secret-key")
    pin_max_attempts: int = Field(3, ge=1)
    session_hours: float = Field(12.0, gt=0)
    # "auto": Secure cookies whenever public.url is https; true/false force it either way
    cookie_secure: bool | Literal["auto"] = "auto"
    login_max_failures: int = Field(5, ge=1)  # per username and per client address, in the window
    login_window_minutes: float = Field(15.0, gt=0)
    # GET /metrics: with a token, only "Authorization: Bearer <token>"; without one, only from loopback
    metrics_token: SecretStr = SecretStr("")


class IvrSettings(_Section):
    menus: Path = Path("ivr/menus.yaml")
    prompts: Path = Path("ivr/prompts.yaml")
    default_language: Literal["zh-CN", "en-US"] = "zh-CN"
    english_numbers: list[str] = []
    transfer_daily_limit_fen: int = Field(5_000_000, ge=0)
    bill_daily_limit_fen: int = Field(2_000_000, ge=0)
    max_failures: int = Field(3, ge=1)


class AcdSettings(_Section):
    queues: Path = Path("acd/queues.yaml")
    max_missed_offers: int = Field(3, ge=1)
    callback_attempts: int = Field(3, ge=1)
    callback_retry_gap_s: float = Field(300.0, ge=0)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class Settings(_Section):
    http: HttpSettings = HttpSettings()
    agi: AgiSettings = AgiSettings()
    ami: AmiSettings = AmiSettings()
    database: DatabaseSettings = DatabaseSettings()
    public: PublicSettings = PublicSettings()
    twilio: TwilioSettings = TwilioSettings()
    recordings: RecordingsSettings = RecordingsSettings()
    security: SecuritySettings = SecuritySettings()
    ivr: IvrSettings = IvrSettings()
    acd: AcdSettings = AcdSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _public_url_defaults_to_the_listener(self) -> Settings:
        # the server checks webhook signatures over public.url and `hotline call` signs and sends
        # over it: deriving both from http.host/http.port keeps them on the same server
        if not self.public.url:
            object.__setattr__(self, "public", PublicSettings(url=listener_url(self.http)))
        return self

    def config_path(self, relative: Path) -> Path:
        """Relative paths of menus, prompts and queues are read from the shipped `config/` folder."""
        return relative if relative.is_absolute() else DEFAULT_CONFIG.parent / relative


def listener_url(http: HttpSettings) -> str:
    """http://host:port of the HTTP listener, as a client on this machine reaches it."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(http.host, http.host)
    return f"http://[{host}]:{http.port}" if ":" in host else f"http://{host}:{http.port}"


# --- YAML with line numbers -------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse a YAML file; return the data and a map from key path to 1-based line number.

    Raises SettingsError naming the file and line for syntax errors and duplicate keys.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # at the end of the input the mark points at the line after the last one
        line = f":{min(mark.line + 1, _last_line(text))}" if mark else ""
        raise SettingsError(f"{path}{line}: {exc.problem or exc.context}") from exc
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return data, lines


def _last_line(text: str) -> int:
    """The last line with something on it (1-based): where an unclosed quote or bracket began to fail."""
    lines = text.splitlines()
    return next((n for n in range(len(lines), 0, -1) if lines[n - 1].strip()), 1)


def _index_lines(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, key_node.value)
            _index_lines(value_node, key_path, lines)
            lines[key_path] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), lines)


def line_of(lines: Mapping[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest known prefix of `loc` (pydantic locations go deeper than YAML)."""
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


Model = TypeVar("Model", bound=BaseModel)
Describe = Callable[[Path, ValidationError, Mapping[tuple[Any, ...], int]], str]


def load_model(path: Path, model: type[Model], expected: str,
               describe: Describe | None = None) -> tuple[Model, dict[tuple[Any, ...], int]]:
    """The one way a YAML config file is read: parse with line numbers, expect a mapping, validate
    into `model`; every problem a SettingsError naming file and line. Returns the model and the
    line map (for cross-checks that report lines too)."""
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise SettingsError(f"{path}:1: expected {expected}")
    try:
        return model.model_validate(data), lines
    except ValidationError as exc:
        raise SettingsError((describe or describe_validation_error)(path, exc, lines)) from exc


def describe_validation_error(path: Path, exc: ValidationError, lines: Mapping[tuple[Any, ...], int]) -> str:
    """One line per problem: `file:line: key.path: message`."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = line_of(lines, loc)
        where = f"{path}:{line}" if line else str(path)
        key = ".".join(str(p) for p in loc) or "(top level)"
        problems.append(f"{where}: {key}: {err['msg']}")
    return "\n".join(problems)


# --- loading ------------------------------------------------------------------------------------


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    sections = set(Settings.model_fields)
    overrides: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name.startswith("HOTLINE_TEST_"):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in sections or not key:
            raise SettingsError(f"environment: {name}: unknown setting (expected HOTLINE_<SECTION>_<KEY>)")
        overrides.setdefault(section, {})[key] = value
    return overrides


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate_file(path: Path) -> dict[str, Any]:
    data, lines = load_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}:1: expected a mapping of sections")
    try:
        Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(path, exc, lines)) from exc
    return data


def load_settings(config: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate settings; raise SettingsError with file, line and key on any problem."""
    environ = os.environ if environ is None else environ
    data = _validate_file(DEFAULT_CONFIG)
    if config is not None:
        data = _merge(data, _validate_file(config))
    data = _merge(data, _env_overrides(environ))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"environment: HOTLINE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise SettingsError("\n".join(problems)) from exc
