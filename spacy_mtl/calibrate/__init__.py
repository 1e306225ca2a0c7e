"""Calibration of a trained pipeline's confidences on held-out data."""
