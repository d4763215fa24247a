from services.notifier.adapters.tables import metadata
from shared.migrations import run_alembic_env

run_alembic_env(metadata, version_table="alembic_version_notifier")
