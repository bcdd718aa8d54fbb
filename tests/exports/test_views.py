"""The export page, its API and the admin: happy paths and access denied."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from oasst.accounts import roles
from oasst.accounts.keys import create_token
from oasst.exports import runs
from oasst.exports.models import Export, ImportRun, RunStatus
from oasst.trees.models import Message, MessageTree
from tests.conftest import make_user
from tests.exports.conftest import Garden
from tests.exports.test_format import P


@pytest.fixture
def data_client(db: None) -> Client:
    client = Client()
    client.force_login(make_user("dana", role=roles.DATA))
    return client


@pytest.fixture
def no_jobs(monkeypatch: Any) -> list[int]:
    from oasst.exports import jobs

    queued: list[int] = []
    monkeypatch.setattr(jobs.run_export, "delay", queued.append)
    monkeypatch.setattr(jobs.run_import, "delay", queued.append)
    return queued


FORM = {
    "format": "jsonl", "shape": "tree", "gzip": "on", "states": ["ready_for_export"],
    "deleted": "exclude", "spam": "exclude", "synthetic": "exclude", "anonymize": "on",
    "labels": "on",
}  # fmt: skip


def test_data_role_starts_an_export_from_the_page(
    data_client: Client, garden: Garden, export_dir: Path, no_jobs: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    page = data_client.get(reverse("exports:index"))
    assert page.status_code == 200 and b"New export" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = data_client.post(reverse("exports:index"), FORM)
    assert response.status_code == 302
    export = Export.objects.get()
    assert no_jobs == [export.pk]
    assert export.filters["labels"] is True and export.source == "page"
    row = data_client.get(reverse("exports:row", args=[export.pk]))
    assert b'hx-trigger="every 2s"' in row.content  # still polling while queued
    runs.write_export(export)
    row = data_client.get(reverse("exports:row", args=[export.pk]))
    assert b"hx-trigger" not in row.content and b"Download" in row.content
    download = data_client.get(reverse("exports:download", args=[export.pk]))
    body = b"".join(download.streaming_content)
    export.refresh_from_db()
    assert download.status_code == 200
    assert hashlib.sha256(body).hexdigest() == export.sha256 == download["X-Checksum-SHA256"]
    listing = data_client.get(reverse("exports:index"))
    assert b"states: ready_for_export" in listing.content


def test_only_admins_may_turn_the_anonymiser_off(
    data_client: Client, admin_client_: Client, db: None, export_dir: Path, no_jobs: list[int]
) -> None:
    form = {**FORM, "anonymize": ""}
    refused = data_client.post(reverse("exports:index"), form)
    assert refused.status_code == 400 and not Export.objects.exists()
    assert admin_client_.post(reverse("exports:index"), form).status_code == 302
    assert Export.objects.get().filters["anonymize"] is False


def test_volunteers_get_no_export_page_or_download(
    volunteer_client: Client, garden: Garden, export_dir: Path
) -> None:
    export = runs.write_export(runs.create_export(filters={}, enqueue=False))
    assert export.status == RunStatus.DONE
    for name in ("exports:index", "exports:row", "exports:download"):
        args = [] if name == "exports:index" else [export.pk]
        assert volunteer_client.get(reverse(name, args=args)).status_code == 403
    assert volunteer_client.post(reverse("exports:cancel", args=[export.pk])).status_code == 403
    assert Client().get(reverse("exports:download", args=[export.pk])).status_code == 302


def test_cancel_from_the_page(data_client: Client, db: None, export_dir: Path) -> None:
    export = runs.create_export(filters={}, enqueue=False)
    response = data_client.post(
        reverse("exports:cancel", args=[export.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and b"cancelled" in response.content
    export.refresh_from_db()
    assert export.status == RunStatus.CANCELLED


def test_api_creates_lists_and_downloads(
    db: None, garden: Garden, export_dir: Path, no_jobs: list[int]
) -> None:
    token = create_token(make_user("dora", role=roles.DATA), name="t")[1]
    auth = {"Authorization": f"Bearer {token}"}
    client = Client()
    created = client.post(
        "/api/v1/exports/",
        json.dumps({"filters": {"labels": True}, "format": "parquet"}),
        content_type="application/json",
        headers=auth,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "queued" and body["shape"] == "message" and not body["gzip"]
    runs.write_export(Export.objects.get(pk=body["id"]))
    detail = client.get(f"/api/v1/exports/{body['id']}", headers=auth).json()
    assert detail["status"] == "done" and detail["download_url"]
    file = client.get(detail["download_url"], headers=auth)
    assert hashlib.sha256(b"".join(file.streaming_content)).hexdigest() == detail["sha256"]
    assert [e["id"] for e in client.get("/api/v1/exports/", headers=auth).json()] == [body["id"]]
    bad = client.post(
        "/api/v1/exports/", json.dumps({"filters": {"states": ["x"]}}),
        content_type="application/json", headers=auth,
    )  # fmt: skip
    assert bad.status_code == 422 and "unknown tree state" in bad.json()["detail"]
    plain = client.post(
        "/api/v1/exports/", json.dumps({"filters": {"anonymize": False}}),
        content_type="application/json", headers=auth,
    )  # fmt: skip
    assert plain.status_code == 403


def test_api_refuses_volunteers(db: None, volunteer_token: str) -> None:
    auth = {"Authorization": f"Bearer {volunteer_token}"}
    assert Client().get("/api/v1/exports/", headers=auth).status_code == 403
    assert Client().get("/api/v1/exports/").status_code == 401


def test_admin_action_exports_the_selected_trees(
    admin_client_: Client, garden: Garden, export_dir: Path, no_jobs: list[int]
) -> None:
    response = admin_client_.post(
        reverse("admin:trees_messagetree_changelist"),
        {"action": "export_selected_trees", "_selected_action": [P]},
    )
    assert response.status_code == 302 and response["Location"] == reverse("exports:index")
    export = Export.objects.get()
    notice = admin_client_.get(response["Location"]).content.decode()
    assert f"Export #{export.pk} of 1 tree queued." in notice
    assert export.filters["tree_ids"] == [P] and export.source == "admin"
    assert runs.write_export(export).trees_done == 1


def test_admin_import_page_queues_a_job_that_stores_the_report(
    admin_client_: Client, db: None, tmp_path: Path, settings: Any, no_jobs: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    settings.MEDIA_ROOT = tmp_path / "media"
    line = {"message_tree_id": "t1", "tree_state": "ready_for_export",
            "prompt": {"message_id": "t1", "text": "Hello?", "role": "prompter", "replies": []}}  # fmt: skip
    upload = SimpleUploadedFile("seed.trees.jsonl", json.dumps(line).encode() + b"\n{bad\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("admin:exports_importrun_add"),
            {"file": upload, "state": "", "origin": "", "model_name": ""},
        )
    assert response.status_code == 302, response.content[:2000]
    run = ImportRun.objects.get()
    assert no_jobs == [run.pk]
    from oasst.exports.jobs import run_import

    run_import(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert run.report["messages_created"] == 1 and run.report["rejected_count"] == 1
    assert MessageTree.objects.get().origin == "seed.trees.jsonl"
    assert Message.objects.count() == 1
    page = admin_client_.get(reverse("admin:exports_importrun_change", args=[run.pk]))
    assert b"not valid JSON" in page.content
    listing = admin_client_.get(reverse("admin:exports_importrun_changelist")).content.decode()
    assert "1 messages, 1 new tree, 0 already present, 1 rejected" in listing


def test_volunteers_cannot_use_the_import_admin(volunteer_client: Client) -> None:
    response = volunteer_client.get(reverse("admin:exports_importrun_add"))
    assert response.status_code == 302  # to the admin login: not staff
