"""Authentication: the IAM token endpoint and what the pod accepts (rest.md §5, soap §6.2)."""
import base64
import time

import requests

from fusion_helpers import CA_TYPES, FSCM

SCOPE = "urn:opc:resource:fa:instanceid=100000001urn:opc:resource:consumer::all"


def _token(url, client_id="mlc-sandbox", secret=None, scope=SCOPE, grant="client_credentials"):
    from sandbox.fusion import FusionSandboxSettings
    secret = secret or FusionSandboxSettings().client_secret
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return requests.post(f"{url}/oauth2/v1/token", data={"grant_type": grant, "scope": scope},
                         headers={"Authorization": f"Basic {basic}"}, timeout=5)


def test_client_credentials_grant_returns_a_bearer_token(fusion):
    # given the configured client, when it asks for a token with the pod's scope
    resp = _token(fusion.url)
    # then it gets a JWT-looking bearer token with the configured lifetime
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"].count(".") == 2


def test_token_with_wrong_client_secret_is_invalid_client(fusion):
    resp = _token(fusion.url, secret="wrong")
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_token_with_unknown_client_id_is_invalid_client(fusion):
    resp = _token(fusion.url, client_id="someone-else")
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_token_with_wrong_scope_is_invalid_scope(fusion):
    resp = _token(fusion.url, scope="urn:opc:resource:consumer::all")
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_scope"


def test_token_with_other_grant_type_is_refused(fusion):
    resp = _token(fusion.url, grant="password")
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"


def test_bearer_token_opens_rest_and_soap(fusion):
    # given a fresh token
    token = _token(fusion.url).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    # when it is used on REST and SOAP, then both accept it
    resp = requests.get(f"{fusion.url}{FSCM}/receivablesInvoices", headers=bearer, timeout=5)
    assert resp.status_code == 200
    soap = fusion.soap("/crmService/CustomerAccountService",
                       "<typ:findCustomerAccount><typ:findCriteria/></typ:findCustomerAccount>",
                       auth=False, headers=bearer)
    assert soap.status_code == 200


def test_rest_without_credentials_is_401(fusion):
    resp = requests.get(f"{fusion.url}{FSCM}/receivablesInvoices", timeout=5)
    assert resp.status_code == 401


def test_rest_with_unknown_bearer_or_wrong_password_is_401(fusion):
    resp = requests.get(f"{fusion.url}{FSCM}/receivablesInvoices",
                        headers={"Authorization": "Bearer not-a-token"}, timeout=5)
    assert resp.status_code == 401
    resp = requests.get(f"{fusion.url}{FSCM}/receivablesInvoices",
                        auth=(fusion.settings.basic_username, "wrong"), timeout=5)
    assert resp.status_code == 401


def test_basic_auth_with_configured_user_is_accepted(fusion):
    resp = fusion.rest("GET", f"{FSCM}/receivablesInvoices")
    assert resp.status_code == 200


def test_expired_token_is_refused(make_fusion):
    # given a pod whose tokens live one second
    fusion = make_fusion(token_ttl_seconds=1)
    token = _token(fusion.url).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{fusion.url}{FSCM}/receivablesInvoices", headers=headers,
                        timeout=5).status_code == 200
    # when the lifetime has passed, then the same token is 401
    time.sleep(1.2)
    assert requests.get(f"{fusion.url}{FSCM}/receivablesInvoices", headers=headers,
                        timeout=5).status_code == 401


def test_soap_without_credentials_is_401(fusion):
    resp = fusion.soap("/crmService/CustomerAccountService",
                       "<typ:findCustomerAccount><typ:findCriteria/></typ:findCustomerAccount>",
                       auth=False)
    assert resp.status_code == 401


def test_soap_accepts_wsse_username_token(fusion):
    s = fusion.settings
    envelope = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:typ="{CA_TYPES}"><soapenv:Header>'
        '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
        f"<wsse:UsernameToken><wsse:Username>{s.basic_username}</wsse:Username>"
        f"<wsse:Password>{s.basic_password}</wsse:Password></wsse:UsernameToken></wsse:Security>"
        "</soapenv:Header><soapenv:Body><typ:findCustomerAccount/></soapenv:Body></soapenv:Envelope>")
    resp = requests.post(f"{fusion.url}/crmService/CustomerAccountService", data=envelope,
                         headers={"Content-Type": "text/xml"}, timeout=5)
    assert resp.status_code == 200, resp.text
