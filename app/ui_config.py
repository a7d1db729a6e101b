"""The UI's configuration: the service ``Settings`` plus upload limits, read from a TOML file and the
environment, built once at the edge (the Streamlit entry point) and passed down to the pages.

Precedence, weakest first: defaults, the config file, ``DOCQA_*`` environment variables, then what the
user changes in the page's sidebar (``app.ui.state``). The file is ``$DOCQA_UI_CONFIG`` if
set, else ``docqa.toml`` in the working directory if present::

    [settings]                    # any Settings field (docs/architecture.md, "Settings")
    data_dir = "data/collections"
    server_url = "http://127.0.0.1:8000/v1"
    budget = 32000

    [ui]
    upload_max_mb = 50            # per file; scripts/ui.sh also passes it to Streamlit
    allowed_extensions = [".md", ".pdf", ".docx"]   # default: every format the readers support
    default_collection = "samples"
    allow_folder_ingest = true    # the Documents page may ingest a folder on this machine
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from app.settings import Settings

CONFIG_ENV = "DOCQA_UI_CONFIG"
DEFAULT_CONFIG_FILE = "docqa.toml"
DEFAULT_UPLOAD_MAX_MB = 50  # a long PDF or a FHIR bundle of one patient; matches scripts/ui.sh


class ConfigError(ValueError):
    """The config file cannot be read or holds a value of the wrong kind; the message says which."""


def supported_extensions() -> tuple[str, ...]:
    """Every extension a reader handles, from the reader registry itself (so the list never drifts)."""
    from ingest.readers.code_reader import LANGUAGES
    from ingest.readers.registry import READERS, XML_EXTENSIONS

    return tuple(sorted(set(READERS) | set(XML_EXTENSIONS) | {".json"} | set(LANGUAGES)))


@dataclass(frozen=True)
class UIConfig:
    """What the pages need: where data lives and which model answers (``settings``), upload rules."""

    settings: Settings = field(default_factory=Settings)
    upload_max_mb: int = DEFAULT_UPLOAD_MAX_MB
    allowed_extensions: tuple[str, ...] = field(default_factory=supported_extensions)
    default_collection: str | None = None
    allow_folder_ingest: bool = True  # the server binds localhost by default: the user owns the machine
    source: str | None = None  # the config file read, for the Model page

    def __post_init__(self) -> None:
        if self.upload_max_mb <= 0:
            raise ConfigError(f"upload_max_mb must be a positive number of MB, got {self.upload_max_mb}")
        exts = tuple(sorted({_dotted(e) for e in self.allowed_extensions}))
        object.__setattr__(self, "allowed_extensions", exts)

    @property
    def upload_max_bytes(self) -> int:
        return self.upload_max_mb * 1024 * 1024


def _dotted(ext: str) -> str:
    ext = str(ext).strip().lower()
    return ext if ext.startswith(".") else "." + ext


def config_path(env: Mapping[str, str]) -> Path | None:
    """The config file to read: ``$DOCQA_UI_CONFIG`` (must exist), else ./docqa.toml when present."""
    explicit = env.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV} points at {path}, which is not a file")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the config file {path}: {e}") from None


def _settings_from(file_settings: dict, env: Mapping[str, str], path: Path | None) -> Settings:
    """The file's [settings] under the environment: a DOCQA_* variable that is set wins."""
    names = {f.name for f in fields(Settings)}
    unknown = sorted(set(file_settings) - names)
    if unknown:
        raise ConfigError(f"{path}: unknown [settings] key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(names))}")
    from_env = Settings.from_env(env)
    merged = {}
    for name in names:
        # Settings.from_env reads DOCQA_<FIELD> for every field; an empty variable counts as unset.
        if name in file_settings and not env.get("DOCQA_" + name.upper()):
            merged[name] = file_settings[name]
        else:
            merged[name] = getattr(from_env, name)
    try:
        return Settings(**merged)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{path}: {e}") from None


def load_ui_config(env: Mapping[str, str] | None = None) -> UIConfig:
    """Defaults, then the config file, then the environment. Raises ConfigError with the reason."""
    env = os.environ if env is None else env
    path = config_path(env)
    data = _read_toml(path) if path else {}
    ui = dict(data.get("ui", {}))
    known_ui = {"upload_max_mb", "allowed_extensions", "default_collection", "allow_folder_ingest"}
    unknown = sorted(set(ui) - known_ui)
    if unknown:
        raise ConfigError(f"{path}: unknown [ui] key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known_ui))}")
    if env.get("DOCQA_UI_MAX_UPLOAD_MB"):
        ui["upload_max_mb"] = env["DOCQA_UI_MAX_UPLOAD_MB"]
    try:
        if "upload_max_mb" in ui:
            ui["upload_max_mb"] = int(ui["upload_max_mb"])
        if "allowed_extensions" in ui:
            ui["allowed_extensions"] = tuple(ui["allowed_extensions"])
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{path or 'environment'}: {e}") from None
    settings = _settings_from(dict(data.get("settings", {})), env, path)
    return UIConfig(settings=settings, source=str(path) if path else None, **ui)
