"""/scim/v2/ (config/urls_tenant.py). Identity providers are configured with this base URL."""

from django.urls import path, re_path

from . import views

app_name = "scim"

urlpatterns = [
    path("Users", views.UserListScim.as_view(), name="users"),
    path("Users/<str:user_id>", views.UserScim.as_view(), name="user"),
    path("Groups", views.GroupListScim.as_view(), name="groups"),
    path("Groups/<str:group_id>", views.GroupScim.as_view(), name="group"),
    path("ServiceProviderConfig", views.ServiceProviderConfigScim.as_view(), name="service-provider-config"),
    path("ResourceTypes", views.ResourceTypesScim.as_view(), name="resource-types"),
    re_path(r"^[\s\S]*$", views.UnknownScim.as_view(), name="unknown"),
]
