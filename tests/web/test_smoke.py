"""Signing in leads to the user's work; pages answer in Chinese by default."""

from __future__ import annotations

from decisionflow.roles import Role


def test_sign_in_then_my_work_in_chinese(client, auth):
    """A clerk signs in with the real form and lands on 我的待办."""
    response = auth.login(Role.STAFF)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/work")
    page = client.get("/work").get_data(as_text=True)
    assert "我的待办" in page


def test_wrong_password_is_refused_and_the_username_kept(client):
    """A wrong password gets a clear message and the username stays in the form."""
    from tests.web.conftest import csrf_token

    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": "staff_a", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "用户名或密码错误" in page
    assert 'value="staff_a"' in page
