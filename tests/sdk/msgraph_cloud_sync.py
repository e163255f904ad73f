#!/usr/bin/env python3
"""Microsoft's own Graph SDK for Python (msgraph-sdk), unchanged, driving the rehearsal tenant's Cloud
Sync endpoints the way an administrator's script would: list the configurations, create and start a
password hash job, read the provisioning job's schema, add the CredentialData mapping with the SDK's
models and send it (the SDK sends PATCH), and set the AppKey and Domain secrets (PUT). Run by
tests/emulator/sdk.rs with the tenant's Graph URL, a token and the rehearsal CA; prints one JSON line
of what it did, and exits non-zero on any error the SDK raised.

Usage: msgraph_cloud_sync.py GRAPH_URL TOKEN CA_FILE
"""

import asyncio
import json
import sys
from urllib.parse import urlparse

from msgraph.generated.models.attribute_flow_behavior import AttributeFlowBehavior
from msgraph.generated.models.attribute_flow_type import AttributeFlowType
from msgraph.generated.models.attribute_mapping import AttributeMapping
from msgraph.generated.models.attribute_mapping_source import AttributeMappingSource
from msgraph.generated.models.attribute_mapping_source_type import AttributeMappingSourceType
from msgraph.generated.models.synchronization_job import SynchronizationJob
from msgraph.generated.models.synchronization_secret import SynchronizationSecret
from msgraph.generated.models.synchronization_secret_key_string_value_pair import (
    SynchronizationSecretKeyStringValuePair,
)
from msgraph.generated.service_principals.item.synchronization.secrets.secrets_put_request_body import (
    SecretsPutRequestBody,
)
from msgraph.generated.service_principals.service_principals_request_builder import (
    ServicePrincipalsRequestBuilder,
)
from graph_client import client_for

CLOUD_SYNC_APP = "1a4721b3-e57f-4451-ae87-ef078703ec94"


async def main(graph_url, token, ca_file):
    host = urlparse(graph_url).netloc
    client = client_for(graph_url, token, ca_file)
    done = {"host": host}

    query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
        filter=f"appId eq '{CLOUD_SYNC_APP}'"
    )
    config = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetRequestConfiguration(
        query_parameters=query
    )
    sps = await client.service_principals.get(request_configuration=config)
    sp = sps.value[0]
    done["configuration"] = sp.display_name
    sync = client.service_principals.by_service_principal_id(sp.id).synchronization

    jobs = await sync.jobs.get()
    provisioning = next(j for j in jobs.value if j.template_id == "AD2AADProvisioning")
    created = await sync.jobs.post(SynchronizationJob(template_id="AD2AADPasswordHash"))
    await sync.jobs.by_synchronization_job_id(created.id).start.post()
    done["password_hash_job"] = created.id

    schema_builder = sync.jobs.by_synchronization_job_id(provisioning.id).schema
    schema = await schema_builder.get()
    added = 0
    for rule in schema.synchronization_rules or []:
        for mapping in rule.object_mappings or []:
            if (mapping.target_object_name or "").lower() != "user":
                continue
            if any(a.target_attribute_name == "CredentialData" for a in mapping.attribute_mappings or []):
                continue
            mapping.attribute_mappings.append(
                AttributeMapping(
                    default_value=None,
                    export_missing_references=False,
                    flow_behavior=AttributeFlowBehavior.FlowWhenChanged,
                    flow_type=AttributeFlowType.Always,
                    matching_priority=0,
                    target_attribute_name="CredentialData",
                    source=AttributeMappingSource(
                        expression="[PasswordHash]",
                        name="PasswordHash",
                        type=AttributeMappingSourceType.Attribute,
                        parameters=[],
                    ),
                )
            )
            added += 1
    await schema_builder.patch(schema)
    done["mappings_added"] = added

    secrets = SecretsPutRequestBody(
        value=[
            SynchronizationSecretKeyStringValuePair(
                key=SynchronizationSecret.AppKey,
                value=json.dumps({"appKeyScenario": "AD2AADPasswordHash"}),
            ),
            SynchronizationSecretKeyStringValuePair(
                key=SynchronizationSecret.Domain,
                value=json.dumps({"domain": sp.display_name}),
            ),
        ]
    )
    await sync.secrets.put(secrets)
    done["secrets"] = ["AppKey", "Domain"]

    again = await schema_builder.get()
    done["schema_rules"] = len(again.synchronization_rules or [])
    print(json.dumps(done))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(*sys.argv[1:]))
