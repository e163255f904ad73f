#!/usr/bin/env python3
"""Microsoft's own Graph SDK for Python (msgraph-sdk), unchanged, reading what `entra-failover readiness`
reads on the rehearsal tenant: users without an MFA method (the authentication methods report), the
synchronized users' AD UPNs and the hybrid-joined devices (advanced queries: $count and the
ConsistencyLevel header), and the tenant's settings objects (smart lockout). The SDK parses each answer
into its typed models, so a shape Graph would not send fails here. Prints one JSON line of counts.

Usage: msgraph_readiness.py GRAPH_URL TOKEN CA_FILE
"""

import asyncio
import json
import sys

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.devices.devices_request_builder import DevicesRequestBuilder
from msgraph.generated.reports.authentication_methods.user_registration_details.user_registration_details_request_builder import (
    UserRegistrationDetailsRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from graph_client import client_for


async def every(page, next_page):
    """Every item of a collection, following @odata.nextLink with the SDK's own builder."""
    items = list(page.value or [])
    while page.odata_next_link:
        page = await next_page(page.odata_next_link)
        items.extend(page.value or [])
    return items


async def main(graph_url, token, ca_file):
    client = client_for(graph_url, token, ca_file)
    done = {}

    reg = client.reports.authentication_methods.user_registration_details
    config = RequestConfiguration(
        query_parameters=UserRegistrationDetailsRequestBuilder.UserRegistrationDetailsRequestBuilderGetQueryParameters(
            filter="isMfaRegistered eq false", top=999
        )
    )
    first = await reg.get(request_configuration=config)
    unregistered = await every(first, lambda link: reg.with_url(link).get())
    done["without_mfa"] = len(unregistered)
    done["without_mfa_all_unregistered"] = all(u.is_mfa_registered is False for u in unregistered)

    config = RequestConfiguration(
        query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="onPremisesSyncEnabled eq true",
            select=["userPrincipalName", "onPremisesUserPrincipalName"],
            count=True,
            top=999,
        )
    )
    config.headers.add("ConsistencyLevel", "eventual")
    first = await client.users.get(request_configuration=config)
    users = await every(first, lambda link: client.users.with_url(link).get())
    done["synced_users"] = len(users)
    done["synced_users_count"] = first.odata_count
    done["ad_upn_local"] = sum(
        1 for u in users if (u.on_premises_user_principal_name or "").endswith(".local")
    )

    config = RequestConfiguration(
        query_parameters=DevicesRequestBuilder.DevicesRequestBuilderGetQueryParameters(
            filter="trustType eq 'ServerAd'", count=True, top=1
        )
    )
    config.headers.add("ConsistencyLevel", "eventual")
    devices = await client.devices.get(request_configuration=config)
    done["hybrid_joined_devices"] = devices.odata_count
    done["device_trust_type"] = devices.value[0].trust_type if devices.value else None

    settings = await client.group_settings.get()
    done["settings_objects"] = len(settings.value or [])
    print(json.dumps(done))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(*sys.argv[1:]))
