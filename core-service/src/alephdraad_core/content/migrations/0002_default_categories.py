"""A fresh system starts with a usable set of categories (issue 6). Idempotent: a category that
already exists (by slug) is left as it is, so admins' later edits survive re-running."""

from django.db import migrations

DEFAULT_CATEGORIES = [
    ("general", "General", "Anything that fits nowhere else.", "#64748b", "message-circle"),
    ("announcements", "Announcements", "News from the Alephdraad team.", "#dc2626", "megaphone"),
    ("questions", "Questions & Help", "Ask the community; mark the answer that solved it.", "#2563eb", "help-circle"),
    ("programming", "Programming", "Code, tools, languages and reviews.", "#16a34a", "code"),
    ("careers", "Careers", "Jobs, interviews, CVs and growing at work.", "#9333ea", "briefcase"),
    ("showcase", "Showcase", "Show what you built and get feedback.", "#ea580c", "sparkles"),
    ("off-topic", "Off-topic", "Everything else, kindly.", "#0891b2", "coffee"),
]


def add_default_categories(apps, schema_editor):
    Category = apps.get_model("content", "Category")
    for order_index, (slug, name, description, color, icon) in enumerate(DEFAULT_CATEGORIES):
        Category.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "color": color,
                "icon": icon,
                "order_index": order_index * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]

    operations = [migrations.RunPython(add_default_categories, migrations.RunPython.noop)]
