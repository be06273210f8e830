"""Settings come from DECISIONFLOW_* variables; production refuses an unsafe secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import DEVELOPMENT_SECRET_KEY, ConfigError, load_settings


def test_defaults_use_an_sqlite_file_in_the_instance_folder(tmp_path: Path):
    """With nothing set, the database is an SQLite file inside the instance folder."""
    settings = load_settings({"DECISIONFLOW_INSTANCE_PATH": str(tmp_path)})
    assert settings.profile == "development"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'decisionflow.db'}"
    assert settings.resolved_attachments_path == tmp_path / "attachments"


def test_database_url_and_numbers_are_read_from_the_environment():
    """A PostgreSQL URL and a number are taken as given, converted to their types."""
    settings = load_settings(
        {
            "DECISIONFLOW_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
            "DECISIONFLOW_MAX_ATTACHMENT_BYTES": "1024",
        }
    )
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")
    assert settings.max_attachment_bytes == 1024


def test_a_malformed_number_names_its_variable():
    """A setting that is not a number says which variable is wrong."""
    with pytest.raises(
        ConfigError, match="DECISIONFLOW_MAX_ATTACHMENT_BYTES must be a whole number"
    ):
        load_settings({"DECISIONFLOW_MAX_ATTACHMENT_BYTES": "lots"})


@pytest.mark.parametrize("secret", [None, "", DEVELOPMENT_SECRET_KEY])
def test_production_refuses_a_missing_or_default_secret_key(secret):
    """Production will not start with the development key or none at all."""
    env = {"DECISIONFLOW_PROFILE": "production"}
    if secret is not None:
        env["DECISIONFLOW_SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="DECISIONFLOW_SECRET_KEY must be set"):
        load_settings(env)


def test_production_starts_with_a_private_secret_key():
    """A real secret satisfies the production profile."""
    settings = load_settings(
        {"DECISIONFLOW_PROFILE": "production", "DECISIONFLOW_SECRET_KEY": "x" * 48}
    )
    assert settings.profile == "production"


def test_an_unknown_profile_is_refused():
    """A typo in the profile is an error, not a silent development start."""
    with pytest.raises(ConfigError, match="DECISIONFLOW_PROFILE must be one of"):
        load_settings({"DECISIONFLOW_PROFILE": "prod"})
