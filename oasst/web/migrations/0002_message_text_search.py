"""A full-text index for the messages page's search, on PostgreSQL only.

search_messages() filters on to_tsvector('simple', coalesce(text, '')); without
this index every search computes it for every message (2 s on 100k messages).
The expression here must stay the one Django writes for
SearchVector("text", config="simple"), or the planner will not use the index.
SQLite searches with LIKE and gets no index. CONCURRENTLY keeps a large live
table writable while the index builds, so the migration is not atomic.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

INDEX = "message_text_search"


def create_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON trees_message "
        "USING gin (to_tsvector('simple'::regconfig, COALESCE(text, '')))"
    )


def drop_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("web", "0001_initial"),
        ("trees", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
