from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Shop"

    def ready(self):
        from accounts import services as accounts
        from payments import services as payments

        from . import services, signals  # noqa: F401
        from .services import personal_data

        payments.when_order_paid(services.mark_order_paid)
        personal_data.register(accounts.personal_data_sources)
