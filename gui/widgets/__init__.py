"""Reusable widgets: the plot panel, tables, banners."""
