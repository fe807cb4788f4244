"""Store permissions in the catalog: every request row maps its own example request to its
permission (and a neighbouring request elsewhere), roles expand their wildcards, a role that
lacks a permission does not hold it, and Triton's GCS client needs storage.buckets.get, which
objectViewer alone lacks (review finding J1)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from components.catalog import read_rows
from components.catalog.store_permissions import (
    REQUESTS,
    ROLES,
    TRITON,
    known_permissions,
    permission_for,
    permissions_of,
    permissions_triton_needs,
    request_rules,
)
from components.errors import CatalogError


def example(path: str, name: str = "m/1/model.onnx") -> str:
    """A concrete request path for a row's pattern: bucket `models`, object or blob `name`
    (percent-encoded where the JSON API takes one path segment)."""
    fill = {
        "{account}": "devstoreaccount1",
        "{bucket}": "models",
        "{object}": quote(name, safe=""),
        "{path}": name,
    }
    for placeholder, value in fill.items():
        path = path.replace(placeholder, value)
    return path


def example_query(query: str) -> dict[str, str]:
    """The parameters a row requires (an empty value: absent)."""
    pairs = (item.partition("=") for item in query.split("&") if item)
    return {name: value for name, _, value in pairs if value}


ROWS = [row for _, row in read_rows(REQUESTS)]


def test_every_table_has_provenance_on_every_row() -> None:
    for table in (ROLES, REQUESTS, TRITON):
        for _, row in read_rows(table):
            assert row["source"].startswith("https://") and row["as_of"]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['cloud']}:{r['operation']}")
def test_each_request_row_maps_its_request_to_its_permission(row: dict[str, str]) -> None:
    path = example(row["path"])
    found = permission_for(row["cloud"], row["method"], path, example_query(row["query"]))
    assert found is not None
    assert (found.operation, found.permission) == (row["operation"], row["permission"])
    expected_bucket = "models" if "{bucket}" in row["path"] else None
    assert found.bucket == expected_bucket
    # the same path with a method no row of that path names is unmapped
    assert permission_for(row["cloud"], "TRACE", path, example_query(row["query"])) is None


def test_an_operation_selector_outside_the_table_is_unmapped() -> None:
    blob = "/devstoreaccount1/models/m/1/model.onnx"
    assert permission_for("azure", "GET", blob, {})
    assert permission_for("azure", "GET", blob, {"comp": "tags"}) is None  # Get Blob Tags
    assert permission_for("gcp", "PATCH", "/storage/v1/b/models/o/x", {}) is None
    assert permission_for("gcp", "POST", "/batch/storage/v1", {}) is None


def test_json_api_paths_win_over_the_xml_api() -> None:
    found = permission_for("gcp", "GET", "/storage/v1/b/models", {"projection": "noAcl"})
    assert found is not None and found.permission == "storage.buckets.get"
    xml = permission_for("gcp", "GET", "/models/m/1/model.onnx", {})
    assert xml is not None and (xml.permission, xml.bucket) == ("storage.objects.get", "models")


def test_wildcards_expand_to_every_permission_the_catalog_names() -> None:
    admin = permissions_of("gcp", ["roles/storage.admin"])
    assert {"storage.buckets.get", "storage.buckets.create", "storage.objects.delete"} <= admin
    assert not any(p.endswith("*") for p in admin)
    owner = permissions_of("azure", ["Storage Blob Data Owner"])
    assert {r.permission for r in request_rules() if r.cloud == "azure"} <= owner
    assert all(p in known_permissions() for p in admin | owner)


def test_roles_grant_only_their_rows() -> None:
    viewer = permissions_of("gcp", ["roles/storage.objectViewer"])
    assert "storage.objects.get" in viewer and "storage.buckets.get" not in viewer
    assert "storage.objects.create" not in viewer
    reader = permissions_of("azure", ["Storage Blob Data Reader"])
    blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    assert f"{blobs}/read" in reader and f"{blobs}/write" not in reader


def test_an_unknown_role_names_the_known_ones() -> None:
    with pytest.raises(CatalogError) as caught:
        permissions_of("gcp", ["roles/storage.objectReader"])
    assert "roles/storage.objectViewer" in caught.value.fix


def test_triton_gcs_client_needs_bucket_metadata_that_object_viewer_lacks() -> None:
    needed = permissions_triton_needs("gs")
    assert needed == {"storage.buckets.get", "storage.objects.list", "storage.objects.get"}
    viewer = permissions_of("gcp", ["roles/storage.objectViewer"])
    assert needed - viewer == {"storage.buckets.get"}
    assert needed <= permissions_of(
        "gcp", ["roles/storage.objectViewer", "roles/storage.legacyBucketReader"]
    )


def test_triton_blob_and_s3_clients_only_read() -> None:
    reader = permissions_of("azure", ["Storage Blob Data Reader"])
    assert permissions_triton_needs("as") <= reader
    assert permissions_triton_needs("s3") == {"s3:ListBucket", "s3:GetObject"}
    with pytest.raises(CatalogError):
        permissions_triton_needs("oci")
