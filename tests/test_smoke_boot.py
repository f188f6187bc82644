from tests.conftest import page


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert page(response).h1.get_text(strip=True).startswith("Sign in")


def test_dashboard_for_a_signed_in_practitioner(client, login_as):
    login_as("practitioner")
    response = client.get("/")
    assert response.status_code == 200
    assert "Signed in as" in response.get_data(as_text=True)
