"""Storage Transfer Service: an hourly, keyless copy of the primary's S3 bucket into the
standby's GCS bucket (the transfer service assumes an AWS role through federation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from components import catalog
from components.errors import SpecError
from components.providers.gcp.apis import TRANSFER_APIS, enable_apis
from components.spec import StandbySpec

REPEAT_INTERVAL = "3600s"
# The sink bucket's needs (buckets.get; objects create, delete, get, list) and no more:
# https://cloud.google.com/storage-transfer/docs/sink-cloud-storage
SINK_ROLES = (
    ("writer", "roles/storage.objectAdmin"),
    ("bucket-reader", "roles/storage.legacyBucketReader"),
)


def transfer_from_s3(
    name: str,
    source_bucket: str,
    target_bucket: pulumi.Output[str],
    standby: StandbySpec,
    parent: pulumi.Resource,
) -> Sequence[pulumi.Resource]:
    """The transfer job and the transfer service agent's access to the target bucket."""
    if not standby.replication_role_arn:
        raise SpecError(
            "copying the primary's S3 bucket needs an AWS role for Storage Transfer Service",
            field="exitplan:standby.replication_role_arn",
            fix=(
                "create a role trusting accounts.google.com for the transfer service agent, "
                "read-only on the bucket, and set its ARN (see README)"
            ),
        )
    apis = enable_apis(name, TRANSFER_APIS, parent)
    opts = pulumi.ResourceOptions(parent=parent, depends_on=apis)
    # Reading the agent also creates it, which needs the API.
    agent = gcp.storage.get_transfer_project_service_account_output(
        opts=pulumi.InvokeOutputOptions(parent=parent, depends_on=apis)
    )
    member = agent.email.apply(lambda e: f"serviceAccount:{e}")
    grants = [
        gcp.storage.BucketIAMMember(
            f"{name}-transfer-{suffix}",
            bucket=target_bucket,
            role=role,
            member=member,
            opts=opts,
        )
        for suffix, role in SINK_ROLES
    ]
    job = gcp.storage.TransferJob(
        f"{name}-model-replication",
        description=f"{name}: models from s3://{source_bucket}",
        transfer_spec=gcp.storage.TransferJobTransferSpecArgs(
            aws_s3_data_source=gcp.storage.TransferJobTransferSpecAwsS3DataSourceArgs(
                bucket_name=source_bucket, role_arn=standby.replication_role_arn
            ),
            gcs_data_sink=gcp.storage.TransferJobTransferSpecGcsDataSinkArgs(
                bucket_name=target_bucket
            ),
            transfer_options=gcp.storage.TransferJobTransferSpecTransferOptionsArgs(
                overwrite_when="DIFFERENT"
            ),
        ),
        schedule=schedule_from(catalog.today()),
        opts=pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                depends_on=grants,
                # The start date is the first deployment's: a later `pulumi up` keeps it.
                ignore_changes=["schedule.scheduleStartDate"],
            ),
        ),
    )
    return [*apis, *grants, job]


def schedule_from(day: dt.date) -> gcp.storage.TransferJobScheduleArgs:
    """Hourly from `day` (the deployment's date), with no time of day: Storage Transfer
    Service runs a job scheduled for today at once, while a start date in the past would
    delay the first run to the next day (Schedule, storagetransfer v1:
    https://cloud.google.com/storage-transfer/docs/reference/rest/v1/transferJobs#Schedule).
    A later copy on demand: `gcloud transfer jobs run <job name>`."""
    return gcp.storage.TransferJobScheduleArgs(
        schedule_start_date=gcp.storage.TransferJobScheduleScheduleStartDateArgs(
            year=day.year, month=day.month, day=day.day
        ),
        repeat_interval=REPEAT_INTERVAL,
    )
