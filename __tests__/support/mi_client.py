# A later step's Python program that signs in through the managed-identity endpoint with
# azure-identity's ManagedIdentityCredential (Debian's python3-azure), as a user's step would. It
# prints, per resource, the SHA-256 of the token (never the token) and its expiry as one JSON line,
# or "error: <message>".
#
#   python3 mi_client.py <resource>...
import hashlib
import json
import sys

from azure.identity import ManagedIdentityCredential

credential = ManagedIdentityCredential()
try:
    for resource in sys.argv[1:]:
        token = credential.get_token(resource.rstrip("/") + "/.default")
        digest = hashlib.sha256(token.token.encode()).hexdigest()
        print(json.dumps({"resource": resource, "sha256": digest, "expiresOn": token.expires_on * 1000}))
except Exception as error:  # noqa: BLE001 - the test reads the message
    print("error: " + str(error).splitlines()[0])
    sys.exit(1)
