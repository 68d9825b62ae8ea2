"""A thread's accepted answer (issue 8): the feature-service reply its author marked, and when.

Both columns are nullable with no default, so adding them rewrites nothing (PostgreSQL only
records the new columns). The partial index holds only answered threads: it is what
`manage.py reconcile` walks to check each accepted reply still exists in the feature service.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("content", "0003_search_configuration")]

    operations = [
        migrations.AddField(
            model_name="thread",
            name="accepted_reply_id",
            field=models.CharField(blank=True, max_length=30, null=True),
        ),
        migrations.AddField(
            model_name="thread",
            name="accepted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="thread",
            index=models.Index(
                condition=models.Q(("accepted_reply_id__isnull", False)),
                fields=["id"],
                name="idx_threads_accepted_reply",
            ),
        ),
    ]
