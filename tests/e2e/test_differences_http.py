"""The README's "Deliberate differences from InvenTree" hold (a sample of them)."""
import requests


def test_unchecked_part_and_server_information(admin):
    batch = admin.post(f"{admin.base}/api/generate/batch-code/", json={"part": 987654},
                       timeout=10)
    assert batch.status_code == 201 and batch.json() == {"batch_code": ""}
    serial = admin.post(f"{admin.base}/api/generate/serial-number/",
                        json={"part": 987654, "quantity": 2}, timeout=10)
    assert serial.status_code == 201 and serial.json() == {"serial_number": "1,2"}
    version = admin.get(f"{admin.base}/api/version/", timeout=10).json()
    assert version["version"]["django"] is None
    root = admin.get(f"{admin.base}/api/", timeout=10).json()
    assert (root["worker_running"], root["debug_mode"]) == (False, False)
    assert admin.get(f"{admin.base}/api/license/", timeout=10).json()["frontend"] == []


def test_answers_where_inventree_fails(admin):
    assert admin.get(f"{admin.base}/api/flags/?limit=1", timeout=10).json()[1]["key"] == "NEXT_GEN"
    assert admin.delete(f"{admin.base}/api/user/tokens/", timeout=10).status_code == 405
    gone = admin.post(f"{admin.base}/api/no-such-thing/", json={}, timeout=10)
    assert gone.status_code == 404 and gone.json()["detail"] == "API endpoint not found"
    assert requests.get(f"{admin.base}/api/notifications/readall/",
                        timeout=10).status_code == 401
