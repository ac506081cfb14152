from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    # No "mpesa" or "safaricom" in the callback path (docs/mpesa.md §6).
    path("pay/stk/callback/<str:token>/", views.callback, name="callback"),
]
