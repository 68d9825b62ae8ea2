"""The text search configuration threads are indexed with (content/search.py explains the
choice). Threads get their vector from the service on every write (with the plain text it is
built from), so there is nothing to backfill: the table is new."""

from django.db import migrations

# Our own name for `simple`, so a later change of dictionaries (unaccent, a synonym list) is
# one ALTER TEXT SEARCH CONFIGURATION plus a re-index, with no code change.
CREATE_CONFIGURATION = "CREATE TEXT SEARCH CONFIGURATION alephdraad_text (COPY = pg_catalog.simple);"
DROP_CONFIGURATION = "DROP TEXT SEARCH CONFIGURATION IF EXISTS alephdraad_text;"


class Migration(migrations.Migration):
    dependencies = [("content", "0002_default_categories")]

    operations = [migrations.RunSQL(CREATE_CONFIGURATION, DROP_CONFIGURATION)]
