from django.urls import path

from oasst.exports import views

app_name = "exports"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:export_id>/row/", views.row, name="row"),
    path("<int:export_id>/download/", views.download, name="download"),
    path("<int:export_id>/cancel/", views.cancel, name="cancel"),
]
