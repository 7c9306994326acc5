import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
        ("tokens", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="TokenAuthorization",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "reference",
                    models.CharField(help_text="authorization_reference we returned", max_length=36, unique=True),
                ),
                (
                    "location_id",
                    models.CharField(blank=True, help_text="LocationReferences.location_id, if given", max_length=36),
                ),
                (
                    "evse_uids",
                    models.JSONField(blank=True, default=list, help_text="LocationReferences.evse_uids, if given"),
                ),
                (
                    "allowed",
                    models.CharField(
                        choices=[
                            ("ALLOWED", "Allowed"),
                            ("BLOCKED", "Blocked"),
                            ("EXPIRED", "Expired"),
                            ("NO_CREDIT", "No Credit"),
                            ("NOT_ALLOWED", "Not Allowed"),
                        ],
                        max_length=11,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                (
                    "partner",
                    models.ForeignKey(
                        blank=True,
                        help_text="CPO partner that asked (empty: our own CPO, in-process)",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="token_authorizations",
                        to="partners.partner",
                    ),
                ),
                (
                    "token",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="authorizations", to="tokens.token"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-pk"],
            },
        ),
    ]
