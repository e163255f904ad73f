"""What the SDK scripts share: Microsoft's GraphServiceClient, unchanged, pointed at a Graph URL (the
rehearsal tenant's), with a bearer token and the CA file to trust."""

from urllib.parse import urlparse

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory


class Token(AccessTokenProvider):
    def __init__(self, token, host):
        self.token = token
        self.host = host

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([self.host])


def client_for(graph_url, token, ca_file):
    """A GraphServiceClient for v1.0 at `graph_url`."""
    auth = BaseBearerTokenAuthenticationProvider(Token(token, urlparse(graph_url).hostname))
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=ca_file))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = graph_url.rstrip("/") + "/v1.0"
    return GraphServiceClient(request_adapter=adapter)
