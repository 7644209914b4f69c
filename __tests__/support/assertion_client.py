"""A later workflow step in Python: MSAL Python signs in with the action's client assertion.

Reads AUTHORITY_HOST, TENANT_ID, CLIENT_ID, CLIENT_ASSERTION and SCOPES (comma-separated) from the
environment, asks for a token for each scope in order, and prints one JSON line per scope:
{"scope", "ok", "token"} or {"scope", "ok": false, "error"}. The Azure CLI signs in the same way:
`az login --federated-token` hands the assertion to MSAL Python as `client_assertion`.
"""
import json
import os

import msal

app = msal.ConfidentialClientApplication(
    os.environ["CLIENT_ID"],
    authority=f"{os.environ['AUTHORITY_HOST']}/{os.environ['TENANT_ID']}",
    client_credential={"client_assertion": os.environ["CLIENT_ASSERTION"]},
    # The test server is not a Microsoft host: read its OpenID configuration, no instance discovery.
    validate_authority=False,
)
for scope in os.environ["SCOPES"].split(","):
    result = app.acquire_token_for_client(scopes=[scope])
    if "access_token" in result:
        print(json.dumps({"scope": scope, "ok": True, "token": result["access_token"]}))
    else:
        error = f"{result.get('error')}: {result.get('error_description')}"
        print(json.dumps({"scope": scope, "ok": False, "error": error}))
