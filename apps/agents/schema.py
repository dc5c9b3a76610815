"""The agent token in the OpenAPI schema: HTTP bearer, so Swagger UI's Authorize button takes it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AgentTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.agents.authentication.AgentTokenAuthentication"
    name = "agentToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An agent token from `manage.py create_agent NAME`.",
        }
