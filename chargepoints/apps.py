from django.apps import AppConfig


class ChargepointsConfig(AppConfig):
    """The charge point side (ARCHITECTURE.md "Charge point gateway"): events in, the simulator, simulate_charging.

    Top layer: it drives sessions and cdrs through their services; sessions and cdrs never import it (they reach
    the configured gateway through `sessions.gateway.get_gateway`, settings.OCPI_GATEWAY)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "chargepoints"
    label = "chargepoints"
    verbose_name = "Charge points"
