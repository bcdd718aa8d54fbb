from django.urls import path

from oasst.web.views import browse, people, work

# The pages belong to the tree engine's namespace: base.html's navigation and
# the other apps link to trees:dashboard, trees:random-task and trees:messages.
app_name = "trees"

urlpatterns = [
    path("dashboard/", work.dashboard, name="dashboard"),
    path("tasks/random/", work.random_task, name="random-task"),
    path("tasks/new/<str:task_type>/", work.new_task, name="new-task"),
    path("tasks/preview/", work.preview, name="preview"),
    path("tasks/<uuid:task_id>/", work.task_page, name="task"),
    path("tasks/<uuid:task_id>/submit/", work.submit_task, name="submit-task"),
    path("tasks/<uuid:task_id>/skip/", work.skip_task, name="skip-task"),
    path("tasks/<uuid:task_id>/draft/", work.save_draft, name="save-draft"),
    path("drafts/<str:task_type>/discard/", work.discard_draft, name="discard-draft"),
    path("messages/", browse.message_list, name="messages"),
    path("messages/<uuid:message_id>/", browse.message_page, name="message"),
    path("messages/<uuid:message_id>/react/", browse.react, name="react"),
    path("messages/<uuid:message_id>/report/", browse.report, name="report"),
    path("messages/<uuid:message_id>/label/", browse.free_label, name="label"),
    path("messages/<uuid:message_id>/edit/", browse.edit_message, name="edit-message"),
    path("contributions/", browse.contributions, name="contributions"),
    path("profile/", people.profile, name="my-profile"),
    path("people/<int:user_id>/", people.profile, name="profile"),
    path("guidelines/", people.guidelines, name="guidelines"),
    path("task-language/", people.set_task_language, name="task-language"),
]
