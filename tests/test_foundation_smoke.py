def test_expert_logs_in_and_sees_the_panel_dashboard(world):
    client = world.client("expert")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "Panel of Experts on Yemen" in page.get_data(as_text=True)
