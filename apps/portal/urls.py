"""Pages of a tenant's host (config/urls_tenant.py includes these at "/")."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import set_language

from .views import ask, documents, feedback, history, sign_in

app_name = "portal"

urlpatterns = [
    path("", ask.home, name="home"),
    path("accounts/login/", sign_in.SignInView.as_view(), name="login"),
    # Single sign-on (OpenID Connect); the callback path is what identity providers register.
    path("accounts/sso/start/", sign_in.sso_start, name="sso_start"),
    path("accounts/oidc/callback/", sign_in.sso_callback, name="sso_callback"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="portal:login"), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("ask/", ask.ask, name="ask"),
    path("history/", history.history, name="history"),
    path("history/<int:query_id>/", history.history_detail, name="history_detail"),
    path("history/conversations/<int:conversation_id>/", history.conversation_detail, name="conversation_detail"),
    path("history/<int:query_id>/feedback/", feedback.feedback, name="feedback"),
    path("documents/", documents.document_list, name="documents"),
    path("documents/upload/", documents.document_upload, name="upload"),
    path("documents/<int:document_id>/", documents.document_detail, name="document_detail"),
    path("documents/<int:document_id>/access/", documents.document_access, name="document_access"),
]
