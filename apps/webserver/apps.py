from django.apps import AppConfig


class WebserverConfig(AppConfig):
    name = "apps.webserver"
    label = "webserver"
    verbose_name = "Web server"
