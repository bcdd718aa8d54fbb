from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "oasst.training"
    label = "training"
    verbose_name = "Training"
