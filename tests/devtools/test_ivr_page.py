"""The admin page that shows each line's IVR scripts as diagrams."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markupsafe import escape

from hotline.db import db
from hotline.ivr.check import check_directory
from hotline.operators.models import Role
from tests import factories

PASSWORD = "correct horse battery"
SHIPPED = Path(__file__).resolve().parents[2] / "ivr_scripts"


@pytest.fixture
def sign_in(app, client):
    """Create an operator with `role` and sign the test client in as them."""

    def _sign_in(role: Role, username: str | None = None):
        username = username or role.value
        with app.app_context():
            factories.make_operator(db.session, username, role=role, password=PASSWORD)
            db.session.commit()
        response = client.post("/console/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302
        return client

    return _sign_in


def test_admin_sees_every_served_script_as_a_diagram(app, sign_in):
    client = sign_in(Role.ADMIN)
    response = client.get("/console/dev/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    scripts = app.extensions["hotline.ivr_scripts"].scripts
    assert len(scripts) >= 3
    assert page.count("<svg ") == len(scripts)
    for (line, language), script in scripts.items():
        assert f'id="script-{line}-{language}"' in page
        assert f"/console/dev/ivr/{line}.{language}.svg" in page
        for node_id in script.nodes:
            assert f'data-node="{node_id}"' in page
    # The line's default language (Mandarin) comes first.
    assert page.index('id="script-main-zh-CN"') < page.index('id="script-main-en-US"')
    # Language switches jump to the other script's diagram on the same page.
    assert 'href="#script-main-yue-HK"' in page
    assert "长者服务热线 (main, +861012345678)" in page
    assert "flask --app hotline ivr check" in page
    assert "所有脚本都通过了检查" in page
    assert 'href="/console/dev/"' in page, "the console navigation links to the page"


def test_page_speaks_english_to_an_english_admin(app, sign_in):
    client = sign_in(Role.ADMIN)
    client.post("/console/lang/en", data={"next": "/console/dev/"})
    page = client.get("/console/dev/").get_data(as_text=True)
    assert "How to change a script" in page
    assert "= person, always" in page
    assert "Every script passed the checker." in page


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR])
def test_only_admins_may_open_the_page(sign_in, role):
    client = sign_in(role)
    assert client.get("/console/dev/").status_code == 403
    assert client.get("/console/dev/ivr/main.zh-CN.svg").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/console/dev/")
    assert response.status_code == 302
    assert "/console/login" in response.headers["Location"]


def test_svg_endpoint_serves_one_diagram_as_an_image(sign_in):
    client = sign_in(Role.ADMIN)
    response = client.get("/console/dev/ivr/main.zh-CN.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    root = ET.fromstring(response.get_data())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    links = {a.get("href") for a in root.iter("{http://www.w3.org/2000/svg}a")}
    assert "/console/dev/ivr/main.yue-HK.svg" in links
    assert client.get("/console/dev/ivr/main.xx-XX.svg").status_code == 404
    assert client.get("/console/dev/ivr/nothing.svg").status_code == 404


def test_page_lists_the_checker_errors_escaped(app, sign_in, tmp_path):
    """A broken script is not served: the page says so and lists each error."""
    for path in SHIPPED.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "main.en-US.yaml":
            text = text.replace("next: travel_affairs", "next: <travel&affairs>")
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    scripts, errors = check_directory(tmp_path)
    assert errors and ("main", "en-US") not in scripts.scripts
    app.extensions["hotline.ivr_scripts"] = scripts
    app.extensions["hotline.ivr_errors"] = errors

    client = sign_in(Role.ADMIN)
    page = client.get("/console/dev/").get_data(as_text=True)
    assert "<travel&affairs>" not in page, "script text is escaped"
    assert "&lt;travel&amp;affairs&gt;" in page
    for error in errors:
        assert str(escape(error)) in page
    assert page.count("<svg ") == len(scripts.scripts)
    assert 'id="script-main-en-US"' not in page
    # The Mandarin diagram no longer links to the English one, which is not served.
    assert 'href="#script-main-en-US"' not in page
