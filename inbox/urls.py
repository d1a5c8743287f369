from django.urls import path

from inbox import views

app_name = "inbox"
urlpatterns = [
    path("", views.inbox, name="home"),
    path("org/<int:organization_id>/", views.switch_organization, name="switch-organization"),
]
