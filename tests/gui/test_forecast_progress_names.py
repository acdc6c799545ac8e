"""The Forecast's progress names chips as the views do: it read "supply: order 4 (ascend-910b2)"."""

from gui.panels.forecast_common import compute_forecast


def test_progress_messages_name_chips_not_ids(window):
    panel = window.panel("forecast")
    request = panel._request()
    seen = []
    compute_forecast(request, progress=lambda f, m="": seen.append(m))
    supply = [m for m in seen if m.startswith("Supply: order")]
    assert supply, seen
    assert not any(cid in m for m in seen for cid in request.chips), seen
    assert any("Ascend 910B2" in m for m in supply), supply
