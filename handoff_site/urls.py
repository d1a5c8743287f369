from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from channels_gateway import views as gateway_views
from inbox import views as inbox_views

urlpatterns = [
    path("", inbox_views.home, name="home"),
    path("demo/", inbox_views.demo, name="demo"),
    path("healthz", inbox_views.healthz, name="healthz"),
    path("widget.js", gateway_views.widget_script, name="widget-script"),
    path("webhooks/<slug:segment>/<str:key>/", gateway_views.platform_webhook, name="platform-webhook"),
    path("inbox/", include("inbox.urls")),
    path("api/v1/", include("conversations.api.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The set-password link of an invitation (orgs.invites) is Django's password-reset confirm view.
    path("accounts/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("admin/", admin.site.urls),
]
