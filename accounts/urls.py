from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("profile/", views.profile, name="profile"),
    path("addresses/", views.address_list, name="address-list"),
    path("addresses/new/", views.address_create, name="address-create"),
    path("addresses/<int:pk>/edit/", views.address_update, name="address-update"),
    path("addresses/<int:pk>/delete/", views.address_delete, name="address-delete"),
    path("addresses/<int:pk>/default/", views.address_set_default, name="address-set-default"),
    path("your-data/", views.your_data, name="your-data"),
    path("your-data/download/", views.your_data_download, name="your-data-download"),
    path("your-data/delete/", views.account_delete, name="account-delete"),
]
