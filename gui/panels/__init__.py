"""The main window's areas: fleet, training, inference, forecast, compare."""
