"""Threshold triggers and the DPO trainer."""
