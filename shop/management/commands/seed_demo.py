from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from shop import demo

DEMO_STAFF_EMAIL = "staff@duka.test"
DEMO_STAFF_PASSWORD = "duka-staff-2026"


class Command(BaseCommand):
    help = (
        "Load the demo catalogue and a demo staff login (idempotent). "
        "With --products N, also make sure N synthetic products exist (for benchmarks)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=0, help="synthetic products to add")
        parser.add_argument("--no-staff", action="store_true", help="skip the demo staff login")
        parser.add_argument(
            "--demo-staff-login",
            action="store_true",
            help="create the demo staff login even with DEBUG off (its password is public)",
        )

    def handle(self, *args, products: int, no_staff: bool, demo_staff_login: bool, **options):
        created = demo.seed_catalogue()
        self.stdout.write(f"Demo catalogue: {created} products created.")
        if products:
            added = demo.seed_synthetic_products(products)
            self.stdout.write(f"Synthetic products: {added} created.")
        if not no_staff and not settings.DEBUG and not demo_staff_login:
            self.stdout.write(
                self.style.WARNING(
                    "No demo staff login: DEBUG is off, and its password is public. Create "
                    "staff with `manage.py createsuperuser`, or pass --demo-staff-login."
                )
            )
        elif not no_staff:
            User = get_user_model()
            user, made = User.objects.get_or_create(
                username="staff",
                defaults={"email": DEMO_STAFF_EMAIL, "is_staff": True, "is_superuser": True},
            )
            if made:
                user.set_password(DEMO_STAFF_PASSWORD)
                user.save()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo staff login: {DEMO_STAFF_EMAIL} / {DEMO_STAFF_PASSWORD} at /staff/"
                )
            )
