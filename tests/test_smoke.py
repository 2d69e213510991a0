def test_healthz_reports_ok_with_valid_scripts(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json
    assert response.json["ok"] is True
