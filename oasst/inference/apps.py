from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "oasst.inference"
    label = "inference"
    verbose_name = "Models and inference"

    def ready(self) -> None:
        from oasst.health.checks import extra_checks
        from oasst.inference.runner import check_runner

        extra_checks["runner"] = check_runner
