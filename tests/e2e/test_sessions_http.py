"""Browser sessions with CSRF, and the magic login link by real SMTP on loopback."""
import re
import time

import requests

from tests.e2e.conftest import ADMIN, eventually


def login(stack, username=ADMIN[0], password=ADMIN[1]) -> requests.Session:
    browser = requests.Session()
    r = browser.post(f"{stack.url}/api/auth/login/", json={"username": username,
                                                          "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["key"].startswith("inv-")
    assert {"sessionid", "csrftoken"} <= set(browser.cookies.keys())
    return browser


def state(browser, stack, key):
    model = browser.get(f"{stack.url}/api/contenttype/model/stockitem/", timeout=10).json()["pk"]
    return {"key": key, "name": f"session {key}", "label": "S", "logical_key": 10,
            "model": model, "reference_status": "StockStatus"}


def test_login_errors(stack):
    r = requests.post(f"{stack.url}/api/auth/login/", json={"username": "admin"}, timeout=10)
    assert r.status_code == 400 and r.json() == {"password": ["This field is required."]}
    r = requests.post(f"{stack.url}/api/auth/login/", json={"username": "admin",
                                                            "password": "nope"}, timeout=10)
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert requests.get(f"{stack.url}/api/auth/login/", timeout=10).status_code == 405


def test_session_reads_writes_with_csrf_and_logout(stack):
    browser = login(stack)
    assert browser.get(f"{stack.url}/api/user/me/", timeout=10).json()["username"] == "admin"
    assert browser.get(f"{stack.url}/api/auth/user/", timeout=10).json()["username"] == "admin"
    url = f"{stack.url}/api/generic/status/custom/"
    r = browser.post(url, json=state(browser, stack, 91), timeout=10)
    assert r.status_code == 403 and r.json() == {"detail": "CSRF Failed: CSRF token missing."}
    r = browser.post(url, json=state(browser, stack, 91), headers={"X-CSRFToken": "short"},
                     timeout=10)
    assert "incorrect length" in r.json()["detail"]
    csrf = browser.cookies["csrftoken"]
    r = browser.post(url, json=state(browser, stack, 91),
                     headers={"X-CSRFToken": csrf, "Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 403 and r.json()["detail"] == (
        "CSRF Failed: Origin checking failed - http://evil.example does not match any "
        "trusted origins.")
    r = browser.post(url, json=state(browser, stack, 91), headers={"X-CSRFToken": csrf},
                     timeout=10)
    assert r.status_code == 201, r.text
    r = browser.post(f"{stack.url}/api/auth/logout/", headers={"X-CSRFToken": csrf}, timeout=10)
    assert r.json() == {"detail": "Successfully logged out."}
    session_id = r.request.headers["Cookie"].split("sessionid=")[1].split(";")[0]
    assert eventually(lambda: requests.get(f"{stack.url}/api/user/me/", timeout=10,
                                           cookies={"sessionid": session_id}).status_code == 401)


def login_mails(smtp):
    return [m for m in smtp.messages() if m["Subject"] == "[InvenTree] Log in to the app"]


def test_magic_login_link(stack, smtp):
    before = len(login_mails(smtp))
    r = requests.post(f"{stack.url}/api/email/generate/", json={"email": "admin@example.com"},
                      headers={"Host": "evil.example"}, timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}  # and no mail (below)
    r = requests.post(f"{stack.url}/api/email/generate/", json={"email": "nobody@example.com"},
                      timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = requests.post(f"{stack.url}/api/email/generate/", json={"email": "admin@example.com"},
                      timeout=10)
    assert r.json() == {"status": "ok"}  # the same answer: nothing revealed
    deadline = time.monotonic() + 10
    while len(login_mails(smtp)) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # a second mail (to nobody@) would have arrived by now
    messages = login_mails(smtp)
    assert len(messages) == before + 1  # only for the address that exists, from a known host
    mail = messages[-1]
    assert "evil.example" not in mail.get_payload(decode=True).decode()
    assert mail["Subject"] == "[InvenTree] Log in to the app" and mail["To"] == "admin@example.com"
    link = re.search(r"(http\S+/api/email/login/\?sesame=\S+)", mail.get_payload(decode=True).decode()).group(1)
    assert link.startswith(f"{stack.url}/api/email/login/")
    browser = requests.Session()
    r = browser.get(link, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and "sessionid" in browser.cookies
    assert browser.get(f"{stack.url}/api/user/me/", timeout=10).json()["username"] == "admin"
    again = requests.get(link, allow_redirects=False, timeout=10)
    assert again.status_code == 403  # a link works once


def test_ui_preference(stack):
    browser = requests.Session()
    url = f"{stack.url}/api/web/ui_preference/"
    assert browser.get(url, timeout=10).json() == {"preferred_method": "cui", "pui": False,
                                                    "cui": True}
    assert browser.put(url, json={"preferred_method": "pui"}, timeout=10).json()["pui"] is True
    assert browser.get(url, timeout=10).json()["preferred_method"] == "pui"
    bad = browser.put(url, json={"preferred_method": "xyz"}, timeout=10)
    assert bad.status_code == 400
    assert bad.json() == {"preferred_method": ['"xyz" is not a valid choice.']}
    assert browser.post(url, json={}, timeout=10).status_code == 405
    assert browser.patch(url, json={}, timeout=10).status_code == 405


def test_password_change_over_a_session(stack, make_user):
    user = make_user("changer")
    browser = login(stack, *user.credentials)
    csrf = {"X-CSRFToken": browser.cookies["csrftoken"]}
    r = browser.post(f"{stack.url}/api/auth/password/change/", headers=csrf, timeout=10,
                     json={"old_password": "wrong", "new_password1": "Another-pass-31",
                           "new_password2": "Another-pass-31"})
    assert r.status_code == 400 and "old_password" in r.json()
    r = browser.post(f"{stack.url}/api/auth/password/change/", headers=csrf, timeout=10,
                     json={"old_password": user.credentials[1],
                           "new_password1": "Another-pass-31", "new_password2": "Another-pass-31"})
    assert r.status_code == 200 and r.json() == {"detail": "New password has been saved."}
    assert browser.get(f"{stack.url}/api/user/me/", timeout=10).status_code == 200  # still in
    assert requests.get(f"{stack.url}/api/user/me/", auth=("changer", "Another-pass-31"),
                        timeout=10).status_code == 200
    r = browser.patch(f"{stack.url}/api/auth/user/", headers=csrf, timeout=10,
                      json={"first_name": "Chang", "email": "ignored@example.com"})
    assert r.status_code == 200 and r.json()["first_name"] == "Chang" and r.json()["email"] == ""


def test_welcome_mail_for_users_created_through_the_api(admin, smtp):
    def welcomes():  # other tests' mail may arrive at any time, in any order
        return [m for m in smtp.messages() if m["To"] == "new@example.com"]

    assert welcomes() == []
    r = admin.post(f"{admin.base}/api/user/", timeout=10, json={
        "username": "welcomed", "first_name": "", "last_name": "", "email": "new@example.com"})
    assert r.status_code == 201
    deadline = time.monotonic() + 10
    while not welcomes() and time.monotonic() < deadline:
        time.sleep(0.1)
    [mail] = welcomes()
    assert mail["Subject"] == "Welcome to InvenTree"
    assert "Your account has been created." in mail.get_payload(decode=True).decode()


def test_failed_logins_reach_the_audit_log(stack, admin):
    requests.post(f"{stack.url}/api/auth/login/", json={"username": "nosuchuser",
                                                        "password": "wrong-pass"}, timeout=10)
    deadline = time.monotonic() + 10
    events = []
    while not events and time.monotonic() < deadline:
        events = admin.get(f"{admin.base}/api/events/?type=login.failed&actor=nosuchuser",
                           timeout=10).json()["results"]
        time.sleep(0.1)
    assert events and events[0]["payload"] == {"username": "nosuchuser", "address": "127.0.0.1"}


def test_password_change_ends_other_sessions_and_tokens_on_request(stack, make_user):
    user = make_user("twobrowsers")
    here, there = login(stack, *user.credentials), login(stack, *user.credentials)
    csrf = {"X-CSRFToken": here.cookies["csrftoken"]}
    password = user.credentials[1]
    for new, revoke in (("Second-pass-41", False), ("Third-pass-42", True)):
        r = here.post(f"{stack.url}/api/auth/password/change/", headers=csrf, timeout=10,
                      json={"old_password": password, "new_password1": new,
                            "new_password2": new, "revoke_tokens": revoke})
        assert r.status_code == 200, r.text
        password = new
        assert here.get(f"{stack.url}/api/user/me/", timeout=10).status_code == 200
        assert eventually(
            lambda: there.get(f"{stack.url}/api/user/me/", timeout=10).status_code == 401)
        if revoke:
            assert eventually(
                lambda: user.get(f"{stack.url}/api/user/me/", timeout=10).status_code == 401)
        else:  # tokens stay unless asked
            assert user.get(f"{stack.url}/api/user/me/", timeout=10).status_code == 200
    r = here.post(f"{stack.url}/api/auth/password/change/", headers=csrf, timeout=10,
                  json={"old_password": password, "new_password1": "Fourth-pass-43",
                        "new_password2": "Fourth-pass-43", "revoke_tokens": "perhaps"})
    assert r.status_code == 400 and r.json() == {"revoke_tokens": ["Must be a valid boolean."]}


def test_login_throttle_is_per_name_and_address(stack, make_user):
    """A stranger's failures (more than LOGIN_THROTTLE_ATTEMPTS, 50 on this stack) lock that
    stranger out, through the login endpoint and basic auth alike, not the user."""
    user = make_user("lockme")
    name, password = user.credentials
    stranger, owner = {"X-Forwarded-For": "203.0.113.50"}, {"X-Forwarded-For": "198.51.100.20"}
    for i in range(50):
        if i % 2:
            r = requests.post(f"{stack.url}/api/auth/login/", headers=stranger, timeout=10,
                              json={"username": name, "password": f"guess-{i}"})
            assert r.status_code == 400
        else:
            r = requests.get(f"{stack.url}/api/user/me/", headers=stranger, timeout=10,
                             auth=(name, f"guess-{i}"))
            assert r.status_code == 401
    r = requests.post(f"{stack.url}/api/auth/login/", headers=stranger, timeout=10,
                      json={"username": name, "password": password})
    assert r.status_code == 429 and r.json()["detail"].startswith(
        "Too many failed login attempts. Try again in ")
    assert requests.get(f"{stack.url}/api/user/me/", headers=stranger, auth=user.credentials,
                        timeout=10).status_code == 429
    r = requests.post(f"{stack.url}/api/auth/login/", headers=owner, timeout=10,
                      json={"username": name, "password": password})
    assert r.status_code == 200, r.text
    assert requests.get(f"{stack.url}/api/user/me/", headers=owner, auth=user.credentials,
                        timeout=10).status_code == 200


def test_login_csrf(stack):
    """A browser's cross-site login (another site's form) is refused; same-origin and
    non-browser logins (no Origin, no Referer) work."""
    body = {"username": ADMIN[0], "password": ADMIN[1]}
    for headers, detail in (
            ({"Origin": "http://evil.example"}, "CSRF Failed: Origin checking failed - "
             "http://evil.example does not match any trusted origins."),
            ({"Origin": "null"}, "CSRF Failed: Origin checking failed - null does not match "
             "any trusted origins."),
            ({"Referer": "http://evil.example/form.html"}, "CSRF Failed: Referer checking "
             "failed - http://evil.example/form.html does not match any trusted origins.")):
        browser = requests.Session()
        r = browser.post(f"{stack.url}/api/auth/login/", data=body, headers=headers, timeout=10)
        assert r.status_code == 403 and r.json() == {"detail": detail}
        assert "sessionid" not in browser.cookies
    browser = requests.Session()
    r = browser.post(f"{stack.url}/api/auth/login/", json=body, timeout=10,
                     headers={"Origin": stack.url, "Referer": f"{stack.url}/platform/"})
    assert r.status_code == 200 and "sessionid" in browser.cookies
    login(stack)


def secure_flags(response) -> dict:
    """{cookie name: whether it is marked Secure}"""
    flags = {}
    for cookie in response.raw.headers.getlist("Set-Cookie"):
        name, *attributes = [part.strip().lower() for part in cookie.split(";")]
        flags[name.split("=")[0]] = "secure" in attributes
    return flags


def test_secure_cookies_behind_a_proxy_that_says_https(stack):
    body = {"username": ADMIN[0], "password": ADMIN[1]}
    plain = requests.post(f"{stack.url}/api/auth/login/", json=body, timeout=10)
    assert secure_flags(plain) == {"sessionid": False, "csrftoken": False}
    proxied = requests.post(f"{stack.url}/api/auth/login/", json=body, timeout=10,
                            headers={"X-Forwarded-Proto": "https"})  # from loopback: trusted
    assert secure_flags(proxied) == {"sessionid": True, "csrftoken": True}
    r = requests.put(f"{stack.url}/api/web/ui_preference/", json={"preferred_method": "pui"},
                     headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert secure_flags(r) == {"ui_preference": True}


def test_forwarded_proto_from_an_untrusted_peer_is_ignored(stack):
    """A gateway trusting only 10.0.0.0/8 as proxies, asked from loopback."""
    import subprocess
    import sys

    from tests.e2e.conftest import free_port
    bind = f"127.0.0.1:{free_port()}"
    env = {**stack.env, "GATEWAY_BIND": bind, "GATEWAY_WORKERS": "1",
           "GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gateway/gunicorn_conf.py",
                             "gateway.wsgi:app"], env=env, cwd=stack.env["PYTHONPATH"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://{bind}/api/", timeout=5)
                break
            except requests.RequestException:  # not listening or not answering yet
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        r = requests.put(f"http://{bind}/api/web/ui_preference/", timeout=10,
                         json={"preferred_method": "pui"}, headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 200 and secure_flags(r) == {"ui_preference": False}
    finally:
        proc.terminate()
        proc.wait(60)  # gunicorn's graceful stop (10 s for its workers), slower under load
