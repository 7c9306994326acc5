import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    """Real-time authorization looks our tokens up by uid + type (tokens.md 3.2), without the party."""

    dependencies = [
        ("tokens", "0002_token_authorization"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="token",
            index=models.Index(
                django.db.models.functions.text.Upper("ocpi_id"), models.F("type"), name="token_uid_type_idx"
            ),
        ),
    ]
