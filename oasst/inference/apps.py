from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "oasst.inference"
    label = "inference"
    verbose_name = "Models and inference"

    def ready(self) -> None:
        from oasst.health.checks import extra_checks

        extra_checks["runner"] = _check_runner


def _check_runner() -> dict[str, object]:
    # The runner imports torch (seconds and a few hundred MB); processes that
    # never generate, such as management commands, do not pay for it at start.
    from oasst.inference.runner import check_runner

    return check_runner()
