from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Shop"

    def ready(self):
        from payments import services as payments

        from . import services, signals  # noqa: F401

        payments.when_order_paid(services.mark_order_paid)
