"""One place for configuration: environment variables prefixed ``ANBU_``, validated."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
VAR_DIR = PROJECT_ROOT / "var"
LOCAL_TZ = ZoneInfo("Asia/Seoul")
# Shipped dong boundaries of every dong in data/regions.csv (data/geo/README.md).
DEFAULT_BOUNDARY_GEOJSON = DATA_DIR / "geo" / "admdong_demo_2021.geojson"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_", extra="ignore")

    database_url: str = Field(
        default="",
        description="SQLAlchemy URL. Empty means the embedded SQLite file var/anbu.sqlite3.",
    )
    demo: bool | None = Field(
        default=None,
        description=(
            "Demo mode: build the demo city on first run and allow demo accounts. Unset means on "
            "for the embedded SQLite default only; a server database needs an explicit true."
        ),
    )
    demo_scale: str = Field(default="small", description="Scale of the first-run demo city.")
    demo_seed: int = Field(default=20241129, description="Seed of the first-run demo city.")
    demo_days: int = Field(
        default=90, ge=1, le=365, description="Days of history in the first-run demo city."
    )
    boundary_geojson: Path | None = Field(
        default=None,
        description="Dong boundary GeoJSON (properties adm_cd2, adm_nm) for dong-level maps; "
        "unset: the shipped data/geo/admdong_demo_2021.geojson.",
    )
    tile_url: str = Field(
        default="",
        description="Map tile URL template ({z}/{x}/{y}, optional {key}); empty: OpenStreetMap.",
    )
    tile_attribution: str = Field(
        default="", description="Attribution shown on maps drawn with ANBU_TILE_URL (required)."
    )
    tile_key: SecretStr = Field(
        default=SecretStr(""), description="API key put in the tile URL's {key} placeholder."
    )
    auth_max_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed logins from this many different client addresses lock an account.",
    )
    auth_lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a locked account stays locked."
    )
    auth_client_max_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed logins in a row from one client address before it must wait.",
    )
    auth_client_max_delay_minutes: int = Field(
        default=15,
        ge=1,
        le=6 * 60,
        description="Longest wait of a throttled client address (the wait doubles from 30 s).",
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="Idle time after which a session logs out."
    )

    @field_validator("demo", mode="before")
    @classmethod
    def _demo_unset(cls, value: object) -> object:
        # ``ANBU_DEMO=`` (set but empty) means unset, as the shell and compose files mean it.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("demo_scale")
    @classmethod
    def _known_scale(cls, value: str) -> str:
        if value not in ("small", "seoul"):
            raise ValueError("ANBU_DEMO_SCALE must be 'small' or 'seoul'")
        return value

    @field_validator("boundary_geojson")
    @classmethod
    def _geojson_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"ANBU_BOUNDARY_GEOJSON: no file at {value}")
        return value

    @field_validator("tile_url")
    @classmethod
    def _tile_template(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
        if missing:
            raise ValueError(
                f"ANBU_TILE_URL must contain {{z}}, {{x}} and {{y}}; missing {missing}"
            )
        if not value.startswith(("https://", "http://", "/")):
            raise ValueError(
                "ANBU_TILE_URL must start with https://, http:// or / (tiles served by this app)"
            )
        return value

    @model_validator(mode="after")
    def _tiles_attributed(self) -> Settings:
        if self.tile_url and not self.tile_attribution.strip():
            raise ValueError("ANBU_TILE_ATTRIBUTION is required with ANBU_TILE_URL (the licence)")
        if "{key}" in self.tile_url and not self.tile_key.get_secret_value():
            raise ValueError("ANBU_TILE_URL has {key} but ANBU_TILE_KEY is empty")
        return self

    # --- notifications (dashboard.notify; see docs/notifications.md) ---
    notify_webhook_url: str = Field(
        default="",
        description="SMS/messenger gateway endpoint for outbox delivery (JSON POST).",
    )
    notify_webhook_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token sent to the notification gateway.",
    )
    privacy_retention_days: int = Field(
        default=365,
        ge=0,
        le=3650,
        description="Days an ended enrollment keeps its personal data before `privacy purge` "
        "pseudonymises it (policy, set to your 개인정보 처리방침; 0 = at the next daily run).",
    )
    event_retention_days: int = Field(
        default=90,
        ge=30,
        le=36500,
        description="Asia/Seoul days raw device events are kept before `retention` deletes them "
        "(rollups, alerts, dispatches and the audit log are kept).",
    )
    escalate_severe_after_min: float = Field(
        default=5,
        gt=0,
        le=24 * 60,
        description="Minutes a 심각 alert may stay unacknowledged before the on-duty lead is told.",
    )

    complaint_match_radius_m: float = Field(
        default=100,
        gt=0,
        le=5000,
        description="Metres within which an imported complaint is matched to the nearest "
        "complaint site of its type (docs/complaints-import.md).",
    )

    mqtt_url: SecretStr = Field(
        default=SecretStr("mqtt://127.0.0.1:1883"),
        description="Broker of the MQTT bridge, mqtt://[user:password@]host[:port]; "
        "`mqtt-bridge --url` overrides it.",
    )
    mqtt_share_group: str = Field(
        default="anbu",
        description="Shared subscription group of the MQTT bridges ($share/GROUP/anbu/+/events): "
        "each message goes to one bridge of the group. Empty: every bridge gets every message.",
    )

    @field_validator("mqtt_share_group")
    @classmethod
    def _share_group(cls, value: str) -> str:
        value = value.strip()
        if any(c in value for c in "/+#"):
            raise ValueError("ANBU_MQTT_SHARE_GROUP: one topic level without '/', '+' or '#'")
        return value

    # --- observability (docs/operations.md) ---
    log_format: str = Field(
        default="text",
        description="Log lines of the commands (worker, ingest server, MQTT bridge): `text` for "
        "people, `json` for one JSON object per line with a request id.",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the worker's Prometheus /metrics (unset: none); --metrics-port wins.",
    )
    bridge_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the MQTT bridge's Prometheus /metrics (unset: none); "
        "--metrics-port wins.",
    )

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("text", "json"):
            raise ValueError("ANBU_LOG_FORMAT must be 'text' or 'json'")
        return value

    @field_validator("notify_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("ANBU_NOTIFY_WEBHOOK_URL must start with https:// or http://")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{VAR_DIR / 'anbu.sqlite3'}"

    @property
    def resolved_boundary_geojson(self) -> Path:
        return self.boundary_geojson or DEFAULT_BOUNDARY_GEOJSON

    @property
    def tiles(self) -> tuple[str, str] | None:
        """(URL template with the key filled in, attribution), or None for OpenStreetMap."""
        if not self.tile_url:
            return None
        url = self.tile_url.replace("{key}", self.tile_key.get_secret_value())
        return url, self.tile_attribution.strip()

    @property
    def is_embedded(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def demo_enabled(self) -> bool:
        """Demo mode as resolved: an explicit ``ANBU_DEMO`` wins, else only the embedded default.

        A server database is a real deployment unless someone says otherwise: it never gets
        demo accounts (published password), a fake city or log-only notifications by accident.
        """
        return self.demo if self.demo is not None else self.is_embedded

    @property
    def demo_on_server(self) -> bool:
        """Demo mode explicitly switched on for a server database: warn loudly."""
        return self.demo_enabled and not self.is_embedded


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
